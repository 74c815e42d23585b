"""
Title: Gradient descent by hand (article section 4.3, "梯度下降的应用")
Author: tfgen contributors
Date created: 2026/11/23
Last modified: 2026/12/06
Description: The article's `loss(y_true, y_pred)` and `update_parameters(...)` applied by
    hand to a GAN discriminator on MNIST, checked against `keras.optimizers.SGD`.
Accelerator: None (seconds on a CPU)

## Introduction

Section 4.3 of the article sketches, in TensorFlow 1, a `loss(y_true, y_pred)` and an
`update_parameters(parameters, learning_rate, gradients)`, then "compute the gradients" and
"update the parameters" in a session. Section 3.3 gives the rule:

    parameter = parameter - learning_rate * gradient

Here `tf.GradientTape` takes the gradients of a section 3.2 loss with respect to a GAN
discriminator's variables, the rule is applied by hand for a few steps, and the same steps
with `keras.optimizers.SGD` must end with the same parameters.

    python examples/article_4_3_gradient_descent.py [--loss least_squares] [--data-dir DIR]

`--quick` (3 steps) is what the tests run.
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from tfgen import data, losses
from tfgen.networks import dcgan as dcgan_networks

"""
## Settings

Section 3.2's losses on the discriminator's logits, with labels 1 (real) and 0 (fake); the
Wasserstein critic uses +1 and -1. Each has its generator/discriminator pair in
`tfgen.losses`, named as below.
"""

LOSSES = ("least_squares", "cross_entropy", "wasserstein")
TFGEN_LOSS = {
    "least_squares": "least_squares",  # 3.2.1, LSGAN
    "cross_entropy": "minimax",  # 3.2.3, the original GAN
    "wasserstein": "wasserstein",  # 3.2.2, WGAN (tfgen.models.WGANGP adds the penalty)
}

parser = argparse.ArgumentParser(description="Article section 4.3: gradient descent by hand.")
parser.add_argument("--loss", default="least_squares", choices=LOSSES)
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--learning-rate", type=float, default=0.002)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
parser.add_argument("--quick", action="store_true", help="3 steps (tests)")
args = parser.parse_args()
steps = 3 if args.quick else args.steps

"""
## The article's `loss(y_true, y_pred)`

The discriminator's loss averaged over the batch: mean squared error to the labels (3.2.1),
the sigmoid cross-entropy (3.2.3), or the critic's negated score difference (3.2.2).
"""


def loss(y_true, y_pred, kind="least_squares"):
    y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
    y_pred = tf.reshape(y_pred, [-1])
    if kind == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(y_pred - y_true))
    if kind == "cross_entropy":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred))
    if kind == "wasserstein":
        return tf.reduce_mean(-y_true * y_pred)
    raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")


def labels(batch_size, kind):
    fake_label = -1.0 if kind == "wasserstein" else 0.0
    return tf.concat([tf.ones(batch_size), tf.fill([batch_size], fake_label)], axis=0)


"""
## The article's `update_parameters(parameters, learning_rate, gradients)`

Section 3.3's rule, one line.
"""


def update_parameters(parameters, learning_rate, gradients):
    return [p - learning_rate * g for p, g in zip(parameters, gradients)]


"""
## Two copies of one discriminator

The DCGAN discriminator with layer normalisation (the WGAN-GP critic's): it keeps no batch
statistics, so the only state that changes is what gradient descent changes. One copy is
trained by hand, the other with Keras' SGD, from the same weights.
"""

keras.utils.set_random_seed(args.seed)
by_hand = dcgan_networks.build_discriminator(width=16, normalization="layer")
with_sgd = keras.models.clone_model(by_hand)
with_sgd.set_weights(by_hand.get_weights())
initial = by_hand.get_weights()

"""
## Prepare the data

`steps` batches, each of real MNIST digits and of images from an untrained generator, made
once so that both copies see exactly the same numbers.
"""


def make_batches(steps, batch_size, seed, data_dir=None):
    generator = dcgan_networks.build_generator(width=8)
    found = []
    real_batches = data.load("mnist", batch_size=batch_size, seed=seed, data_dir=data_dir)
    for step, real in enumerate(real_batches):
        if step == steps:
            break
        z = tf.random.stateless_normal([batch_size, 64], seed=[seed, step])
        found.append((real, generator(z, training=False)))
    return found


batches = make_batches(steps, args.batch_size, args.seed, args.data_dir)

"""
## The article's loss against `tfgen.losses`

The article's loss is half of tfgen's: tfgen's per-example loss adds a real and a fake term
(one pair per example), the article's averages over all 2 x batch images.
"""


def check_against_tfgen_losses(disc, kind, real, fake):
    real_logits, fake_logits = disc(real), disc(fake)
    ours = float(loss(labels(len(real), kind), tf.concat([real_logits, fake_logits], axis=0), kind))
    _, discriminator_loss = losses.get(TFGEN_LOSS[kind])
    theirs = float(tf.reduce_mean(discriminator_loss(real_logits, fake_logits)))
    np.testing.assert_allclose(ours, 0.5 * theirs, rtol=1e-5)
    return ours, theirs


ours, theirs = check_against_tfgen_losses(by_hand, args.loss, *batches[0])
print(f"loss(y_true, y_pred) = {ours:.6f} = 0.5 x tfgen.losses ({theirs:.6f})")

"""
## Gradient descent by hand

Per batch: the loss under a `tf.GradientTape`, its gradients with respect to the trainable
variables, the article's update, and the new values assigned back.
"""


def hand_written_descent(disc, batches, learning_rate, kind):
    history = []
    for real, fake in batches:
        images = tf.concat([real, fake], axis=0)
        y_true = labels(len(real), kind)
        with tf.GradientTape() as tape:
            value = loss(y_true, disc(images, training=True), kind)
        gradients = tape.gradient(value, disc.trainable_variables)
        new_values = update_parameters(disc.trainable_variables, learning_rate, gradients)
        for variable, new in zip(disc.trainable_variables, new_values):
            variable.assign(new)
        history.append(float(value))
    return history


"""
## The same steps with Keras' SGD
"""


def keras_sgd(disc, batches, learning_rate, kind):
    optimizer = keras.optimizers.SGD(learning_rate)
    for real, fake in batches:
        images = tf.concat([real, fake], axis=0)
        y_true = labels(len(real), kind)
        with tf.GradientTape() as tape:
            value = loss(y_true, disc(images, training=True), kind)
        optimizer.apply_gradients(
            zip(tape.gradient(value, disc.trainable_variables), disc.trainable_variables)
        )


losses_by_step = hand_written_descent(by_hand, batches, args.learning_rate, args.loss)
keras_sgd(with_sgd, batches, args.learning_rate, args.loss)
print("losses by step:", " ".join(f"{v:.4f}" for v in losses_by_step))

"""
## Both ways agree

The parameters moved, and the two copies hold the same values up to float32 round-off.
"""

max_difference = max(
    float(np.max(np.abs(a - b))) for a, b in zip(by_hand.get_weights(), with_sgd.get_weights())
)
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(by_hand.get_weights(), initial))
for a, b in zip(by_hand.get_weights(), with_sgd.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
print(
    f"after {steps} steps the hand-written rule and keras.optimizers.SGD agree: largest "
    f"parameter difference {max_difference:.2e} (largest change from the start {moved:.2e})"
)
