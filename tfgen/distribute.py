"""tf.distribute helpers: loss reduction over the global batch and per-replica noise.

Gradients from replicas are summed by the optimizer, so each replica's loss is
sum(per-example losses) / global batch size: the mean over the global batch, not the replica's.
"""

import tensorflow as tf


def num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return tf.constant(0, tf.int32)
    return tf.cast(ctx.replica_id_in_sync_group, tf.int32)


def global_batch_size(local_batch_size):
    return local_batch_size * num_replicas()


def global_mean(per_example, local_batch_size=None):
    """Mean of per-example values over the global batch (this replica's share of it).

    Summed across replicas (as the optimizer sums gradients) this gives the global mean.
    """
    per_example = tf.convert_to_tensor(per_example)
    if per_example.shape.rank and per_example.shape.rank > 1:
        per_example = tf.reduce_mean(per_example, axis=list(range(1, per_example.shape.rank)))
    if local_batch_size is None:
        local_batch_size = tf.shape(per_example)[0]
    total = tf.cast(local_batch_size * num_replicas(), per_example.dtype)
    return tf.reduce_sum(per_example) / total


def _replica_slice(draw, local_batch_size, dims, seed, step, salt, dtype):
    shape = tf.concat([[local_batch_size * num_replicas()], tf.constant(dims, tf.int32)], axis=0)
    stateless_seed = tf.stack([tf.cast(seed, tf.int64) * 7919 + salt, tf.cast(step, tf.int64)])
    noise = draw(shape, seed=stateless_seed, dtype=dtype)
    start = replica_id() * local_batch_size
    return noise[start : start + local_batch_size]


def replica_normal(local_batch_size, dims, seed, step, salt=0, dtype=tf.float32):
    """Standard normal noise for this replica's rows of the global batch.

    Draws the whole global batch from a stateless seed (seed, step, salt) and keeps this
    replica's slice: each replica gets different noise, one device with the same global batch
    gets exactly the same noise, and the run repeats from one seed.
    """
    return _replica_slice(
        tf.random.stateless_normal, local_batch_size, dims, seed, step, salt, dtype
    )


def replica_uniform(local_batch_size, dims, seed, step, salt=0, dtype=tf.float32):
    """Uniform [0, 1) noise for this replica's rows, drawn like `replica_normal`."""
    return _replica_slice(
        tf.random.stateless_uniform, local_batch_size, dims, seed, step, salt, dtype
    )


def xla_supported():
    """Whether "auto" should turn XLA (`jit_compile=True`) on under the current strategy.

    On: GPUs and TPUs. Off: CPU, where XLA's convolutions ran 2-3x slower than oneDNN's here
    (scripts/benchmark.py), and several logical CPU devices, where XLA fails outright
    (variables placed on another device).
    """
    try:
        devices = tf.distribute.get_strategy().extended.worker_devices
    except RuntimeError:  # the default strategy: the first logical device does the work
        accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
        devices = [d.name for d in accelerators[:1]] or ["CPU:0"]
    return not any("CPU" in d.upper() for d in devices)


STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")


def get_strategy(name="auto", devices=None):
    """Resolves a strategy name to a `tf.distribute.Strategy`.

    Args:
        name: str. `auto` (TPU if one resolves, MirroredStrategy over several GPUs, else the
            default strategy), `one`, `mirrored` (all GPUs, or `devices`), `multiworker`
            (reads `TF_CONFIG`) or `tpu`.
        devices: list of str or None. Devices for `mirrored`.
    """
    from tfgen.errors import TfgenUsageError

    if name not in STRATEGIES:
        raise TfgenUsageError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name in ("auto", "tpu"):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, RuntimeError, tf.errors.NotFoundError) as e:
            if name == "tpu":
                raise TfgenUsageError(
                    f"no TPU found ({e}); run on a TPU VM or choose --strategy auto"
                ) from e
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.MultiWorkerMirroredStrategy()
