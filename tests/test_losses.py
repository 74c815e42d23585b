"""GAN losses against hand-computed values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgen import losses
from tfgen.errors import TfgenUsageError

REAL = np.array([[2.0], [-1.0]], np.float32)
FAKE = np.array([[0.5], [-3.0]], np.float32)


def softplus(x):
    return math.log1p(math.exp(x))


def test_minimax_and_non_saturating_discriminator():
    expected = [softplus(-2.0) + softplus(0.5), softplus(1.0) + softplus(-3.0)]
    np.testing.assert_allclose(losses.minimax_discriminator_loss(REAL, FAKE), expected, rtol=1e-6)
    np.testing.assert_allclose(
        losses.non_saturating_discriminator_loss(REAL, FAKE), expected, rtol=1e-6
    )


def test_generator_losses():
    # minimax: log(1 - sigmoid(f)) = -softplus(f); non-saturating: -log sigmoid(f) = softplus(-f)
    np.testing.assert_allclose(
        losses.minimax_generator_loss(FAKE), [-softplus(0.5), -softplus(-3.0)], rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.non_saturating_generator_loss(FAKE), [softplus(-0.5), softplus(3.0)], rtol=1e-6
    )
    np.testing.assert_allclose(losses.least_squares_generator_loss(FAKE), [0.125, 8.0])
    np.testing.assert_allclose(losses.hinge_generator_loss(FAKE), [-0.5, 3.0])
    np.testing.assert_allclose(losses.wasserstein_generator_loss(FAKE), [-0.5, 3.0])


def test_least_squares_hinge_wasserstein_discriminator():
    np.testing.assert_allclose(
        losses.least_squares_discriminator_loss(REAL, FAKE),
        [0.5 * 1.0 + 0.5 * 0.25, 0.5 * 4.0 + 0.5 * 9.0],
    )
    np.testing.assert_allclose(losses.hinge_discriminator_loss(REAL, FAKE), [0.0 + 1.5, 2.0 + 0.0])
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss(REAL, FAKE), [-1.5, -2.0])


def test_patch_logits_are_averaged_per_example():
    real = np.stack([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 3.0)]).astype(np.float32)
    fake = np.zeros_like(real)
    # (D(x) - 1)^2 / 2 averaged over the patch: 0 for the first example, 2 for the second
    np.testing.assert_allclose(losses.least_squares_discriminator_loss(real, fake), [0.0, 2.0])


def test_discriminator_loss_is_minimal_for_a_perfect_discriminator():
    good = losses.non_saturating_discriminator_loss(tf.constant([[10.0]]), tf.constant([[-10.0]]))
    bad = losses.non_saturating_discriminator_loss(tf.constant([[-10.0]]), tf.constant([[10.0]]))
    assert float(good[0]) < 1e-3 < 19.0 < float(bad[0])


def test_get_rejects_unknown_names():
    assert losses.get("hinge") == (losses.hinge_generator_loss, losses.hinge_discriminator_loss)
    with pytest.raises(TfgenUsageError, match="unknown GAN loss 'nope'.*least_squares"):
        losses.get("nope")


def test_cycle_consistency_is_mean_absolute_error():
    x = np.zeros((2, 2, 2, 1), np.float32)
    y = np.concatenate([np.full((1, 2, 2, 1), 0.5), np.full((1, 2, 2, 1), -1.0)]).astype(np.float32)
    np.testing.assert_allclose(losses.cycle_consistency_loss(x, y), [0.5, 1.0])
