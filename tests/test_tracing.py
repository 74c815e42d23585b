"""`fit` traces each model's `train_step` once: no retracing from lazily built optimizer slots."""

import keras
import numpy as np
import pytest

from tfgen.models import DCGAN, VAE


def traced_steps(model, images, steps=3):
    """Fits `steps` batches and returns how many times `train_step` was traced."""
    traces = []
    step = model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    model.train_step = counted
    model.fit(images, batch_size=len(images) // steps, epochs=1, verbose=0, shuffle=False)
    return len(traces)


@pytest.mark.parametrize(
    "build",
    [
        lambda: DCGAN(image_shape=(28, 28, 1), latent_dim=8, g_width=8, d_width=8),
        lambda: VAE(image_shape=(28, 28, 1), latent_dim=4, width=8),
    ],
    ids=["dcgan", "vae"],
)
def test_train_step_is_traced_once(build):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (12, 28, 28, 1)).astype(np.float32)
    assert traced_steps(model, images) == 1
