"""Tests for the IWAE negative log-likelihood estimate (`tfgen.evaluation.likelihood`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen.errors import TfgenUsageError
from tfgen.evaluation.likelihood import iwae_log_likelihood, iwae_nll
from tfgen.models.vae import VAE

tfd = tfp.distributions


class LinearGaussian:
    """p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I) on 2x2 "images": log p(x) is exact.

    `encode` returns the exact posterior, or (with `posterior_scale`) a mean-field Gaussian
    of the wrong width, so the IWAE bound is loose at K=1 and tight as K grows.
    """

    def __init__(self, posterior_scale=None):
        rng = np.random.default_rng(0)
        self.weight = rng.normal(size=(4, 2)).astype(np.float32)
        self.bias = rng.normal(size=4).astype(np.float32) * 0.1
        self.noise = 0.5
        self.posterior_scale = posterior_scale
        self.prior = tfd.MultivariateNormalDiag(loc=tf.zeros(2), scale_diag=tf.ones(2))

    def marginal(self):
        covariance = self.weight @ self.weight.T + self.noise**2 * np.eye(4, dtype=np.float32)
        return tfd.MultivariateNormalTriL(self.bias, tf.linalg.cholesky(covariance))

    def encode(self, images):
        x = tf.reshape(images, [-1, 4]) - self.bias
        precision = self.weight.T @ self.weight / self.noise**2 + np.eye(2, dtype=np.float32)
        covariance = np.linalg.inv(precision).astype(np.float32)
        loc = tf.matmul(x, self.weight / self.noise**2) @ covariance
        if self.posterior_scale is None:
            return tfd.MultivariateNormalTriL(loc, np.linalg.cholesky(covariance))
        scale = tf.fill(tf.shape(loc), self.posterior_scale)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def decode(self, z):
        loc = tf.reshape(tf.matmul(z, self.weight, transpose_b=True) + self.bias, [-1, 2, 2, 1])
        return tfd.Independent(tfd.Normal(loc, self.noise), reinterpreted_batch_ndims=3)


def linear_gaussian_images(n=40):
    model = LinearGaussian()
    x = model.marginal().sample(n, seed=tf.constant([4, 2])).numpy()
    return x.reshape(n, 2, 2, 1), -model.marginal().log_prob(x).numpy()


def test_exact_posterior_gives_the_exact_log_likelihood_at_k1():
    images, true_nll = linear_gaussian_images()
    # With q = p(z|x) every weight equals p(x): no bound gap, for any K.
    estimate = -iwae_log_likelihood(LinearGaussian(), images, k=1, batch_size=16)
    np.testing.assert_allclose(estimate, true_nll, rtol=1e-4)
    assert np.isclose(iwae_nll(LinearGaussian(), images, k=7), true_nll.mean(), rtol=1e-4)


def test_bound_tightens_with_k_and_converges_to_the_true_nll():
    images, true_nll = linear_gaussian_images()
    model = LinearGaussian(posterior_scale=2.0)  # a posterior far too wide
    gap = {
        k: iwae_nll(model, images, k=k, k_batch=500) - float(true_nll.mean())
        for k in (1, 10, 100, 2000)
    }
    assert gap[1] > 10.0  # the K=1 bound is loose ...
    assert gap[1] > gap[10] > gap[100]
    assert abs(gap[2000]) < 0.05  # ... and K=2000 is nearly exact (up to sampling noise)


@pytest.fixture(scope="module")
def vae():
    return VAE(latent_dim=4, width=4, seed=1)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    # Blobs of ink rather than uniform noise, so binarization leaves structure to model.
    grid = np.linspace(-1, 1, 28)
    centres = rng.uniform(-0.5, 0.5, (12, 2))
    d2 = (grid[None, :, None] - centres[:, 0, None, None]) ** 2 + (
        grid[None, None, :] - centres[:, 1, None, None]
    ) ** 2
    return (2.0 * np.exp(-d2 / 0.1) - 1.0)[..., None].astype(np.float32)


@pytest.mark.parametrize("likelihood", ["bernoulli", "logistic"])
def test_k1_equals_the_one_sample_elbo_with_the_same_noise(images, likelihood):
    model = VAE(latent_dim=4, width=4, likelihood=likelihood, seed=1)
    estimate = iwae_log_likelihood(model, images, k=1, batch_size=len(images), seed=5)
    elbo = model.elbo(images, seed=5, analytic_kl=False).numpy()
    np.testing.assert_allclose(estimate, elbo, rtol=1e-5)


def test_k1_equals_the_analytic_elbo_in_expectation(vae, images):
    # Same seeds give the same binarization, so only the KL estimate differs.
    differences = np.concatenate(
        [
            iwae_log_likelihood(vae, images, k=1, batch_size=len(images), seed=seed)
            - vae.elbo(images, seed=seed).numpy()
            for seed in range(20)
        ]
    )
    standard_error = differences.std(ddof=1) / np.sqrt(len(differences))
    assert abs(differences.mean()) < 4 * standard_error
    assert standard_error < 0.1


def test_vae_estimate_does_not_increase_with_k(vae, images):
    nll = {
        k: np.mean([iwae_nll(vae, images, k=k, k_batch=50, seed=s) for s in range(3)])
        for k in (1, 10, 100)
    }
    assert nll[1] > nll[10] > nll[100]


def test_batching_over_images_keeps_each_batch_estimate(vae, images):
    whole = iwae_log_likelihood(vae, images, k=20, batch_size=5, k_batch=7, seed=3)
    first = iwae_log_likelihood(vae, images[:5], k=20, batch_size=5, k_batch=7, seed=3)
    assert whole.shape == (12,) and np.all(np.isfinite(whole))
    np.testing.assert_allclose(whole[:5], first, rtol=1e-6)
    again = iwae_log_likelihood(vae, images, k=20, batch_size=5, k_batch=7, seed=3)
    np.testing.assert_array_equal(whole, again)
    other_seed = iwae_log_likelihood(vae, images, k=20, batch_size=5, k_batch=7, seed=4)
    assert not np.array_equal(whole, other_seed)  # new binarization and new latents


def test_model_without_a_likelihood_is_refused(images):
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(784)])
    with pytest.raises(TfgenUsageError, match="Sequential has no likelihood.*encode"):
        iwae_nll(generator, images)


def test_bad_arguments_are_refused(vae, images):
    with pytest.raises(TfgenUsageError, match="k, batch_size and k_batch must be positive"):
        iwae_nll(vae, images, k=0)
    with pytest.raises(TfgenUsageError, match="got uint8"):
        iwae_nll(vae, np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(TfgenUsageError, match="non-empty batch of images"):
        iwae_nll(vae, np.zeros((0, 28, 28, 1), np.float32))
    with pytest.raises(TfgenUsageError, match=r"expected images of shape \(batch, 28, 28, 1\)"):
        iwae_nll(vae, np.zeros((2, 32, 32, 1), np.float32), k=2)
