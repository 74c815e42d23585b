"""The model kinds and their constructor options, as plain data.

The command line and the recipe schema check a kind or an option against these tables before
TensorFlow is imported (a usage error answers at once); tests/test_config.py pins them to the
registered classes' signatures, so they cannot drift.
"""

from tfgen.errors import TfgenUsageError

# kind -> "module:Class" (tfgen.models.<module>)
MODEL_CLASSES = {
    "dcgan": "dcgan:DCGAN",
    "wgan_gp": "wgan_gp:WGANGP",
    "cgan": "cgan:ConditionalGAN",
    "vae": "vae:VAE",
    "pix2pix": "pix2pix:Pix2Pix",
    "cyclegan": "cyclegan:CycleGAN",
}
MODEL_KINDS = tuple(MODEL_CLASSES)

# The options every GAN-style model takes from its base class (augmentation, R1, EMA).
_GAN = ("ema", "augment", "ada_target", "ada_interval", "ada_speed_images",
        "augment_transforms", "r1_gamma")  # fmt: skip
# kind -> constructor keyword arguments a recipe's [model] table may set (besides image_shape
# and seed, which come from the data and [train]; custom networks are Python objects).
MODEL_OPTIONS = {
    "dcgan": ("latent_dim", "g_width", "d_width", "update", "spectral_norm",
              "latent_components", "latent_scale", *_GAN),
    "wgan_gp": ("latent_dim", "g_width", "d_width", "n_critic", "gp_weight",
                "critic_normalization", "spectral_norm", *_GAN),
    "cgan": ("num_classes", "latent_dim", "g_width", "d_width", "embedding_dim",
             "conditioning", "d_normalization", "spectral_norm", *_GAN),
    "vae": ("latent_dim", "likelihood", "beta", "kl_warmup_steps", "width", "activation",
            "analytic_kl"),
    "pix2pix": ("output_channels", "g_width", "d_width", "n_downsamples", "d_downsamples",
                "l1_weight", "g_normalization", "d_normalization", "dropout", "task",
                "task_options", *_GAN),
    "cyclegan": ("image_shape_b", "g_width", "d_width", "n_residual_blocks", "n_downsamples",
                 "d_downsamples", "cycle_weight", "identity_weight", "adversarial_weight",
                 "pool_size", "augment", "ada_target", "ada_interval", "ada_speed_images",
                 "augment_transforms", "r1_gamma", "ema"),
}  # fmt: skip
# The kinds that keep a moving average of their generator(s) (`--ema`).
EMA_KINDS = tuple(kind for kind, options in MODEL_OPTIONS.items() if "ema" in options)

# The zoo's feature extractors are recipes too: `kind = "classifier"` trains
# `tfgen.evaluation.classifier.build_classifier` on a labelled dataset.
CLASSIFIER_OPTIONS = ("width", "feature_dim", "dropout", "pooling", "augmentation",
                      "label_smoothing")  # fmt: skip
RECIPE_KINDS = (*MODEL_KINDS, "classifier")
RECIPE_OPTIONS = {**MODEL_OPTIONS, "classifier": CLASSIFIER_OPTIONS}

# Model options that `tfgen train` sets from a flag of their own: errors name the flag.
FLAG_OPTIONS = {"ema": "--ema", "augment": "--augment", "r1_gamma": "--r1",
                "spectral_norm": "--spectral-norm"}  # fmt: skip


def refuse_ema(kind, options, where=""):
    """`--ema` on a model that keeps no generator average gets its own reason."""
    if "ema" in options and "ema" not in MODEL_OPTIONS.get(kind, ()):
        raise TfgenUsageError(
            f"{where}--ema averages a GAN's generator ({', '.join(EMA_KINDS)}); "
            f"{kind} does not keep one"
        )
