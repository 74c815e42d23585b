"""Article section 4.3 ("梯度下降的应用"), in TF2: loss(y_true, y_pred) and
update_parameters(parameters, learning_rate, gradients), applied by hand to a GAN discriminator
on MNIST; then the same steps with `keras.optimizers.SGD` give the same parameters.

    TFGEN_DATA_DIR=../shared/data python scripts/article_4_3_gradient_descent.py [--loss least_squares]

Section 3.3's rule: parameter = parameter - learning_rate * gradient. `tf.GradientTape`
takes the gradients of the loss (section 3.2) with respect to the discriminator's variables;
the script asserts that plain SGD in Keras applies exactly that rule.
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from tfgen import data, losses
from tfgen.networks import dcgan as dcgan_networks

# Section 3.2's losses on the discriminator's logits, labels 1 (real) and 0 (fake); the
# Wasserstein critic uses labels +1 and -1.
LOSSES = ("least_squares", "cross_entropy", "wasserstein")
TFGEN_LOSS = {
    "least_squares": "least_squares",  # 3.2.1, LSGAN
    "cross_entropy": "minimax",  # 3.2.3, the original GAN
    "wasserstein": "wasserstein",  # 3.2.2, WGAN (tfgen.models.WGANGP adds the penalty)
}


def loss(y_true, y_pred, kind="least_squares"):
    """Article `loss(y_true, y_pred)`: the discriminator's loss averaged over the batch.

    Args:
        y_true: labels per image: 1 real / 0 fake (-1 fake for "wasserstein").
        y_pred: the discriminator's logits.
        kind: "least_squares" (3.2.1, mean squared error), "cross_entropy" (3.2.3) or
            "wasserstein" (3.2.2, the critic's negated score difference).
    """
    y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
    y_pred = tf.reshape(y_pred, [-1])
    if kind == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(y_pred - y_true))
    if kind == "cross_entropy":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred))
    if kind == "wasserstein":
        return tf.reduce_mean(-y_true * y_pred)
    raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")


def update_parameters(parameters, learning_rate, gradients):
    """Article `update_parameters`: parameter = parameter - learning_rate * gradient."""
    return [p - learning_rate * g for p, g in zip(parameters, gradients)]


def make_batches(steps, batch_size, seed):
    """`steps` batches of (real MNIST digits, images from an untrained generator)."""
    generator = dcgan_networks.build_generator(width=8)
    found = []
    for step, real in enumerate(data.load("mnist", batch_size=batch_size, seed=seed)):
        if step == steps:
            break
        z = tf.random.stateless_normal([batch_size, 64], seed=[seed, step])
        found.append((real, generator(z, training=False)))
    return found


def labels(batch_size, kind):
    fake_label = -1.0 if kind == "wasserstein" else 0.0
    return tf.concat([tf.ones(batch_size), tf.fill([batch_size], fake_label)], axis=0)


def hand_written_descent(disc, batches, learning_rate, kind):
    """One step of the article's rule on `disc` per batch; returns the losses."""
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


def keras_sgd(disc, batches, learning_rate, kind):
    """The same steps with `keras.optimizers.SGD` applying the gradients."""
    optimizer = keras.optimizers.SGD(learning_rate)
    for real, fake in batches:
        images = tf.concat([real, fake], axis=0)
        y_true = labels(len(real), kind)
        with tf.GradientTape() as tape:
            value = loss(y_true, disc(images, training=True), kind)
        optimizer.apply_gradients(
            zip(tape.gradient(value, disc.trainable_variables), disc.trainable_variables)
        )


def check_against_tfgen_losses(disc, kind, real, fake):
    """The article's loss is half tfgen's: tfgen's per-example loss adds a real and a fake
    term (one pair per example), the article's averages over all 2 x batch images."""
    real_logits, fake_logits = disc(real), disc(fake)
    ours = float(loss(labels(len(real), kind), tf.concat([real_logits, fake_logits], axis=0), kind))
    _, discriminator_loss = losses.get(TFGEN_LOSS[kind])
    theirs = float(tf.reduce_mean(discriminator_loss(real_logits, fake_logits)))
    np.testing.assert_allclose(ours, 0.5 * theirs, rtol=1e-5)
    return ours, theirs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", default="least_squares", choices=LOSSES)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 steps (tests)")
    args = parser.parse_args(argv)
    steps = 3 if args.quick else args.steps

    keras.utils.set_random_seed(args.seed)
    # Layer normalization (the WGAN-GP critic's): no batch statistics to keep in step.
    by_hand = dcgan_networks.build_discriminator(width=16, normalization="layer")
    with_sgd = keras.models.clone_model(by_hand)
    with_sgd.set_weights(by_hand.get_weights())

    initial = by_hand.get_weights()
    batches = make_batches(steps, args.batch_size, args.seed)
    ours, theirs = check_against_tfgen_losses(by_hand, args.loss, *batches[0])
    print(f"loss(y_true, y_pred) = {ours:.6f} = 0.5 x tfgen.losses ({theirs:.6f})")
    history = hand_written_descent(by_hand, batches, args.learning_rate, args.loss)
    keras_sgd(with_sgd, batches, args.learning_rate, args.loss)
    print("losses by step:", " ".join(f"{v:.4f}" for v in history))

    max_diff = max(
        float(np.max(np.abs(a - b))) for a, b in zip(by_hand.get_weights(), with_sgd.get_weights())
    )
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(by_hand.get_weights(), initial))
    for a, b in zip(by_hand.get_weights(), with_sgd.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print(
        f"after {steps} steps the hand-written rule and keras.optimizers.SGD agree: "
        f"largest parameter difference {max_diff:.2e} (largest change from the start {moved:.2e})"
    )
    return {"losses": history, "max_difference": max_diff, "moved": moved}


if __name__ == "__main__":
    main()
