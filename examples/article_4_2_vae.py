"""
Title: A VAE on MNIST (article section 4.2, "VAE的实现")
Author: tfgen contributors
Date created: 2026/11/23
Last modified: 2026/12/06
Description: The article's `encoder(x)`, `decoder(z)` and `train(...)` with a Keras VAE and
    `model.fit` on MNIST; prints the ELBO terms on test digits, saves reconstructions and samples.
Accelerator: None (about 2 minutes on 2 CPU cores at the defaults)

## Introduction

Section 4.2 of the article sketches a VAE in TensorFlow 1: `encoder(x, reuse=None)` returns
z, `decoder(z, reuse=None)` returns the reconstructed image, and `train(sess, ...)` trains
"the encoder", then "the decoder". A VAE in fact trains both at once, on one objective, the
evidence lower bound of section 3.1.2:

    ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)),

with z = mu + sigma * eps (the reparameterisation trick), so that gradients reach the
encoder through the sample. `tfgen.models.vae.VAE.train_step` maximises it and `model.fit`
runs that step once per batch.

    python examples/article_4_2_vae.py [--steps 800] [--data-dir DIR]

`--quick` (3 steps, small networks) is what the tests run.
"""

import argparse
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfgen import data, io
from tfgen.models.vae import VAE

"""
## Settings
"""

parser = argparse.ArgumentParser(description="Article section 4.2: a VAE on MNIST.")
parser.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--latent-dim", type=int, default=16)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
parser.add_argument("--out", default="runs/article_4_2")
parser.add_argument("--quick", action="store_true", help="3 steps, small networks (tests)")
args = parser.parse_args()
steps = 3 if args.quick else args.steps
out = pathlib.Path(args.out)

"""
## Prepare the data

Training digits as shuffled float32 batches in [-1, 1]; 500 test digits, held out, to
measure the ELBO on before and after training.
"""

dataset = data.load("mnist", batch_size=args.batch_size, seed=args.seed, data_dir=args.data_dir)
local = data.load_arrays("mnist", "test", data_dir_override=args.data_dir)
if local is None:
    raise SystemExit(
        "MNIST not found: pass --data-dir or set TFGEN_DATA_DIR to the folder that holds mnist/"
    )
test_images, _ = local
test = data.to_unit_range(test_images[:500]).numpy()

"""
## The model

A convolutional encoder to the mean and scale of q(z | x), and a decoder from z to the
pixel probabilities of a Bernoulli p(x | z).
"""

model = VAE(latent_dim=args.latent_dim, width=8 if args.quick else 32, seed=args.seed)

"""
## The encoder and the decoder: the article's `encoder(x)` and `decoder(z)`

`encoder` samples z from the posterior q(z | x), a distribution object the model returns.
`decoder` returns the mean of p(x | z) mapped to [-1, 1]; with the Bernoulli likelihood the
mean is each pixel's probability of being on.
"""


def encoder(model, x, seed=0):
    return model.encode(x).sample(seed=tf.constant([seed, 0], tf.int32))


def decoder(model, z):
    return 2.0 * model.decode(z).mean() - 1.0


"""
## The ELBO terms, and section 3.2.3's cross-entropy

On a batch of images: the mean reconstruction log-likelihood, the KL term and the ELBO, in
nats per image. With a Bernoulli p(x | z), -log p(x | z) is exactly the binary cross-entropy
between the (binarised) image and the decoder's pixel probabilities: the cross-entropy loss
of section 3.2.3, computed directly here to show it.
"""


def elbo_terms(model, images, seed=0):
    images = tf.convert_to_tensor(images, tf.float32)
    uniform = tf.random.stateless_uniform(images.shape, seed=[seed, 1])
    eps = tf.random.stateless_normal([images.shape[0], model.latent_dim], seed=[seed, 2])
    posterior = model.encode(images)
    z = posterior.loc + posterior.stddev() * eps
    targets = model.likelihood_targets(images, uniform)  # binarized pixels
    log_likelihood = model.decode(z).log_prob(targets)
    probs = tf.clip_by_value(model.decode(z).mean(), 1e-7, 1 - 1e-7)
    cross_entropy = -tf.reduce_sum(
        targets * tf.math.log(probs) + (1 - targets) * tf.math.log(1 - probs), axis=[1, 2, 3]
    )
    kl = model.kl_divergence(posterior, z)
    return {
        "reconstruction_log_likelihood": float(tf.reduce_mean(log_likelihood)),
        "binary_cross_entropy": float(tf.reduce_mean(cross_entropy)),
        "kl": float(tf.reduce_mean(kl)),
        "elbo": float(tf.reduce_mean(log_likelihood - kl)),
    }


before = elbo_terms(model, test, args.seed)

"""
## Training: the article's `train(...)`

One optimizer step on -ELBO per batch, for the encoder and the decoder together.
"""


def train(model, dataset, steps, learning_rate=1e-3, verbose=2):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = model.fit(
        dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=verbose, shuffle=False
    )
    return history.history


history = train(model, dataset, steps, verbose=0 if args.quick else 2)
after = elbo_terms(model, test, args.seed)
for name, terms in (("before training", before), (f"after {steps} steps", after)):
    print(
        f"{name:18s} ELBO {terms['elbo']:9.2f} = log p(x|z) "
        f"{terms['reconstruction_log_likelihood']:9.2f} - KL {terms['kl']:6.2f} "
        f"(binary cross-entropy {terms['binary_cross_entropy']:.2f}) nats per test digit"
    )

"""
## Reconstructions and samples

Eight test digits (first row) above their reconstructions (second row), then 64 samples
decoded from z drawn from the prior N(0, I).
"""

x = test[:8]
z = encoder(model, x, args.seed)
pairs = np.concatenate([x, decoder(model, z).numpy()])
recon_path = io.save_images(pairs, out / "reconstructions.png", columns=8)
samples_path = io.save_images(model.generate(64, seed=args.seed), out / "samples.png")
print(f"wrote {recon_path} and {samples_path}")
