"""One `keras.Model` subclass per module, each with its own `train_step`, trained by `fit`."""

from tfgen.models.dcgan import DCGAN
from tfgen.models.gan import GAN

__all__ = ["DCGAN", "GAN"]
