"""CoT: cooperative training of the generator with a mediator language model.

Lu, Yu, Feng, Zhu, Zhang, Yu, *CoT: Cooperative Training for Generative Modeling of Discrete Data* (ICML 2019,
arXiv 1804.03782; code: desire2020/Cooperative-Training). The Jensen-Shannon divergence between the data ``P``
and the generator ``G`` is estimated through a mediator ``M_phi`` (:mod:`textgan.models.mediator`) trained by
maximum likelihood on the balanced mixture of the two:

    mediator:   min_phi  1/2 E_{x~P}[-log M(x)] + 1/2 E_{s~G}[-log M(s)]      (per-token means, as the code)

which makes ``M`` estimate ``(P + G) / 2``. The generator minimises ``KL(G || M)`` expanded over the steps of
its own samples, each step's divergence summed exactly over the vocabulary:

    generator:  min_theta  E_{s~G}[ sum_t sum_v G(v | s_<t) (log G(v | s_<t) - log M(v | s_<t)) ]

with the gradient taken through the exact per-step sums only: the sampled prefixes ``s_<t`` are constants, as
in Algorithm 1 (its generator update differentiates ``pi_g(s_t)^T (log pi_m(s_t) - log pi_g(s_t))`` at states
``s_t`` sampled from ``G``) and in the released code (samples fed as placeholders, gradient through
``g_predictions`` only). There is no score-function term for the prefix distribution, so the estimator
adds no sampling variance of its own; its only noise is which prefixes were drawn. Its expectation is the
gradient of ``sum_t E_{s_<t ~ sg(G)}[KL_t]`` (``sg``: the prefix distribution held at the current generator),
not of the sequence-level ``KL(G || M)``, which would add ``E[KL_{>=t} grad log G(s_t | s_<t)]`` terms
(``tests/estimators/test_cot.py`` checks both statements on an enumerated problem).

On the seam: the mediator is the discriminator (``discriminator=mediator``); its update is this estimator's
``discriminator_loss`` on a real batch and as many generator samples (``discriminator_fakes``), so one
adversarial iteration is the released code's: one generator step, then ``discriminator_steps`` mediator steps
(Algorithm 1 lists the mediator steps first: the same alternation, shifted by the first generator step). The
configured GAN loss is not used. Reductions: ``sequence_mean`` sums the steps and averages the sentences (the
objective above); ``token_mean`` also divides by ``T`` (the released code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import integer, one_of, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.models.generator import Generator
from textgan.models.mediator import Mediator, language_model
from textgan.sampling import categorical_sample

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

REDUCTIONS = ("sequence_mean", "token_mean")


def step_kl(log_g: torch.Tensor, log_m: torch.Tensor) -> torch.Tensor:
    """``KL(G(.|s_<t) || M(.|s_<t))`` per step, exact over the vocabulary: log-probabilities (B, T, V) -> (B, T)."""
    return (log_g.exp() * (log_g - log_m)).sum(dim=-1)


def balanced_mixture_nll(mediator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """CoT's mediator loss: the per-token NLL of the balanced mixture, each half weighted 1/2 whatever its rows."""
    return 0.5 * (mediator.nll(real) + mediator.nll(fake))


class CotEstimator(Estimator):
    """CoT's generator objective and mediator loss (see the module docstring); needs ``discriminator=mediator``.

    Args:
        num_samples: sentences per generator update (default: the real batch size).
        reduction: ``sequence_mean`` (sum over steps, mean over sentences) or ``token_mean`` (mean over both).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {"num_samples": optional(integer(1)), "reduction": one_of(*REDUCTIONS)}

    def __init__(self, num_samples: int | None = None, reduction: str = "sequence_mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; choose one of {REDUCTIONS}")
        self.num_samples, self.reduction = num_samples, reduction

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        if issubclass(discriminator_class, (Mediator, Generator)):
            return None
        return (
            "estimator=cot needs discriminator=mediator (a language model of the generator's class, trained "
            f"by MLE on real and generated sentences), not {discriminator_class.__name__}"
        )

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        self.check_discriminator(discriminator)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        mediator = language_model(discriminator)
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        tokens, logits, _ = generator.unroll(
            batch, length, lambda step_logits: categorical_sample(step_logits.detach()), keep_logits=True
        )  # (B, T) constants, (B, T, V) with a graph: G(. | s_<t) at the sampled prefixes
        log_g = torch.log_softmax(logits.float(), dim=-1)
        with torch.no_grad():
            log_m = torch.log_softmax(mediator(tokens).float(), dim=-1)  # (B, T, V): M(. | s_<t)
        kl = step_kl(log_g, log_m)  # (B, T)
        loss = kl.sum(dim=1).mean() if self.reduction == "sequence_mean" else kl.mean()
        with torch.no_grad():
            sampled = tokens.unsqueeze(-1)
            logs: dict[str, torch.Tensor | float] = {
                "kl_generator_mediator": kl.sum(dim=1).mean(),  # per sentence, along its own prefixes
                "log_prob": log_g.gather(-1, sampled).sum(dim=(1, 2)).mean(),
                "mediator_log_prob": log_m.gather(-1, sampled).sum(dim=(1, 2)).mean(),
            }
        return EstimatorOutput(loss=loss, logs=logs)

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss
    ) -> torch.Tensor:
        """The mediator's MLE step on the balanced mixture of ``real`` and ``fake`` (generator samples)."""
        return balanced_mixture_nll(language_model(discriminator), real, fake)
