"""
Title: A GAN on MNIST (article section 4.1, "GAN的实现")
Author: tfgen contributors
Date created: 2026/11/23
Last modified: 2026/12/06
Description: The article's `generator(z)`, `discriminator(image)` and `train(...)` as Keras
    models and `model.fit`, trained on MNIST digits, ending in a grid of samples.
Accelerator: None (about 2 minutes on 2 CPU cores at the defaults)

## Introduction

Section 4.1 of the article sketches a GAN in TensorFlow 1: a `generator(z, reuse=None)`, a
`discriminator(image, reuse=None)` and a `train(sess, ...)` that trains the generator, then
the discriminator, in a `tf.Session` loop. Section 3.1.1 gives the steps: initialise both
networks, train the generator, train the discriminator, repeat.

In TF2 and Keras the networks are `keras.Model`s that own their variables, so there is no
`reuse=` and no session. The alternating updates live in `tfgen.models.DCGAN.train_step`,
which `model.fit` runs once per batch.

    python examples/article_4_1_gan.py [--steps 600] [--loss least_squares] [--data-dir DIR]

`--quick` (3 steps, small networks) is what the tests run.
"""

import argparse
import pathlib

from tfgen import data, io, losses
from tfgen.models import DCGAN
from tfgen.networks import dcgan as dcgan_networks

"""
## Settings

Section 3.2 names the losses; each is a generator/discriminator pair in `tfgen.losses`:

- 3.2.1 least squares (MSE to the labels 1 and 0): `"least_squares"` (LSGAN);
- 3.2.2 Wasserstein: `"wasserstein"`, which needs a gradient penalty (`tfgen.models.WGANGP`);
  `examples/article_4_3_gradient_descent.py --loss wasserstein` shows its critic loss;
- 3.2.3 cross-entropy: `"minimax"`, or `"non_saturating"`, its usual generator form.
"""

ARTICLE_LOSSES = ("non_saturating", "minimax", "least_squares")

parser = argparse.ArgumentParser(description="Article section 4.1: a GAN on MNIST.")
parser.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
parser.add_argument("--loss", default="non_saturating", choices=ARTICLE_LOSSES)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
parser.add_argument("--out", default="runs/article_4_1/samples.png")
parser.add_argument("--quick", action="store_true", help="3 steps, small networks (tests)")
args = parser.parse_args()
width_g, width_d = (8, 8) if args.quick else (32, 64)
steps = 3 if args.quick else args.steps

"""
## Prepare the data

MNIST digits as float32 in [-1, 1], the range of the generator's `tanh` output, shuffled and
batched. A local IDX copy in `--data-dir` (or `$TFGEN_DATA_DIR`) is read before any download.
"""

dataset = data.load("mnist", batch_size=args.batch_size, seed=args.seed, data_dir=args.data_dir)

"""
## The generator: the article's `generator(z)`

A network from latent vectors z to images: a dense projection, then transposed convolutions
that double the image side with BatchNormalization between them, and `tanh` at the end.
`generator(...)(z)` gives the article's `generated_image`.
"""


def generator(latent_dim=64, image_shape=(28, 28, 1), width=32):
    return dcgan_networks.build_generator(image_shape, latent_dim, width)


"""
## The discriminator: the article's `discriminator(image)`

A network from images to one real/fake logit each: strided convolutions with LeakyReLU.
`discriminator(...)(image)` gives the article's `discriminator_output`.
"""


def discriminator(image_shape=(28, 28, 1), width=64):
    return dcgan_networks.build_discriminator(image_shape, width)


gen = generator(latent_dim=64, width=width_g)
disc = discriminator(width=width_d)
print(f"generator: {gen.count_params():,} parameters; discriminator: {disc.count_params():,}")
print(f"loss pair: {[f.__name__ for f in losses.get(args.loss)]}")

"""
## Training: the article's `train(...)`

`DCGAN.train_step` does section 3.1.1's two updates on each batch: it draws z, computes
`losses.<loss>_discriminator_loss` on real and generated images and
`losses.<loss>_generator_loss` on the generated ones, and applies each gradient with its own
network's Adam optimizer. `model.fit` is the article's "iterate until the step budget".
"""


def train(gen, disc, dataset, steps, loss="non_saturating", seed=0, verbose=2):
    model = DCGAN(generator=gen, discriminator=disc, seed=seed)
    model.compile(loss=loss)
    history = model.fit(
        dataset.repeat(), steps_per_epoch=steps, epochs=1, verbose=verbose, shuffle=False
    )
    return model, history.history


model, history = train(gen, disc, dataset, steps, args.loss, args.seed, 0 if args.quick else 2)
print(
    f"after {steps} steps: d_loss {history['d_loss'][-1]:.3f}, g_loss "
    f"{history['g_loss'][-1]:.3f}, D(real) {history['d_real'][-1]:.3f}, "
    f"D(fake) {history['d_fake'][-1]:.3f}"
)

"""
## Samples

64 images from fixed latent vectors (`seed`), saved as one PNG grid. At the default 600
steps the digits are recognisable but rough; the zoo's `dcgan_mnist` trains for 8,000.
"""

samples = pathlib.Path(io.save_images(model.generate(64, seed=args.seed), args.out))
print(f"wrote {samples}")
