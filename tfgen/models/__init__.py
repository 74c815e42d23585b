"""One `keras.Model` subclass per module, each with its own `train_step`, trained by `fit`."""

from tfgen.models.cgan import ConditionalGAN
from tfgen.models.cyclegan import CycleGAN
from tfgen.models.dcgan import DCGAN
from tfgen.models.gan import GAN
from tfgen.models.pix2pix import Pix2Pix
from tfgen.models.vae import VAE
from tfgen.models.wgan_gp import WGANGP

__all__ = ["ConditionalGAN", "CycleGAN", "DCGAN", "GAN", "Pix2Pix", "VAE", "WGANGP"]
