"""Batched inference through one traced call per network, for sampling and translation.

`keras.Model.predict` sets up a data adapter, an iterator and callbacks on every call: on
CPU that cost ~0.1-0.7 s, hundreds of times a batch-1 generator pass (benchmarks/benchmark.py
measures `generate` at batch 1 and 64). `run` calls the network in inference mode through a
`tf.function` cached per network, in chunks of `batch_size` like `predict`.
"""

import weakref

import numpy as np
import tensorflow as tf

# network -> its traced inference call; weak, so a dropped model frees its function.
_CALLS = weakref.WeakKeyDictionary()


def _traced_call(network):
    call = _CALLS.get(network)
    if call is None:
        # reduce_retracing: a second batch size makes the batch dimension dynamic, so the
        # chunked calls (full chunks and one remainder) trace at most twice.
        call = tf.function(lambda x: network(x, training=False), reduce_retracing=True)
        _CALLS[network] = call
    return call


def run(network, inputs, batch_size=256):
    """`network(inputs, training=False)` in chunks of `batch_size`, as numpy arrays.

    Args:
        network: keras.Model. Called in inference mode.
        inputs: array or tensor `[N, ...]`, or a list of them (models with several inputs),
            all with the same N.
        batch_size: int. Rows per call. Defaults to 256.

    Returns:
        numpy array `[N, ...]` (or a list of arrays for several outputs), like `predict`.
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    several = isinstance(inputs, (list, tuple))
    tensors = [tf.convert_to_tensor(x) for x in (inputs if several else [inputs])]
    n = int(tensors[0].shape[0])
    if n < 1:
        raise ValueError("no inputs to run: pass at least one row")
    call = _traced_call(network)
    chunks = []
    for start in range(0, n, batch_size):
        part = [x[start : start + batch_size] for x in tensors]
        out = call(part if several else part[0])
        chunks.append(tf.nest.map_structure(lambda t: t.numpy(), out))
    return tf.nest.map_structure(lambda *parts: np.concatenate(parts), *chunks)
