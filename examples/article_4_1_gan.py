"""Article section 4.1 ("GAN的实现"), in TF2/Keras with tfgen: generator(z), discriminator(image)
and train(...), trained on MNIST with `model.fit`; saves a grid of samples.

    TFGEN_DATA_DIR=../shared/data python scripts/article_4_1_gan.py [--steps 600] [--loss least_squares]

The article's TF1 skeleton builds both networks with `reuse=` variable scopes and runs a
`tf.Session` loop that trains the generator, then the discriminator. In TF2 the networks are
Keras models (their variables belong to them, so no `reuse`), and the alternating updates
live in `tfgen.models.DCGAN.train_step`, which `model.fit` runs once per batch.
"""

import argparse
import pathlib

from tfgen import data, io, losses
from tfgen.models import DCGAN
from tfgen.networks import dcgan as dcgan_networks

# Section 3.2 names the losses; each is a generator/discriminator pair in tfgen.losses:
#   3.2.1 least squares (MSE to the labels 1 and 0)  -> "least_squares" (LSGAN)
#   3.2.2 Wasserstein                                -> "wasserstein" (use WGAN-GP for it:
#         scripts/article_4_3_gradient_descent.py --loss wasserstein shows the critic loss)
#   3.2.3 cross-entropy                              -> "minimax" / "non_saturating"
ARTICLE_LOSSES = ("non_saturating", "minimax", "least_squares")


def generator(latent_dim=64, image_shape=(28, 28, 1), width=32):
    """Article `generator(z)`: a network from latent vectors z to images in [-1, 1].

    Returns the Keras model; `generator(...)(z)` gives `generated_image`.
    """
    return dcgan_networks.build_generator(image_shape, latent_dim, width)


def discriminator(image_shape=(28, 28, 1), width=64):
    """Article `discriminator(image)`: a network from images to one real/fake logit each.

    Returns the Keras model; `discriminator(...)(image)` gives `discriminator_output`.
    """
    return dcgan_networks.build_discriminator(image_shape, width)


def train(gen, disc, dataset, steps, loss="non_saturating", seed=0, verbose=2):
    """Article `train(...)`: each step updates the discriminator, then the generator.

    `DCGAN.train_step` draws z, computes `losses.<loss>_discriminator_loss` on real and
    generated images and `losses.<loss>_generator_loss` on the generated ones, and applies
    each gradient with its network's own Adam optimizer.
    """
    model = DCGAN(generator=gen, discriminator=disc, seed=seed)
    model.compile(loss=loss)
    history = model.fit(
        dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=verbose, shuffle=False
    )
    return model, history.history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    parser.add_argument("--loss", default="non_saturating", choices=ARTICLE_LOSSES)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/article_4_1/samples.png")
    parser.add_argument("--quick", action="store_true", help="3 steps, small networks (tests)")
    args = parser.parse_args(argv)
    width_g, width_d = (8, 8) if args.quick else (32, 64)
    steps = 3 if args.quick else args.steps

    # Real images: float32 in [-1, 1], the range of the generator's tanh output.
    dataset = data.load("mnist", batch_size=args.batch_size, seed=args.seed)
    gen = generator(latent_dim=64, width=width_g)
    disc = discriminator(width=width_d)
    print(f"generator: {gen.count_params():,} parameters; discriminator: {disc.count_params():,}")
    print(f"loss pair: {[f.__name__ for f in losses.get(args.loss)]}")
    model, history = train(gen, disc, dataset, steps, args.loss, args.seed, 0 if args.quick else 2)
    print(
        f"after {steps} steps: d_loss {history['d_loss'][-1]:.3f}, g_loss "
        f"{history['g_loss'][-1]:.3f}, D(real) {history['d_real'][-1]:.3f}, "
        f"D(fake) {history['d_fake'][-1]:.3f}"
    )
    path = io.save_images(model.generate(64, seed=args.seed), pathlib.Path(args.out))
    print(f"wrote {path}")
    return {"model": model, "history": history, "samples": pathlib.Path(path)}


if __name__ == "__main__":
    main()
