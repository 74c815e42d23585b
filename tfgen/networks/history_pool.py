"""A history pool of past generated images for the discriminator (Shrivastava et al. 2017).

CycleGAN trains each discriminator on fakes drawn half from this pool, which damps the
oscillation between the players; the pool is a Keras layer so checkpoints carry it.
"""

import keras
import tensorflow as tf
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.registry import serializable


@serializable
class HistoryPool(layers.Layer):
    """A buffer of past generated images for the discriminator (Shrivastava et al. 2017).

    Until the pool is full, each image is stored and returned as it is. Once full, each
    image is, with probability 0.5, swapped for a random stored image (the old one is
    returned, the new one takes its slot), else returned as it is. Training the discriminator
    on older fakes too damps the oscillation between the two players.

    The pool lives in non-trainable variables that are synchronized on read: under
    `tf.distribute` every replica keeps a pool of its own fakes and updates it with its own
    draws; checkpoints save the first replica's.

    Args:
        image_shape: tuple. `(H, W, C)` of the pooled images.
        size: int. Images kept; 0 disables the pool (images pass through). Defaults to 50.
    """

    def __init__(self, image_shape, size=50, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.size = int(size)
        if self.size < 0:
            raise TfgenUsageError(f"pool size must be >= 0 (0 turns the pool off), got {size}")
        # keras.Variable rather than add_weight: add_weight cannot set synchronization.
        with keras.name_scope(self.name, caller=self):
            self.images = keras.Variable(
                "zeros",
                shape=(max(self.size, 1), *self.image_shape),
                dtype="float32",
                trainable=False,
                synchronization="on_read",
                aggregation="only_first_replica",
                name="images",
            )
            self.count = keras.Variable(
                "zeros",
                shape=(),
                dtype="int32",
                trainable=False,
                synchronization="on_read",
                aggregation="only_first_replica",
                name="count",
            )
        self.built = True

    def query(self, images, uniforms):
        """Returns images for the discriminator and updates the pool.

        Args:
            images: tensor [B, H, W, C]. The newest generated images.
            uniforms: tensor [B, 2] of uniform [0, 1) draws: column 0 decides the swap
                (< 0.5 swaps), column 1 picks the slot.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        if self.size == 0:
            return images
        size = self.size
        uniforms = tf.convert_to_tensor(uniforms, tf.float32)
        batch = tf.shape(images)[0]

        # One image at a time, so an image stored earlier in the batch can be returned
        # later in the same batch, exactly as the sequential algorithm does.
        def body(i, pool, count, returned):
            image = images[i]
            full = count >= size
            swap = uniforms[i, 0] < 0.5
            random_slot = tf.minimum(tf.cast(uniforms[i, 1] * size, tf.int32), size - 1)
            slot = tf.where(full, random_slot, count)
            old = pool[slot]
            returned = returned.write(i, tf.where(full & swap, old, image))
            stored = tf.where(tf.logical_not(full) | swap, image, old)
            pool = tf.tensor_scatter_nd_update(pool, [[slot]], stored[None])
            return i + 1, pool, tf.minimum(count + 1, size), returned

        _, pool, count, returned = tf.while_loop(
            lambda i, *_: i < batch,
            body,
            (
                tf.constant(0),
                tf.convert_to_tensor(self.images.value),
                tf.convert_to_tensor(self.count.value),
                tf.TensorArray(tf.float32, size=batch, element_shape=images.shape[1:]),
            ),
        )
        self.images.assign(pool)
        self.count.assign(count)
        return returned.stack()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "size": self.size}
