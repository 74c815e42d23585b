"""A generator input layer that turns Gaussian noise into a mixture of separated Gaussians.

A generator fed one Gaussian must map a connected latent space onto data made of disconnected
classes, so some latent mass lands between them: on MNIST, about a fifth of a DCGAN's samples
are digits half-way between two classes. With a mixture latent (Gurumurthy et al. 2017,
DeLiGAN; Khayatkhoei et al. 2018) each component can cover one mode and no latent mass lies
between the components.
"""

import keras
import numpy as np

from tfgen.registry import serializable


@serializable
class GaussianMixtureLatent(keras.layers.Layer):
    """`z ~ N(0, I)` -> `means[k] + scale * z`, with `k = argmax(z[:components])`.

    The component is read off the noise itself, so the model's input stays a standard normal
    vector (samplers, exports and interpolation need no change) and `k` is uniform over the
    components (the largest of `components` i.i.d. normals is equally likely to be any of them).
    The means are fixed, drawn once from `N(0, I)` with `seed`: not trained, saved with the
    model. One-hot times the means is a matmul, which every TFLite mode converts (after int8
    quantization two near-equal coordinates can tie and average their means).

    Args:
        components: int. Number of mixture components, at most the latent size.
        scale: float. Spread of each component around its mean. The means are ~sqrt(2 * dim)
            apart: at 1.0 (default) a 64-d output lies ~8 from its own mean and ~12 from the
            next; smaller scales separate more but cost diversity (on MNIST recall fell from
            0.83 at 1.0 to 0.06 at 0.3: each component collapsed to one prototype).
        seed: int. Seed of the means.
    """

    def __init__(self, components=10, scale=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.components = int(components)
        self.scale = float(scale)
        self.seed = int(seed)
        if self.components < 2:
            raise ValueError(f"a mixture needs at least 2 components, got {components}")
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if self.components > dim:
            raise ValueError(
                f"components ({self.components}) must be at most the latent size ({dim}): the "
                "component is the argmax of the first `components` coordinates"
            )
        means = np.random.default_rng(self.seed).standard_normal((self.components, dim))
        self.means = self.add_weight(
            shape=(self.components, dim),
            initializer=keras.initializers.Constant(means.astype("float32")),
            trainable=False,
            name="means",
        )

    def call(self, z):
        # One-hot of the argmax as a comparison with the max: ties have probability zero, and
        # unlike `ops.one_hot` (a BitwiseAnd inside) it converts to TFLite builtins.
        head = z[:, : self.components]
        top = keras.ops.max(head, axis=-1, keepdims=True)
        one_hot = keras.ops.cast(keras.ops.equal(head, top), z.dtype)
        return keras.ops.matmul(one_hot, keras.ops.cast(self.means, z.dtype)) + self.scale * z

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "components": self.components,
            "scale": self.scale,
            "seed": self.seed,
        }
