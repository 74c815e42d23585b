"""Test log-likelihood of latent-variable models by importance sampling (the IWAE bound).

Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2015
(https://arxiv.org/abs/1509.00519): log p(x) >= E[log (1/K) sum_k p(x, z_k) / q(z_k | x)].
"""

import logging
import math
import weakref

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import distribute
from tfgen.errors import TfgenUsageError
from tfgen.models.vae import SALT_BINARIZE, SALT_LATENT

tfd = tfp.distributions
logger = logging.getLogger(__name__)
# One traced function per model, so repeated estimates (k=1, 10, 1000) do not retrace.
_LOG_WEIGHT_FUNCTIONS = weakref.WeakKeyDictionary()


def _check_model(model):
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
        raise TfgenUsageError(
            f"{type(model).__name__} has no likelihood: the IWAE estimate needs a model with "
            "encode(images) -> q(z|x) and decode(z) -> p(x|z) distributions, such as "
            "tfgen.models.VAE (GANs define no p(x); compare them with FID/KID instead)"
        )


def _is_diagonal_gaussian(distribution):
    if isinstance(distribution, (tfd.MultivariateNormalDiag, tfd.Normal)):
        return True
    return isinstance(distribution, tfd.Independent) and isinstance(
        distribution.distribution, tfd.Normal
    )


def _prior(model, posterior):
    prior = getattr(model, "prior", None)
    if prior is not None:
        return prior
    latent_dim = posterior.event_shape[-1]
    return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim]), scale_diag=tf.ones([latent_dim]))


def _targets(model, images, seed, step):
    """Maps images to the likelihood's support; a Bernoulli model binarizes them (seeded)."""
    if not hasattr(model, "likelihood_targets"):
        return images
    image_dims = list(images.shape[1:])
    uniform = distribute.replica_uniform(
        tf.shape(images)[0], image_dims, seed, step, salt=SALT_BINARIZE
    )
    return model.likelihood_targets(images, uniform)


def _make_log_weights(model):
    if model in _LOG_WEIGHT_FUNCTIONS:
        return _LOG_WEIGHT_FUNCTIONS[model]
    # A weak reference: the cached function must not keep its (weakly keyed) model alive.
    model_ref = weakref.ref(model)

    @tf.function(reduce_retracing=True)
    def log_weights(images, targets, eps, sample_seed):
        """log p(x|z) + log p(z) - log q(z|x) for z of shape (k, batch, latent)."""
        model = model_ref()
        posterior = model.encode(images)
        if _is_diagonal_gaussian(posterior):
            # Explicit noise: K=1 uses exactly the noise of the model's own one-sample ELBO.
            z = posterior.mean() + posterior.stddev() * eps
        else:
            z = posterior.sample(tf.shape(eps)[0], seed=sample_seed)
        k, batch = tf.shape(z)[0], tf.shape(z)[1]
        z_flat = tf.reshape(z, tf.concat([[k * batch], tf.shape(z)[2:]], axis=0))
        tiled = tf.tile(targets, tf.concat([[k], tf.ones_like(tf.shape(targets)[1:])], axis=0))
        log_likelihood = tf.reshape(model.decode(z_flat).log_prob(tiled), [k, batch])
        return log_likelihood + _prior(model, posterior).log_prob(z) - posterior.log_prob(z)

    _LOG_WEIGHT_FUNCTIONS[model] = log_weights
    return log_weights


def iwae_log_likelihood(model, images, k=1000, batch_size=100, k_batch=100, seed=0):
    """Per-image IWAE estimates of log p(x) in nats (lower bounds, tighter as k grows).

    Args:
        model: a model with `encode(images)` -> q(z|x) and `decode(z)` -> p(x|z) tfd
            distributions (and optionally `prior` and `likelihood_targets`), e.g.
            `tfgen.models.VAE`.
        images: float array in [-1, 1] of shape `(n, height, width, channels)`.
        k: int. Importance samples per image. Defaults to 1000.
        batch_size: int. Images per pass. Defaults to 100.
        k_batch: int. Samples per pass; memory grows with `batch_size * k_batch` decoded
            images. Defaults to 100.
        seed: int. Seed of the binarization (Bernoulli models) and of the latent samples.
            For images in one batch and k=1 the noise equals `model.elbo(images, seed=seed)`.

    Returns:
        A float64 numpy array of shape `(n,)`.
    """
    _check_model(model)
    k, batch_size, k_batch = int(k), int(batch_size), int(k_batch)
    if k < 1 or batch_size < 1 or k_batch < 1:
        raise TfgenUsageError(
            f"k, batch_size and k_batch must be positive, got k={k}, batch_size={batch_size}, "
            f"k_batch={k_batch}"
        )
    images = np.asarray(images)
    if images.dtype == np.uint8:
        raise TfgenUsageError(
            "expected float images in [-1, 1], got uint8; scale them with "
            "tfgen.data.to_unit_range or load them with tfgen.data.load"
        )
    if images.ndim != 4 or len(images) == 0:
        raise TfgenUsageError(
            f"expected a non-empty batch of images (n, height, width, channels), "
            f"got shape {images.shape}"
        )
    images = images.astype(np.float32)
    log_weights = _make_log_weights(model)
    k_batch = min(k_batch, k)
    n_chunks = math.ceil(k / k_batch)
    latent_dim = int(model.encode(images[:1]).event_shape[-1])
    estimates = []
    for batch_index, start in enumerate(range(0, len(images), batch_size)):
        batch = tf.constant(images[start : start + batch_size])
        targets = _targets(model, batch, seed, batch_index)
        chunks = []
        for chunk in range(n_chunks):
            size = min(k_batch, k - chunk * k_batch)
            # One stream per (batch, chunk); chunk 0 of batch 0 uses step 0 like model.elbo.
            step = batch_index * n_chunks + chunk
            eps = distribute.replica_normal(
                size, [int(batch.shape[0]), latent_dim], seed, step, salt=SALT_LATENT
            )
            sample_seed = tf.constant([seed, step], tf.int32)
            chunks.append(log_weights(batch, targets, eps, sample_seed))
        weights = tf.cast(tf.concat(chunks, axis=0), tf.float64)
        estimates.append((tf.reduce_logsumexp(weights, axis=0) - math.log(k)).numpy())
        logger.info("IWAE k=%d: %d/%d images", k, start + len(batch), len(images))
    return np.concatenate(estimates)


def iwae_nll(model, images, k=1000, batch_size=100, k_batch=100, seed=0):
    """Mean negative log-likelihood in nats per image by the IWAE bound with `k` samples.

    An upper bound on the true NLL; k=1 gives the negative ELBO, and the bound tightens as k
    grows. Bernoulli models see the images dynamically binarized (seeded), the usual protocol
    for MNIST NLL figures. Arguments as in `iwae_log_likelihood`.

    Returns:
        A Python float.
    """
    return float(-np.mean(iwae_log_likelihood(model, images, k, batch_size, k_batch, seed)))
