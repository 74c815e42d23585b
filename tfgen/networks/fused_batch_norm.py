"""BatchNormalization whose training step is one fused TensorFlow op forward and one backward.

Keras 3 computes a training-mode BatchNorm from separate ops (two reductions for the moments,
rsqrt, scale, shift) and differentiates each; `FusedBatchNormV3` (oneDNN on CPU, cuDNN on GPU)
does the same arithmetic in one kernel each way. On this project's 2-core CPU a [64, 28, 28, 64]
BatchNorm's forward and backward took 18.8 ms as Keras ops and 9.0 ms fused
(`benchmarks/benchmark_batch_norm.py`), and BatchNorm was the largest cost of a DCGAN step after
the convolutions.
"""

import contextlib

import keras
import tensorflow as tf

from tfgen.registry import serializable

# cuDNN refuses a smaller epsilon, so TensorFlow's fused kernel does too.
_MIN_FUSED_EPSILON = 1.001e-5
_fused_enabled = True


@contextlib.contextmanager
def unfused():
    """Functions traced inside the block compute every `FusedBatchNormalization` with Keras'
    own ops: the same model on the stock path, for side-by-side speed and quality checks."""
    global _fused_enabled
    previous, _fused_enabled = _fused_enabled, False
    try:
        yield
    finally:
        _fused_enabled = previous


@serializable
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (same arguments, weights and results) with a fused
    training step.

    Only a training-mode call of a trainable layer takes the fused op, and only where it
    computes exactly what Keras does: channels on the last axis of a rank 2-4 input, no mask,
    no renormalization, an epsilon the fused kernel accepts, and one replica (a `synchronized`
    layer under a multi-replica strategy needs the cross-replica moments that Keras' own path
    all-reduces). Everything else, inference included (where Keras' per-channel scale and
    shift is already one multiply-add and converts to every TFLite mode), is the Keras layer's
    own code. The moving variance is updated with the biased batch variance, as Keras does
    (the fused op reports the unbiased one, which is converted back).
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fused_applies(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        shape = tf.shape(inputs)
        rank = inputs.shape.rank
        # bfloat16 goes into the kernel as it is: FusedBatchNormV3 takes it (T=bfloat16; the
        # statistics, scale and offset stay float32) on CPU and GPU, and oneDNN runs it natively,
        # 1.3-1.5x faster than casting to float32 around the float32 kernel, with the same
        # results to bfloat16 rounding (tests/test_bfloat16.py). float16 keeps the cast.
        x = inputs if inputs.dtype == tf.bfloat16 else tf.cast(inputs, "float32")
        if rank != 4:
            # [N, C] -> [N, 1, 1, C], [N, L, C] -> [N, 1, L, C]: same per-channel statistics.
            x = tf.reshape(x, tf.concat([shape[:1], [1] * (4 - rank), shape[1:]], axis=0))
        channels = self.moving_mean.shape[0]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True
        )[:3]
        count = tf.cast(tf.size(x) // channels, "float32")
        variance = unbiased_variance * (count - 1.0) / count
        momentum = self.momentum
        self.moving_mean.assign(
            tf.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            tf.cast(self.moving_variance, "float32") * momentum + variance * (1.0 - momentum)
        )
        if rank != 4:
            outputs = tf.reshape(outputs, shape)
        return tf.cast(outputs, self.compute_dtype)

    def _fused_applies(self, inputs, mask):
        if not _fused_enabled or keras.backend.backend() != "tensorflow":
            return False
        if mask is not None or self.renorm:
            return False
        if inputs.shape.rank not in (2, 3, 4) or self.axis not in (-1, inputs.shape.rank - 1):
            return False
        if self.epsilon < _MIN_FUSED_EPSILON:
            return False
        if self.synchronized and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return False
        return True
