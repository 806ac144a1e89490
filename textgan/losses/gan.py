"""The GAN objectives of RelGAN's ``get_losses`` (weilinie/RelGAN ``real/real_gan/real_train.py``).

Each loss is a pair computed from discriminator logits of real and fake sentences, both of shape (B, R) (R
logits per sentence: RelGAN's representations, 1 for SeqGAN); means run over all B * R entries, and the
relativistic loss pairs ``real[i, r]`` with ``fake[i, r]`` as RelGAN does. With ``BCE(x, y)`` the sigmoid
cross-entropy with logits, ``BCE(x, 1) = softplus(-x)`` and ``BCE(x, 0) = softplus(x)``.

The discriminator minimises ``discriminator_loss(real, fake) + penalty(discriminator, real_x, fake_x)``
(the penalty is zero except for WGAN-GP); the generator minimises ``generator_loss(real, fake)``.

``generator_loss(real, fake, reduction="none")`` gives the per-sentence generator losses (B,): each
sentence's elementwise loss averaged over its ``R`` logits, so the mean over sentences is the batch loss.
This is the one objective every estimator estimates the gradient of: the relaxed estimators differentiate
the batch loss, the score-function estimators reward each sentence with minus its per-sentence loss.
``uses_real_in_generator_loss`` tells the training loop whether the generator step needs real logits at all:
only the relativistic loss does, and it pairs fake sentence ``i`` with real sentence ``i`` of the real batch
(``real[i, r]`` with ``fake[i, r]``), as RelGAN does. Losses are computed in float32 (logits are cast), so
bf16 autocast leaves them exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import number


class GANLoss:
    """Base class: a (discriminator loss, generator loss) pair and an optional discriminator penalty."""

    uses_real_in_generator_loss = False

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the discriminator minimises, from (B, R) logits of real and fake sentences."""
        raise NotImplementedError

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        """Elementwise generator loss (B, R) in float32; ``real_logits`` may be None unless the loss uses them."""
        raise NotImplementedError

    def generator_loss(
        self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """The loss the generator minimises: a scalar (``reduction="mean"``) or per sentence (B,) (``"none"``).

        Per sentence means over the sentence's ``R`` logits; the scalar is the mean over all ``B * R``.
        """
        terms = self.generator_terms(real_logits, fake_logits)  # (B, R)
        if reduction == "mean":
            return terms.mean()
        if reduction == "none":
            return terms.flatten(1).mean(dim=1)
        raise ValueError(f"unknown reduction {reduction!r}; choose 'mean' or 'none'")

    def penalty(
        self, discriminator: nn.Module, real_onehot: torch.Tensor, fake_onehot: torch.Tensor
    ) -> torch.Tensor:
        """Scalar regulariser added to the discriminator loss (zero unless a subclass defines one)."""
        return torch.zeros((), device=fake_onehot.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def paired_real_logits(real_logits: torch.Tensor, sentences: torch.Tensor | int) -> torch.Tensor:
    """The real row each fake sentence is paired with: sentence ``i`` with real row ``i mod B_real``.

    ``real_logits`` (B_real, R); ``sentences`` the fake sentences' indices (N,), or their count N. Returns (N, R).
    Every estimator pairs this way, so the relativistic objective is the same whichever estimates its gradient.
    """
    if isinstance(sentences, int):
        sentences = torch.arange(sentences, device=real_logits.device)
    return real_logits[sentences % real_logits.shape[0]]


def _pair(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if real_logits is None:
        raise ValueError("this loss needs the real logits")
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"real {tuple(real_logits.shape)} and fake {tuple(fake_logits.shape)} logits must pair up"
        )
    return real_logits.float(), fake_logits.float()


class RSGANLoss(GANLoss):
    """Relativistic standard GAN (Jolicoeur-Martineau, 2019), RelGAN's default (``gan_type='RSGAN'``).

    ``d = mean BCE(real - fake, 1) = mean softplus(fake - real)``,
    ``g = mean BCE(fake - real, 1) = mean softplus(real - fake)``, pairing ``real[i]`` with ``fake[i]``.
    """

    uses_real_in_generator_loss = True

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real, fake = _pair(real_logits, fake_logits)
        return F.softplus(fake - real).mean()

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        real, fake = _pair(real_logits, fake_logits)
        return F.softplus(real - fake)


class StandardGANLoss(GANLoss):
    """The non-saturating GAN of Goodfellow et al. (2014) (``gan_type='standard'``).

    ``d = mean BCE(real, 1) + mean BCE(fake, 0) = mean softplus(-real) + mean softplus(fake)``,
    ``g = mean BCE(fake, 1) = mean softplus(-fake)``.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits.float())


class HingeGANLoss(GANLoss):
    """Hinge loss (Lim & Ye, 2017; Miyato et al., 2018) (``gan_type='hinge'``).

    ``d = mean relu(1 - real) + mean relu(1 + fake)``, ``g = -mean fake``.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return torch.relu(1.0 - real_logits.float()).mean() + torch.relu(1.0 + fake_logits.float()).mean()

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.float()


class LSGANLoss(GANLoss):
    """Least-squares GAN (Mao et al., 2017) (``gan_type='LS'``).

    ``d = mean (real - 1)^2 + mean fake^2``, ``g = mean (fake - 1)^2``.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return (real_logits.float() - 1.0).square().mean() + fake_logits.float().square().mean()

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        return (fake_logits.float() - 1.0).square()


class WGANGPLoss(GANLoss):
    """Wasserstein GAN with gradient penalty (Gulrajani et al., 2017) (``gan_type='wgan-gp'``).

    ``d = mean fake - mean real + penalty``, ``g = -mean fake``, and RelGAN's ``gradient_penalty``:
    ``penalty = gp_weight * mean_i (||grad_x D(x_i)||_2 - 1)^2`` at ``x_i = a_i real_i + (1 - a_i) fake_i``,
    ``a_i ~ U(0, 1)`` per sentence, the norm over the flattened (T, V) one-hot rows of sentence i. RelGAN
    takes ``tf.gradients`` of all logits, i.e. of their sum: here of the (B, R) logits summed, likewise. The
    penalty is differentiable in the discriminator's parameters (``create_graph=True``); both inputs are
    detached.

    Args:
        gp_weight: ``lambda`` (10, Gulrajani et al.).
    """

    config_ranges = {"gp_weight": number(0)}

    def __init__(self, gp_weight: float = 10.0) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.float().mean() - real_logits.float().mean()

    def generator_terms(self, real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.float()

    def penalty(
        self, discriminator: nn.Module, real_onehot: torch.Tensor, fake_onehot: torch.Tensor
    ) -> torch.Tensor:
        """``real_onehot`` (B, T, V) one-hot rows or (B, T) token ids, ``fake_onehot`` (B, T, V) -> scalar."""
        fake = fake_onehot.detach().float()
        if not real_onehot.is_floating_point():
            real_onehot = F.one_hot(real_onehot, fake.shape[-1])
        real = real_onehot.detach().to(fake.dtype)
        alpha = torch.rand(fake.shape[0], 1, 1, device=fake.device)  # (B, 1, 1)
        interpolated = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)  # (B, T, V)
        logits = discriminator(interpolated)  # (B, R)
        (grad,) = torch.autograd.grad(logits.float().sum(), interpolated, create_graph=True)
        norms = grad.float().flatten(1).norm(dim=1)  # (B,)
        return self.gp_weight * (norms - 1.0).square().mean()

    def __repr__(self) -> str:
        return f"WGANGPLoss(gp_weight={self.gp_weight})"
