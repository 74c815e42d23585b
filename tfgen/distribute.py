"""tf.distribute helpers: loss reduction over the global batch and per-replica noise.

Gradients from replicas are summed by the optimizer, so each replica's loss is
sum(per-example losses) / global batch size: the mean over the global batch, not the replica's.
"""

import contextlib
import shutil
import tempfile

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
    (benchmarks/benchmark.py), and several logical CPU devices, where XLA fails outright
    (variables placed on another device).
    """
    try:
        devices = tf.distribute.get_strategy().extended.worker_devices
    except RuntimeError:  # the default strategy: the first logical device does the work
        accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
        devices = [d.name for d in accelerators[:1]] or ["CPU:0"]
    return not any("CPU" in d.upper() for d in devices)


JIT_CHOICES = ("auto", "on", "off")


def resolve_jit(jit="auto"):
    """`--jit` to a `jit_compile` value: "auto" (see `xla_supported`), True or False.

    Call inside the strategy scope. Forcing XLA on over several logical CPU devices is refused:
    XLA fails there (variables placed on another device), and failing before training is
    clearer than failing in the first step.
    """
    from tfgen.errors import TfgenUsageError

    if jit not in JIT_CHOICES:
        raise TfgenUsageError(f"unknown --jit {jit!r}; choose one of {', '.join(JIT_CHOICES)}")
    if jit == "auto":
        return "auto"
    if jit == "on":
        try:
            devices = tf.distribute.get_strategy().extended.worker_devices
        except RuntimeError:  # the default strategy: one device
            devices = []
        if sum("CPU" in d.upper() for d in devices) > 1:
            raise TfgenUsageError(
                f"--jit on fails with several CPU devices ({len(devices)} replicas): XLA cannot "
                "compile across logical CPU devices; use --jit auto or off, or one device"
            )
    return jit == "on"


# ---------------------------------------------------------------------- multi-worker
def is_multi_worker(strategy=None):
    """Whether `strategy` (default: the current one) spans several worker processes."""
    strategy = strategy or tf.distribute.get_strategy()
    extended = strategy.extended
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def is_chief(strategy=None):
    """Whether this process writes the run's outputs: task `chief`, else worker 0.

    True outside multi-worker runs.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multi_worker(strategy) or resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and int(resolver.task_id or 0) == 0 and not has_chief


@contextlib.contextmanager
def output_dir(out, strategy=None):
    """The folder this worker writes to: `out` for the chief, else a temporary folder.

    Every worker of a multi-worker run saves (checkpoints, `model.save`, summaries take part
    in the same collective steps); only the chief's copy is kept. The others' temporary folder
    is removed when the block ends, whether it ends well or not.
    """
    if is_chief(strategy):
        yield out
        return
    scratch = tempfile.mkdtemp(prefix="tfgen-worker-")
    try:
        yield type(out)(scratch) if not isinstance(out, str) else scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def agree_on_step(step, checkpoint_dir, strategy=None):
    """The step every worker of a multi-worker run resumes at; `step` outside such runs.

    Each worker restores from the chief's checkpoint folder, which must be on a file system
    every worker sees. A worker that found a different step (no checkpoint at all, where the
    folder is local to the chief's host) would run a different number of collective steps
    and hang the others, so every worker compares the steps found (one all-gather) and all
    of them stop with the same message instead.
    """
    from tfgen.errors import TfgenUsageError

    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return int(step)
    local = strategy.run(lambda: tf.constant([int(step)], tf.int64))
    found = [int(s) for s in strategy.gather(local, axis=0).numpy()]
    # Gathered in replica order, a worker's local replicas together; keep one per worker.
    per_worker = found[:: max(1, len(strategy.extended.worker_devices))]
    if len(set(per_worker)) > 1:
        steps = ", ".join(f"worker {i}: {s}" for i, s in enumerate(per_worker))
        raise TfgenUsageError(
            f"the workers found different checkpoints in {checkpoint_dir} ({steps}; 0 = none): "
            "put the run folder on a file system every worker can read (the same path on "
            "each host), or delete it on the chief to start over"
        )
    return per_worker[0]


class NoDataPeek:
    """Mixin for tfgen's `keras.Model`s: `fit` under a strategy reads no batch to build them.

    Under a `tf.distribute` strategy Keras' TF trainer takes one batch from a throwaway
    iterator before each `fit` to build the model symbolically. tfgen's models are built
    when constructed and their optimizers in `compile`, so that build has nothing to do, but
    the extra iterator still advances a seeded `shuffle(reshuffle_each_iteration=True)`: a
    run resumed at step k (its pipeline starts with k skipped batches) would then see other
    batches than the uninterrupted run. An unbuilt model still gets Keras' build.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if all(layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def fit_logs(logs):
    """Logs of a `train_step`/`test_step`, shaped [1] in multi-worker runs.

    Keras 3's `fit` reduces them with `strategy.reduce(MEAN, axis=0)` under
    MultiWorkerMirroredStrategy, which fails on scalars (tensorflow#72388); the reduction gives
    scalars back, so History, TensorBoard and CSV logs still get floats. Elsewhere logs stay
    scalars.
    """
    if not is_multi_worker():
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


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
