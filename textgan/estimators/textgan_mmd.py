"""TextGAN: adversarial feature matching by kernel MMD through a soft-argmax generator.

Zhang, Gan, Fan, Chen, Henao, Shen, Carin, *Adversarial Feature Matching for Text Generation* (ICML 2017,
arXiv 1706.03850). A CNN discriminator maps a sentence ``s`` to a feature vector ``f = F(s)`` and scores it from
``f``; the generator is trained to match the distribution of the features of its sentences to that of real ones
in the kernel MMD, not to fool the classifier. With ``f`` the features of real sentences and ``f~`` those of
generated ones, the paper's objectives (its Eq. 2 and 3; the discriminator *maximises* ``L_D``) are

    L_D = L_GAN - lambda_r L_recon + lambda_m MMD^2(f, f~)        L_G = MMD^2(f, f~)

so the discriminator learns features that separate real and generated sentences in the MMD (and classify them),
and the generator minimises that MMD. Here the discriminator *minimises* ``loss_D(D(real), D(fake)) -
mmd_weight * MMD^2`` (``loss_D`` the configured GAN loss, the paper's ``-L_GAN`` for ``loss=standard``); Texygen's
TextGAN adds ``+ MMD`` and ``- L_recon`` to its minimised loss, both signs flipped
(``tests/estimators/test_textgan_mmd.py`` fails on that).

* **Kernel.** ``k(a, b) = sum_sigma exp(-|a - b|^2 / (2 sigma^2))`` over the set ``bandwidths`` and the unbiased
  estimate of MMD^2 (:mod:`textgan.losses.mmd`; ``unbiased=false``: the biased one, as the released code). The
  released code uses one bandwidth, 20, on 900 tanh-bounded features; ours are unbounded ReLU / highway features
  whose scale differs between discriminators and moves in training, so the default is a set spanning scales.
* **Soft-argmax.** The paper's generator feeds back the soft embedding ``softmax(L o_t) @ E`` (``L = 1000``), a
  smooth function of its parameters; its randomness is a latent code ``z`` fed to the LSTM. Our generators have
  no ``z``: their randomness is per token, so the noise enters as Gumbel noise, ``r_t = softmax(L (o_t + g_t))``
  with ``r_t @ E`` fed back (``feedback=relaxed``, :meth:`Generator.rsample_relaxed_feedback`; ``L`` is the
  schedule's inverse temperature). As ``L`` grows, ``r_t`` tends to the one-hot of the Gumbel-Max token, an exact
  sample of the generator. ``feedback=hard`` feeds back that token instead (RelGAN's ``rsample``, batched in time).
  The discriminator reads the rows ``r_t`` (B, T, V), for its update too (:meth:`discriminator_fakes`).
* **Latent reconstruction** (``L_recon = |z^ - z|^2``, ``z^`` regressed from ``f~``): omitted. It asks the
  features to keep the information of the code ``z`` the sentence was decoded from; our generators have none, and
  reconstructing the per-token Gumbel noise (T x V numbers, mostly of tokens not chosen) would be another
  objective, not the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import list_of, number
from textgan.estimators.base import EstimatorOutput
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import GANLoss
from textgan.losses.mmd import mmd2
from textgan.models.generator import Generator

DEFAULT_BANDWIDTHS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # 1-2-5 over three decades


class TextganMmdEstimator(GumbelSoftmaxEstimator):
    """Generator loss ``MMD^2(F(fake), F(real))``; discriminator loss ``loss_D - mmd_weight * MMD^2`` (see above).

    Args:
        schedule: the soft-argmax's ``L`` (inverse temperature) per adversarial step (TextGAN: fixed 1000).
        bandwidths: the Gaussian kernels' ``sigma``, summed.
        mmd_weight: ``lambda_m``, the MMD's weight in the discriminator's loss (0: a plain GAN discriminator).
        unbiased: the unbiased (U-statistic) estimate of MMD^2, else the biased (V-statistic) one.
        feedback: ``"relaxed"`` (the paper's soft-embedding feedback) or ``"hard"`` (the Gumbel-Max token).
        straight_through: one-hot rows forward, soft gradient (with ``feedback="hard"`` only; not the paper's).
        discriminator_regularization: weight of the discriminator's own ``regularization()`` in its loss (the
            loss is the scheme's, so ``adversarial.module.discriminator_regularization`` does not apply).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {
        "bandwidths": list_of(number(0, above=True)),
        "mmd_weight": number(0),
        "discriminator_regularization": number(0),
    }

    def __init__(
        self,
        schedule: InverseTemperatureSchedule,
        bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
        mmd_weight: float = 1.0e-3,
        unbiased: bool = True,
        feedback: str = "relaxed",
        straight_through: bool = False,
        discriminator_regularization: float = 1.0,
    ) -> None:
        super().__init__(schedule, straight_through=straight_through, feedback=feedback)
        if not bandwidths or min(bandwidths) <= 0:
            raise ValueError(f"bandwidths must be a non-empty list of positive numbers, got {list(bandwidths)}")
        if mmd_weight < 0 or discriminator_regularization < 0:
            raise ValueError("mmd_weight and discriminator_regularization must be >= 0")
        self.bandwidths = tuple(float(sigma) for sigma in bandwidths)
        self.mmd_weight, self.unbiased = float(mmd_weight), unbiased
        self.discriminator_regularization = float(discriminator_regularization)

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        needed = ("sentence_features", "score", "regularization")
        if all(callable(getattr(discriminator_class, name, None)) for name in needed):
            return None
        return (
            "estimator=textgan_mmd matches the discriminator's features: it needs sentence_features(), score() "
            "and regularization() (discriminator=textgan_cnn, seqgan, relgan or lstm), not "
            f"{discriminator_class.__name__}"
        )

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        refusal = self.discriminator_refusal(type(discriminator))
        if refusal is not None:
            raise TypeError(refusal)

    def mmd2(self, fake_features: torch.Tensor, real_features: torch.Tensor) -> torch.Tensor:
        """The squared MMD of this scheme's kernel between (m, F) and (n, F) features (scalar, float32)."""
        return mmd2(fake_features, real_features, self.bandwidths, self.unbiased)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        beta = self.schedule(step)
        sample = self._sample(generator, real_tokens.shape[0], real_tokens.shape[1], beta)  # rows (B, T, V)
        with torch.no_grad():  # the real sentences' features do not depend on the generator
            real_features = discriminator.sentence_features(real_tokens)  # (B, F)
        loss = self.mmd2(discriminator.sentence_features(sample.relaxed), real_features)
        return EstimatorOutput(loss=loss, logs={"beta": beta, "mmd2": loss.detach()})

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss
    ) -> torch.Tensor:
        """``loss_D(score(f), score(f~)) - mmd_weight * MMD^2(f~, f)``, plus the discriminator's regularisation
        and the GAN loss's penalty where it has one; each sentence's features are computed once."""
        real_features = discriminator.sentence_features(real)  # (B, F)
        fake_features = discriminator.sentence_features(fake)  # (B, F)
        loss = gan_loss.discriminator_loss(discriminator.score(real_features), discriminator.score(fake_features))
        if self.mmd_weight:
            loss = loss - self.mmd_weight * self.mmd2(fake_features, real_features)  # maximise the MMD
        if self.discriminator_regularization:
            loss = loss + self.discriminator_regularization * discriminator.regularization()
        if type(gan_loss).penalty is not GANLoss.penalty:  # only WGAN-GP pays for one-hot rows
            vocab = discriminator.vocab_size
            real_rows = F.one_hot(real, vocab).float()
            fake_rows = fake if fake.dim() == 3 else F.one_hot(fake, vocab).float()
            loss = loss + gan_loss.penalty(discriminator, real_rows, fake_rows.float())
        return loss
