"""Article section 4.2 ("VAE的实现"), in TF2/Keras with tfgen: encoder(x) -> z, decoder(z) and
train(...), trained on MNIST with `model.fit`; prints the ELBO terms on test digits and saves
reconstructions and samples.

    TFGEN_DATA_DIR=../shared/data python scripts/article_4_2_vae.py [--steps 800]

The article trains "the encoder" and "the decoder" in turn. A VAE trains both at once on one
objective, the evidence lower bound: ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)), with
z = mu + sigma * eps (the reparameterization trick) so gradients reach the encoder.
`tfgen.models.vae.VAE.train_step` maximizes it; `model.fit` runs that step per batch.
"""

import argparse
import pathlib

import numpy as np
import tensorflow as tf

from tfgen import data, io
from tfgen.models.vae import VAE


def encoder(model, x, seed=0):
    """Article `encoder(x)` -> z: samples z from the posterior q(z | x) (a tfd distribution)."""
    return model.encode(x).sample(seed=tf.constant([seed, 0], tf.int32))


def decoder(model, z):
    """Article `decoder(z)` -> reconstructed image: the mean of p(x | z), mapped to [-1, 1].

    With the Bernoulli likelihood the mean is a pixel's probability of being on.
    """
    return 2.0 * model.decode(z).mean() - 1.0


def train(model, dataset, steps, learning_rate=1e-3, verbose=2):
    """Article `train(...)`: one optimizer step on -ELBO per batch, encoder and decoder together.

    Section 3.2.3's cross-entropy is the reconstruction term here: with a Bernoulli p(x | z),
    -log p(x | z) is the binary cross-entropy between the (binarized) image and the decoder's
    pixel probabilities.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = model.fit(
        dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=verbose, shuffle=False
    )
    return history.history


def elbo_terms(model, images, seed=0):
    """Mean reconstruction log-likelihood, KL and ELBO (nats per image) on `images`."""
    images = tf.convert_to_tensor(images, tf.float32)
    uniform = tf.random.stateless_uniform(images.shape, seed=[seed, 1])
    eps = tf.random.stateless_normal([images.shape[0], model.latent_dim], seed=[seed, 2])
    posterior = model.encode(images)
    z = posterior.loc + posterior.stddev() * eps
    targets = model.likelihood_targets(images, uniform)  # binarized pixels
    log_likelihood = model.decode(z).log_prob(targets)
    # The cross-entropy of 3.2.3, computed directly, is exactly -log p(x | z):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/article_4_2")
    parser.add_argument("--quick", action="store_true", help="3 steps, small networks (tests)")
    args = parser.parse_args(argv)
    steps = 3 if args.quick else args.steps
    out = pathlib.Path(args.out)

    dataset = data.load("mnist", batch_size=args.batch_size, seed=args.seed)
    local = data.load_arrays("mnist", "test")
    if local is None:
        raise SystemExit("MNIST not found: set TFGEN_DATA_DIR to the folder that holds mnist/")
    test_images, _ = local
    test = data.to_unit_range(test_images[:500]).numpy()
    model = VAE(latent_dim=args.latent_dim, width=8 if args.quick else 32, seed=args.seed)

    before = elbo_terms(model, test, args.seed)
    history = train(model, dataset, steps, verbose=0 if args.quick else 2)
    after = elbo_terms(model, test, args.seed)
    for name, terms in (("before training", before), (f"after {steps} steps", after)):
        print(
            f"{name:18s} ELBO {terms['elbo']:9.2f} = log p(x|z) "
            f"{terms['reconstruction_log_likelihood']:9.2f} - KL {terms['kl']:6.2f} "
            f"(binary cross-entropy {terms['binary_cross_entropy']:.2f}) nats per test digit"
        )

    # Reconstructions: the first row of each pair is the input, the second its reconstruction.
    x = test[:8]
    z = encoder(model, x, args.seed)
    pairs = np.concatenate([x, decoder(model, z).numpy()])
    recon_path = io.save_images(pairs, out / "reconstructions.png", columns=8)
    samples_path = io.save_images(model.generate(64, seed=args.seed), out / "samples.png")
    print(f"wrote {recon_path} and {samples_path}")
    return {"model": model, "history": history, "before": before, "after": after}


if __name__ == "__main__":
    main()
