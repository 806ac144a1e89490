"""GAN objectives: discriminator loss, generator loss and discriminator penalty (Hydra: ``conf/loss``)."""

from textgan.losses.gan import GANLoss, HingeGANLoss, LSGANLoss, RSGANLoss, StandardGANLoss, WGANGPLoss

__all__ = ["GANLoss", "HingeGANLoss", "LSGANLoss", "RSGANLoss", "StandardGANLoss", "WGANGPLoss"]
