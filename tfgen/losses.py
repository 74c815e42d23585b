"""GAN losses as pure functions in generator/discriminator pairs, on unbounded logits.

Each returns per-example losses of shape [batch] (logits of any rank are averaged over their
non-batch axes, e.g. PatchGAN maps): reduce them with `tf.reduce_mean`, or with
`tfgen.distribute.global_mean` under `tf.distribute`.
"""

import tensorflow as tf

from tfgen.errors import TfgenUsageError


def _per_example(x):
    x = tf.convert_to_tensor(x)
    if x.shape.rank is not None and x.shape.rank > 1:
        return tf.reduce_mean(x, axis=list(range(1, x.shape.rank)))
    return x


# Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661
def minimax_discriminator_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(z)))."""
    return _per_example(tf.nn.softplus(-real_logits)) + _per_example(tf.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """log(1 - D(G(z))): the original, saturating generator objective."""
    return _per_example(-tf.nn.softplus(fake_logits))


# Goodfellow et al. 2014, section 3: the non-saturating heuristic
non_saturating_discriminator_loss = minimax_discriminator_loss


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)): strong gradients early in training, when D rejects fakes easily."""
    return _per_example(tf.nn.softplus(-fake_logits))


# Mao et al. 2017 (LSGAN), https://arxiv.org/abs/1611.04076, with a=0, b=c=1
def least_squares_discriminator_loss(real_logits, fake_logits):
    """0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2 (mean squared error to the labels 1 and 0)."""
    return 0.5 * _per_example(tf.square(real_logits - 1.0)) + 0.5 * _per_example(
        tf.square(fake_logits)
    )


def least_squares_generator_loss(fake_logits):
    """0.5 (D(G(z)) - 1)^2."""
    return 0.5 * _per_example(tf.square(fake_logits - 1.0))


# Lim & Ye 2017 / Miyato et al. 2018, https://arxiv.org/abs/1705.02894
def hinge_discriminator_loss(real_logits, fake_logits):
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z)))."""
    return _per_example(tf.nn.relu(1.0 - real_logits)) + _per_example(tf.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
    """-D(G(z))."""
    return _per_example(-fake_logits)


# Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875
def wasserstein_discriminator_loss(real_logits, fake_logits):
    """D(G(z)) - D(x): the critic's negated Wasserstein estimate."""
    return _per_example(fake_logits) - _per_example(real_logits)


def wasserstein_generator_loss(fake_logits):
    """-D(G(z))."""
    return _per_example(-fake_logits)


LOSSES = {
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
    "least_squares": (least_squares_generator_loss, least_squares_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss, wasserstein_discriminator_loss),
}


def get(name):
    """Returns `(generator_loss, discriminator_loss)` for a loss name."""
    if name not in LOSSES:
        raise TfgenUsageError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


# Gulrajani et al. 2017 (WGAN-GP), https://arxiv.org/abs/1704.00028
def gradient_penalty(critic, real, fake, interpolation_weights, target=1.0, epsilon=1e-12):
    """Per-example (||grad_x critic(x_hat)|| - target)^2 on interpolates x_hat.

    Args:
        critic: callable. Maps images to per-example scores.
        real: tensor. Real images [B, H, W, C].
        fake: tensor. Generated images, same shape.
        interpolation_weights: tensor [B]. Uniform in [0, 1], one per example.
        epsilon: float. Keeps the norm's gradient finite where the critic's gradient is 0
            (d sqrt(s)/ds is infinite at s = 0).
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    alpha = tf.reshape(tf.cast(interpolation_weights, tf.float32), [-1, 1, 1, 1])
    interpolates = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = tf.cast(critic(interpolates), tf.float32)
    grads = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + epsilon)
    return tf.square(norms - target)


# Mescheder et al. 2018, https://arxiv.org/abs/1801.04406
def r1_penalty(critic, real):
    """Per-example squared gradient norm ||grad_x critic(x)||^2 at real images, in float32.

    The R1 regularizer is gamma/2 times its mean; add it to the discriminator's loss.

    Args:
        critic: callable. Maps images to logits (any rank; summed per example, so a PatchGAN
            map penalizes the gradient of its sum).
        real: tensor. Real images [B, H, W, C].
    """
    real = tf.cast(real, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(real)
        # Summed inside the tape: each example's logit depends only on its own image.
        total = tf.reduce_sum(tf.cast(critic(real), tf.float32))
    grads = tape.gradient(total, real)
    return tf.reduce_sum(tf.square(grads), axis=list(range(1, real.shape.rank)))


# Zhu et al. 2017 (CycleGAN), https://arxiv.org/abs/1703.10593
def cycle_consistency_loss(images, reconstructions):
    """Per-example mean absolute error |F(G(x)) - x|."""
    return _per_example(tf.abs(tf.cast(images, tf.float32) - tf.cast(reconstructions, tf.float32)))
