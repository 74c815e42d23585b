"""`tfgen.losses.gradient_penalty` against analytic cases (Gulrajani et al. 2017)."""

import numpy as np
import tensorflow as tf

from tfgen import losses

SHAPE = (4, 3, 3, 2)


def images(seed):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, SHAPE), tf.float32)


def linear_critic(w):
    """f(x) = w . x: the gradient is w everywhere."""
    return lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])


def test_linear_critic_gives_squared_norm_gap():
    w = tf.constant(np.random.default_rng(0).normal(size=SHAPE[1:]), tf.float32)
    weights = tf.constant([0.0, 0.3, 0.7, 1.0])
    penalty = losses.gradient_penalty(linear_critic(w), images(1), images(2), weights)
    expected = (np.linalg.norm(w.numpy()) - 1.0) ** 2
    np.testing.assert_allclose(penalty.numpy(), np.full(4, expected), rtol=1e-5)


def test_gradient_of_penalty_wrt_critic_weights_is_analytic():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: checks the double backprop.
    w = tf.Variable(np.random.default_rng(3).normal(size=SHAPE[1:]).astype(np.float32))
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(linear_critic(w), images(1), images(2), tf.fill([4], 0.5))
        loss = tf.reduce_mean(penalty)
    norm = np.linalg.norm(w.numpy())
    expected = 2.0 * (norm - 1.0) * w.numpy() / norm
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), expected, rtol=1e-4)


def test_one_lipschitz_critic_with_unit_gradient_gives_zero():
    # f(x) = ||x - c||: 1-Lipschitz with a gradient of norm exactly 1 away from c.
    centre = tf.constant(5.0)

    def distance(x):
        return tf.sqrt(tf.reduce_sum(tf.square(x - centre), axis=[1, 2, 3]))

    penalty = losses.gradient_penalty(distance, images(1), images(2), tf.fill([4], 0.25))
    np.testing.assert_allclose(penalty.numpy(), np.zeros(4), atol=1e-6)
    # A unit vector times x is also 1-Lipschitz with a unit gradient.
    u = np.random.default_rng(4).normal(size=SHAPE[1:]).astype(np.float32)
    u /= np.linalg.norm(u)
    penalty = losses.gradient_penalty(linear_critic(u), images(1), images(2), tf.fill([4], 0.6))
    np.testing.assert_allclose(penalty.numpy(), np.zeros(4), atol=1e-6)


def test_penalty_is_taken_at_per_example_interpolates():
    # f(x) = 0.5 ||x||^2 has gradient x, so the penalty is (||x_hat|| - 1)^2 with
    # x_hat = real + eps (fake - real), one eps per example.
    real, fake = images(5), images(6)
    weights = np.array([0.0, 0.25, 0.5, 1.0], np.float32)

    def quadratic(x):
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])

    penalty = losses.gradient_penalty(quadratic, real, fake, weights)
    x_hat = real.numpy() + weights[:, None, None, None] * (fake.numpy() - real.numpy())
    expected = (np.linalg.norm(x_hat.reshape(4, -1), axis=1) - 1.0) ** 2
    np.testing.assert_allclose(penalty.numpy(), expected, rtol=1e-5)


def test_zero_gradient_critic_gives_finite_value_and_gradient():
    # v * (x . 0) has a zero input gradient; without the epsilon, d sqrt(s)/ds at s = 0 is
    # infinite and the chain rule gives inf * 0 = NaN.
    v = tf.Variable(0.0)

    def flat(x):
        return v * tf.reduce_sum(x * 0.0, axis=[1, 2, 3])

    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(flat, images(1), images(2), tf.fill([4], 0.5))
        loss = tf.reduce_mean(penalty)
    grad = tape.gradient(loss, v)
    assert np.all(np.isfinite(penalty.numpy()))
    np.testing.assert_allclose(penalty.numpy(), np.ones(4), atol=1e-5)  # (0 - 1)^2
    assert grad is not None and np.isfinite(grad.numpy())
    assert grad.numpy() == 0.0


def test_zero_gradient_gives_finite_gradient_through_a_keras_critic():
    # A critic with all-zero weights has zero input gradients too; its weights' gradient
    # must stay finite so the first critic update of a zero-initialised layer is safe.
    import keras

    critic = keras.Sequential(
        [
            keras.Input(SHAPE[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(1, kernel_initializer="zeros"),
        ]
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            losses.gradient_penalty(critic, images(1), images(2), tf.fill([4], 0.5))
        )
    kernel = critic.layers[-1].kernel
    grad = tape.gradient(loss, kernel)  # the bias does not reach the input gradient
    assert np.all(np.isfinite(grad.numpy()))
    np.testing.assert_array_equal(grad.numpy(), np.zeros(kernel.shape))
