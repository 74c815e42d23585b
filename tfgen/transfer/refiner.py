"""A second, full-resolution stage for a noise GAN: a pix2pix translator's generator appended
after the GAN's generator, `z -> base(z) -> refiner(base(z))`, fine-tuned as one generator.

Why: a DCGAN generator at 64 x 64 has one 3x3 convolution per resolution and 32 channels at
full size, too little for the flat fills and crisp edges that tell Twitter's emoji from
Google's. A pix2pix U-Net trained to turn Google drawings into Twitter's adds that detail to
`dcgan_emoji_twitter_base`'s samples (89.9 % taken for Twitter's style against 81.5 %), but on its
own it moves the samples away from the data (FID 19.0 against 9.2): it was trained on real
Google drawings, not on the GAN's samples. Fine-tuning the chain against the Twitter
discriminator teaches both stages to work together: that is `dcgan_emoji_twitter` (docs/zoo.md).

The chain is an ordinary functional generator (sub-models `base` and `refiner`), so the model
keeps its class, saves, loads, samples and exports as before.
"""

import keras

from tfgen.errors import TfgenUsageError
from tfgen.models.gan import GAN, copy_network
from tfgen.models.pix2pix import Pix2Pix
from tfgen.transfer.layers import load_for_finetuning, unfreeze

BASE, REFINER = "base", "refiner"


def _copy(network, name):
    """A trainable copy of `network` with its weights, renamed (the chain's sub-model)."""
    copy = copy_network(network)
    copy.name = name
    # An EMA network's layers were each set non-trainable, and a clone keeps their flags.
    unfreeze(copy)
    return copy


def _chain(base, refiner):
    base, refiner = _copy(base, BASE), _copy(refiner, REFINER)
    # New inputs, so `base` stays one nested layer (its own inputs would inline its layers).
    inputs = [
        keras.Input(x.shape[1:], dtype=x.dtype, name=x.name.split(":")[0]) for x in base.inputs
    ]
    inputs = inputs if len(inputs) > 1 else inputs[0]  # a cGAN's (z, label), or z
    return keras.Model(inputs, refiner(base(inputs)), name="generator")


def check_refiner(model, refiner, name="the refiner"):
    """Raises a usage error unless `refiner` (a pix2pix model) can follow `model`'s generator."""
    if not isinstance(model, GAN) or not model.latent_dim:  # a pix2pix has latent_dim None
        raise TfgenUsageError(
            f"finetune.refiner follows a noise GAN's generator (dcgan, wgan_gp, cgan); "
            f"the source is a {getattr(model, 'kind', type(model).__name__)}"
        )
    if not isinstance(refiner, Pix2Pix):
        raise TfgenUsageError(
            f"{name} must be a pix2pix model (an image-to-image generator); it is a "
            f"{getattr(refiner, 'kind', type(refiner).__name__)}"
        )
    if getattr(refiner, "task", None) is not None:
        raise TfgenUsageError(
            f"{name} was trained for the task {refiner.task!r}, whose inputs are prepared "
            "(down-sampled, masked or greyed); a refiner takes the samples as they are: use a "
            "pix2pix trained on paired folders (--dataset with --target)"
        )
    network = refiner.sampling_generator
    shape_in = tuple(int(d) for d in network.inputs[0].shape[1:])
    shape_out = tuple(int(d) for d in network.outputs[0].shape[1:])
    if shape_in != tuple(model.image_shape) or shape_out != tuple(model.image_shape):
        raise TfgenUsageError(
            f"{name} maps {shape_in} to {shape_out}; the generator makes {tuple(model.image_shape)}"
            ": train the refiner on images of the generator's size and channels"
        )


def with_refiner(model, refiner):
    """`model` rebuilt with `refiner`'s generator after its own, weights kept.

    Args:
        model: a noise GAN (dcgan, wgan_gp, cgan), as loaded for fine-tuning.
        refiner: a pix2pix model, or a zoo name / `.keras` file of one, trained on images of
            the GAN's shape. Its sampling generator (the EMA where it keeps one) is appended.

    Returns:
        A new model of `model`'s class: the same discriminator and options; the generator is
        `base` (model's generator) then `refiner`; an EMA generator, where the model keeps one,
        is model's EMA generator then the same refiner.
    """
    if not isinstance(refiner, keras.Model):
        name = str(refiner)
        refiner = load_for_finetuning(refiner)
    else:
        name = refiner.name
    check_refiner(model, refiner, name)
    network = refiner.sampling_generator
    config = model.get_config()
    config["generator"] = _chain(model.generator, network)
    config["discriminator"] = model.discriminator
    refined = type(model).from_config(config)
    if getattr(model, "ema", None) is not None:
        # The averaged chain starts from the source's averaged base, not its raw one.
        refined.ema_generator.get_layer(BASE).set_weights(model.ema_generator.get_weights())
    return refined
