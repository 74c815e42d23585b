"""A step checkpoint carries every piece of training state a resumed run needs.

The subprocess test in test_resume.py proves bit-identical resume for a plain DCGAN; this one
checks, in process and fast, that the state models add (the generator EMA, ADA's p, the
CycleGAN history pools) and both optimizers' counters survive a checkpoint into a fresh model.
"""

import numpy as np
import tensorflow as tf

from tfgen.models import DCGAN, CycleGAN
from tfgen.training.checkpoint import StepCheckpoint


def _round_trip(trained, fresh, tmp_path):
    checkpoint = StepCheckpoint(tmp_path / "checkpoints", steps_per_epoch=3)
    checkpoint.set_model(trained)
    checkpoint.save(3)
    assert StepCheckpoint(tmp_path / "checkpoints", steps_per_epoch=3).restore(fresh) == 3
    return fresh


def _assert_same_variables(a, b):
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)


def test_ema_ada_and_optimizer_state_survive_a_checkpoint(tmp_path):
    def build():
        model = DCGAN(latent_dim=8, g_width=8, d_width=8, ema=0.9, augment="ada")
        model.compile()
        return model

    trained = build()
    images = np.random.default_rng(0).uniform(-1, 1, (24, 28, 28, 1)).astype(np.float32)
    trained.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)
    trained.augmenter.p.assign(0.37)  # as if ADA had raised it: state that must travel
    p = float(np.asarray(trained.augmenter.p))
    assert int(trained.g_optimizer.iterations) == 3
    restored = _round_trip(trained, build(), tmp_path)
    assert float(np.asarray(restored.augmenter.p)) == p
    assert int(restored.g_optimizer.iterations) == int(restored.d_optimizer.iterations) == 3
    _assert_same_variables(trained.ema_generator, restored.ema_generator)
    _assert_same_variables(trained, restored)  # optimizers' slots included


def test_cyclegan_history_pools_survive_a_checkpoint(tmp_path):
    def build():
        model = CycleGAN(
            image_shape=(8, 8, 1), g_width=4, d_width=4, n_residual_blocks=1, pool_size=4
        )
        model.compile()
        return model

    trained = build()
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (6, 8, 8, 1)).astype(np.float32) for _ in range(2))
    trained.fit(tf.data.Dataset.from_tensor_slices((a, b)).batch(2), epochs=1, verbose=0)
    assert int(np.asarray(trained.pool_a.count)) > 0  # the pool holds fakes to carry over
    restored = _round_trip(trained, build(), tmp_path)
    for name in ("pool_a", "pool_b"):
        _assert_same_variables(getattr(trained, name), getattr(restored, name))
    _assert_same_variables(trained, restored)
