"""Plain-Keras reference training loops for `benchmarks/benchmark.py`.

Each reference trains the same networks as a tfgen model (clones of its generator,
discriminator, encoder, ... with fresh weights), written the way the official examples write
the loop: a `keras.Model` whose `train_step` opens one `GradientTape` per network (or one
persistent tape where the example does), default `compile`, losses from `keras.losses`.
Only the training loop differs from tfgen, so tfgen / reference steps/s measures the loop.

- dcgan: Keras guide "Customizing what happens in fit()", GAN example: D on
  concat(fake, real) with label noise, then G on fresh noise through D.
- wgan_gp: keras.io "WGAN-GP overriding Model.train_step": per critic step a tape with
  G(z), D(fake), D(real) and the gradient penalty from its own inner tape; then G.
  The example reuses one real batch for every critic step; here critic step i takes slice i of
  the batch, as tfgen's WGANGP does, so both do the same amount of work per step.
- cgan: keras.io "Conditional GAN": as the DCGAN guide, with labels fed to both networks.
- pix2pix: TensorFlow pix2pix tutorial's `train_step` (a generator tape and a discriminator
  tape around one forward pass, BCE + lambda L1).
- cyclegan: keras.io "CycleGAN": one persistent tape, six generator passes, four discriminator
  passes, four `tape.gradient` calls, MSE adversarial, L1 cycle and identity losses.
- vae: keras.io "Variational AutoEncoder": reparameterized z, summed BCE + analytic KL.

Networks are called with `training=True` throughout (the examples' networks have no
BatchNorm, where it does not matter; tfgen's have, and in training mode they do the same work).
"""

import keras
import tensorflow as tf


def clone(network):
    """The same architecture with freshly initialised weights, in stock Keras layers.

    tfgen's `FusedBatchNormalization` becomes `keras.layers.BatchNormalization` with the same
    config (the layer the examples use): the same model, computed by Keras' unfused ops.
    """
    from tfgen.networks.fused_batch_norm import FusedBatchNormalization

    def stock_layer(layer):
        if isinstance(layer, FusedBatchNormalization):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(network, clone_function=stock_layer)


def adam():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


class DCGANReference(keras.Model):
    """The Keras guide's GAN `train_step` on tfgen's DCGAN networks."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer=None, g_optimizer=None):
        super().compile()
        self.d_optimizer = d_optimizer or adam()
        self.g_optimizer = g_optimizer or adam()
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_inputs(self, images, labels):
        return images

    def generator_inputs(self, z, labels):
        return z

    def train_step(self, data):
        real_images, class_labels = (data[0], data[1]) if isinstance(data, tuple) else (data, None)
        batch_size = tf.shape(real_images)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(self.generator_inputs(z, class_labels), training=True)
        combined = tf.concat([generated, real_images], axis=0)
        both_labels = None if class_labels is None else tf.concat([class_labels] * 2, axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(
                self.discriminator_inputs(combined, both_labels), training=True
            )
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            fake = self.generator(self.generator_inputs(z, class_labels), training=True)
            predictions = self.discriminator(
                self.discriminator_inputs(fake, class_labels), training=True
            )
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


class CGANReference(DCGANReference):
    """keras.io's conditional GAN loop; tfgen's networks take `[x, labels]` inputs."""

    def discriminator_inputs(self, images, labels):
        return [images, labels]

    def generator_inputs(self, z, labels):
        return [z, labels]


class WGANGPReference(keras.Model):
    """keras.io's WGAN-GP `train_step` (critic steps, then one generator step)."""

    def __init__(self, generator, critic, latent_dim, n_critic=5, gp_weight=10.0):
        super().__init__()
        self.generator = generator
        self.discriminator = critic
        self.latent_dim = latent_dim
        self.d_steps = n_critic
        self.gp_weight = gp_weight

    def compile(self, d_optimizer=None, g_optimizer=None):
        super().compile()
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)

    def gradient_penalty(self, batch_size, real_images, fake_images):
        alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        size = tf.shape(real_images)[0] // self.d_steps
        for i in range(self.d_steps):
            real = real_images[i * size : (i + 1) * size]
            z = tf.random.normal(shape=(size, self.latent_dim))
            with tf.GradientTape() as tape:
                fake_images = self.generator(z, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real, training=True)
                d_cost = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
                gp = self.gradient_penalty(size, real, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(
                zip(d_gradient, self.discriminator.trainable_variables)
            )
        z = tf.random.normal(shape=(size, self.latent_dim))
        with tf.GradientTape() as tape:
            generated = self.generator(z, training=True)
            gen_img_logits = self.discriminator(generated, training=True)
            g_loss = -tf.reduce_mean(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


class Pix2PixReference(keras.Model):
    """The TensorFlow pix2pix tutorial's `train_step` inside `keras.Model.train_step`."""

    def __init__(self, generator, discriminator, l1_weight=100.0):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = l1_weight

    def compile(self, g_optimizer=None, d_optimizer=None):
        super().compile()
        self.g_optimizer = g_optimizer or adam()
        self.d_optimizer = d_optimizer or adam()
        self.loss_object = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, data):
        input_image, target = data[0], data[1]
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            gen_output = self.generator(input_image, training=True)
            disc_real_output = self.discriminator(
                tf.concat([input_image, target], axis=-1), training=True
            )
            disc_generated_output = self.discriminator(
                tf.concat([input_image, gen_output], axis=-1), training=True
            )
            gan_loss = self.loss_object(tf.ones_like(disc_generated_output), disc_generated_output)
            l1_loss = tf.reduce_mean(tf.abs(target - gen_output))
            gen_total_loss = gan_loss + self.l1_weight * l1_loss
            disc_loss = self.loss_object(
                tf.ones_like(disc_real_output), disc_real_output
            ) + self.loss_object(tf.zeros_like(disc_generated_output), disc_generated_output)
        generator_gradients = gen_tape.gradient(gen_total_loss, self.generator.trainable_variables)
        discriminator_gradients = disc_tape.gradient(
            disc_loss, self.discriminator.trainable_variables
        )
        self.g_optimizer.apply_gradients(
            zip(generator_gradients, self.generator.trainable_variables)
        )
        self.d_optimizer.apply_gradients(
            zip(discriminator_gradients, self.discriminator.trainable_variables)
        )
        return {"g_loss": gen_total_loss, "d_loss": disc_loss}


class CycleGANReference(keras.Model):
    """keras.io's CycleGAN `train_step` (one persistent tape, four gradients)."""

    def __init__(self, gen_g, gen_f, disc_x, disc_y, lambda_cycle=10.0, lambda_identity=0.5):
        super().__init__()
        self.gen_G = gen_g
        self.gen_F = gen_f
        self.disc_X = disc_x
        self.disc_Y = disc_y
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity

    def compile(self):
        super().compile()
        self.gen_G_optimizer = adam()
        self.gen_F_optimizer = adam()
        self.disc_X_optimizer = adam()
        self.disc_Y_optimizer = adam()
        self.adv_loss_fn = keras.losses.MeanSquaredError()
        self.cycle_loss_fn = keras.losses.MeanAbsoluteError()
        self.identity_loss_fn = keras.losses.MeanAbsoluteError()

    def generator_loss_fn(self, fake):
        return self.adv_loss_fn(tf.ones_like(fake), fake)

    def discriminator_loss_fn(self, real, fake):
        real_loss = self.adv_loss_fn(tf.ones_like(real), real)
        fake_loss = self.adv_loss_fn(tf.zeros_like(fake), fake)
        return (real_loss + fake_loss) * 0.5

    def train_step(self, batch_data):
        real_x, real_y = batch_data[0], batch_data[1]
        with tf.GradientTape(persistent=True) as tape:
            fake_y = self.gen_G(real_x, training=True)
            fake_x = self.gen_F(real_y, training=True)
            cycled_x = self.gen_F(fake_y, training=True)
            cycled_y = self.gen_G(fake_x, training=True)
            same_x = self.gen_F(real_x, training=True)
            same_y = self.gen_G(real_y, training=True)
            disc_real_x = self.disc_X(real_x, training=True)
            disc_fake_x = self.disc_X(fake_x, training=True)
            disc_real_y = self.disc_Y(real_y, training=True)
            disc_fake_y = self.disc_Y(fake_y, training=True)
            gen_G_loss = self.generator_loss_fn(disc_fake_y)
            gen_F_loss = self.generator_loss_fn(disc_fake_x)
            cycle_loss_G = self.cycle_loss_fn(real_y, cycled_y) * self.lambda_cycle
            cycle_loss_F = self.cycle_loss_fn(real_x, cycled_x) * self.lambda_cycle
            id_loss_G = (
                self.identity_loss_fn(real_y, same_y) * self.lambda_cycle * self.lambda_identity
            )
            id_loss_F = (
                self.identity_loss_fn(real_x, same_x) * self.lambda_cycle * self.lambda_identity
            )
            total_loss_G = gen_G_loss + cycle_loss_G + id_loss_G
            total_loss_F = gen_F_loss + cycle_loss_F + id_loss_F
            disc_X_loss = self.discriminator_loss_fn(disc_real_x, disc_fake_x)
            disc_Y_loss = self.discriminator_loss_fn(disc_real_y, disc_fake_y)
        grads_G = tape.gradient(total_loss_G, self.gen_G.trainable_variables)
        grads_F = tape.gradient(total_loss_F, self.gen_F.trainable_variables)
        disc_X_grads = tape.gradient(disc_X_loss, self.disc_X.trainable_variables)
        disc_Y_grads = tape.gradient(disc_Y_loss, self.disc_Y.trainable_variables)
        self.gen_G_optimizer.apply_gradients(zip(grads_G, self.gen_G.trainable_variables))
        self.gen_F_optimizer.apply_gradients(zip(grads_F, self.gen_F.trainable_variables))
        self.disc_X_optimizer.apply_gradients(zip(disc_X_grads, self.disc_X.trainable_variables))
        self.disc_Y_optimizer.apply_gradients(zip(disc_Y_grads, self.disc_Y.trainable_variables))
        return {
            "G_loss": total_loss_G,
            "F_loss": total_loss_F,
            "D_X_loss": disc_X_loss,
            "D_Y_loss": disc_Y_loss,
        }


class VAEReference(keras.Model):
    """keras.io's VAE `train_step` on tfgen's encoder (loc, scale parameter) and decoder."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def compile(self):
        super().compile(optimizer=keras.optimizers.Adam())

    def train_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        data = (data + 1.0) / 2.0  # the example trains on pixels in [0, 1]
        with tf.GradientTape() as tape:
            z_mean, scale_param = self.encoder(data, training=True)
            # tfgen's encoder parameterizes the scale by softplus; the example samples
            # z = mean + exp(log_var / 2) * eps the same way (a Sampling layer).
            z_std = tf.nn.softplus(scale_param) + 1e-4
            eps = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
            z = z_mean + z_std * eps
            reconstruction = self.decoder(z, training=True)
            reconstruction_loss = tf.reduce_mean(
                tf.reduce_sum(
                    keras.losses.binary_crossentropy(
                        data[..., None], reconstruction[..., None], from_logits=True
                    ),
                    axis=(1, 2, 3),
                )
            )
            z_log_var = 2.0 * tf.math.log(z_std)
            kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


def build_reference(kind, model):
    """The compiled plain-Keras reference for a tfgen model of `kind`, same layers."""
    if kind in ("dcgan", "cgan"):
        cls = DCGANReference if kind == "dcgan" else CGANReference
        ref = cls(clone(model.generator), clone(model.discriminator), model.latent_dim)
    elif kind == "wgan_gp":
        ref = WGANGPReference(
            clone(model.generator),
            clone(model.discriminator),
            model.latent_dim,
            n_critic=model.n_critic,
            gp_weight=model.gp_weight,
        )
    elif kind == "pix2pix":
        ref = Pix2PixReference(
            clone(model.generator), clone(model.discriminator), l1_weight=model.l1_weight
        )
    elif kind == "cyclegan":
        ref = CycleGANReference(
            clone(model.generator_a2b),
            clone(model.generator_b2a),
            clone(model.discriminator_a),
            clone(model.discriminator_b),
            lambda_cycle=model.cycle_weight,
            lambda_identity=model.identity_weight / model.cycle_weight,
        )
    elif kind == "vae":
        ref = VAEReference(clone(model.encoder), clone(model.decoder))
    else:
        raise ValueError(f"no reference for model kind {kind!r}")
    ref.compile()
    return ref
