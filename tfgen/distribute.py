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
