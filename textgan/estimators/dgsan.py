"""DGSAN: the discrete generative self-adversarial network, with an implicit discriminator and no network for it.

Montahaei, Alihosseini and Soleymani Baghshah, *DGSAN: Discrete Generative Self-Adversarial Network*
(arXiv 1908.09127, 2019; the authors' code IAmS4n/DGSAN). The discriminator is not a network: it is the ratio of
the generator ``p_new = p_theta`` to a frozen earlier copy of itself ``p_old``,

    D(x) = p_new(x) / (p_new(x) + p_old(x)) = sigmoid(log p_new(x) - log p_old(x)),

with ``log p(x) = sum_t log p(x_t | x_<t)`` the *sentence* log-likelihoods, so ``D`` stays exact and finite when
the probabilities themselves underflow (a 20-token sentence of a 5,000-word oracle has ``p(x) ~ e^-100``).
Training this ``D`` as a GAN discriminator between the data and samples of ``p_old`` (the paper's JS objective,
the authors' default ``dgsan_divergence_type: JS``) *is* the generator's update:

    loss(theta) = -E_{x ~ p_d}[log D(x)] - E_{y ~ p_old}[log(1 - D(y))]
                = E_{p_d}[softplus(log p_old - log p_new)] + E_{p_old}[softplus(log p_new - log p_old)],

whose optimum over all distributions is ``D* = p_d / (p_d + p_old)``, i.e. ``p_new = p_d``. Samples come from the
frozen ``p_old``, so nothing is differentiated through sampling: the batch loss's gradient,
``-(1 - D(x)) grad log p_new(x)`` per real sentence and ``D(y) grad log p_new(y)`` per sample, is an unbiased
estimate of the exact gradient, with no score-function variance. ``p_old`` is then refreshed to ``p_new`` and the
game repeats (each new generator defined by the last discriminator).

The refresh schedule: ``refresh_every`` iterations (``refresh: every``; TextGAN-PyTorch refreshes once per
pass over its 10,000 samples), or the authors' code's rule (``refresh: converged``): every ``refresh_every``
iterations (one "epoch") the epoch's mean loss is recorded, and ``p_old`` is refreshed when the standard
deviation of the last ``window`` epoch losses is below ``tolerance``, at least ``min_epochs`` and at most
``max_epochs`` epochs after the last refresh. The copy is made in :meth:`setup` and synchronised at the first
update; it and the schedule's state are checkpointed (a resumed run refreshes where the uninterrupted one does).

Not here: the authors' code's alternative divergences (KL, reverse KL, ...) and its conditional variant (real
prefix, growing sampled continuation); TextGAN-PyTorch's per-token ratios ``p_old(x_t) / (p_new(x_t) + 0)``,
which are a different objective and give nan / inf when a token's probability underflows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import Arguments, Refusals, integer, number, one_of, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.delayed_policy import DelayedPolicy
from textgan.models.generator import Generator

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

REFRESH_MODES = ("every", "converged")


def implicit_discriminator(new_log_prob: torch.Tensor, old_log_prob: torch.Tensor) -> torch.Tensor:
    """``D = p_new / (p_new + p_old)`` from sentence log-likelihoods (...), computed as ``sigmoid`` of their gap."""
    return torch.sigmoid(new_log_prob - old_log_prob)


def dgsan_losses(
    real_new: torch.Tensor, real_old: torch.Tensor, fake_new: torch.Tensor, fake_old: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sentence ``-log D`` of real sentences (B,) and ``-log(1 - D)`` of ``p_old``'s samples (B',).

    Arguments are sentence log-likelihoods under the generator (with a graph) and under the frozen copy.
    ``-log sigmoid(a) = softplus(-a)``: finite for any finite log-likelihoods.
    """
    real = F.softplus(real_old.detach() - real_new)  # -log D(x)
    fake = F.softplus(fake_new - fake_old.detach())  # -log(1 - D(y))
    return real, fake


class RefreshSchedule(nn.Module):
    """When DGSAN's frozen copy is refreshed (see the module docstring); its state is checkpointed.

    ``due(step)`` is asked before the update of iteration ``step`` and ``record(loss)`` after it; ``refreshed``
    is called when the copy is made. A first refresh is always due (the copy starts equal to the generator).
    """

    def __init__(
        self, mode: str, every: int, window: int = 20, tolerance: float = 3e-3, min_epochs: int = 10,
        max_epochs: int = 100,
    ) -> None:  # fmt: skip
        super().__init__()
        if mode not in REFRESH_MODES:
            raise ValueError(f"unknown refresh mode {mode!r}; choose one of {REFRESH_MODES}")
        if min(every, window) < 1 or not 0 <= min_epochs <= max_epochs:
            raise ValueError("refresh_every and window must be positive, 0 <= min_epochs <= max_epochs")
        self.mode, self.every, self.window, self.tolerance = mode, every, window, tolerance
        self.min_epochs, self.max_epochs = min_epochs, max_epochs
        self.refreshed_at = -1  # iteration of the last refresh; -1: never
        self.epoch_start = 0  # first iteration of the epoch being recorded
        self.epoch_losses: list[float] = []  # mean loss of the last ``window`` epochs
        self.register_buffer("loss_sum", torch.zeros(()), persistent=False)  # in extra state, as a float
        self.loss_count = 0

    def due(self, step: int) -> bool:
        """Whether to refresh before iteration ``step``'s update (repeated calls within one step: False)."""
        if self.refreshed_at < 0:
            return True
        if step <= self.refreshed_at:
            return False
        if self.mode == "every":
            return step - self.refreshed_at >= self.every
        if step - self.epoch_start < self.every or self.loss_count == 0:
            return False
        self.epoch_losses = (self.epoch_losses + [(self.loss_sum / self.loss_count).item()])[-self.window :]
        self.epoch_start, self.loss_count = step, 0  # one host sync per epoch
        self.loss_sum.zero_()
        epochs = (step - self.refreshed_at) // self.every
        if len(self.epoch_losses) < self.window or epochs <= self.min_epochs:
            return False
        return epochs >= self.max_epochs or float(torch.tensor(self.epoch_losses).std(correction=0)) < self.tolerance

    def record(self, loss: torch.Tensor) -> None:
        """Add one update's loss to the epoch's mean (no host sync)."""
        if self.mode == "converged":
            self.loss_sum = self.loss_sum.to(loss.device) + loss.detach().float()
            self.loss_count += 1

    def refreshed(self, step: int) -> None:
        self.refreshed_at = step

    def get_extra_state(self) -> dict[str, Any]:
        return {
            "refreshed_at": self.refreshed_at, "epoch_start": self.epoch_start, "epoch_losses": list(self.epoch_losses),
            "loss_sum": float(self.loss_sum), "loss_count": self.loss_count,
        }  # fmt: skip

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.refreshed_at, self.epoch_start = int(state["refreshed_at"]), int(state["epoch_start"])
        self.epoch_losses = [float(value) for value in state["epoch_losses"]]
        self.loss_sum = torch.tensor(float(state["loss_sum"]), device=self.loss_sum.device)
        self.loss_count = int(state["loss_count"])


class DgsanEstimator(Estimator):
    """DGSAN's generator update against its implicit discriminator (see the module docstring).

    Args:
        refresh: ``every`` (a fixed interval) or ``converged`` (the authors' rule).
        refresh_every: iterations between refreshes (``every``), or per epoch (``converged``).
        window, tolerance, min_epochs, max_epochs: the ``converged`` rule (authors: 20, 3e-3, 10, 100).
        num_samples: samples of ``p_old`` per update (default: the real batch size).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    trains_discriminator = False

    config_ranges = {
        "refresh": one_of(*REFRESH_MODES),
        "refresh_every": integer(1),
        "window": integer(2),
        "tolerance": number(0, above=True),
        "min_epochs": integer(0),
        "max_epochs": integer(1),
        "num_samples": optional(integer(1)),  # null: the real batch size
    }

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        if arguments["min_epochs"] > arguments["max_epochs"]:
            yield "min_epochs", "an integer <= {max_epochs}"

    def __init__(
        self,
        refresh: str = "every",
        refresh_every: int = 156,
        window: int = 20,
        tolerance: float = 3e-3,
        min_epochs: int = 10,
        max_epochs: int = 100,
        num_samples: int | None = None,
    ) -> None:
        super().__init__()
        self.schedule = RefreshSchedule(refresh, refresh_every, window, tolerance, min_epochs, max_epochs)
        self.old = DelayedPolicy(0.0)  # rate 0: every update is a full copy; holds p_old, checkpointed
        self.num_samples = num_samples

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        """Create the frozen copy ``p_old`` (before a checkpoint loads into it)."""
        self.old.setup(generator)

    @property
    def old_generator(self) -> Generator:
        if self.old.policy is None:
            raise RuntimeError("DgsanEstimator.setup(generator, discriminator) creates the frozen copy first")
        return self.old.policy

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        self.setup(generator, discriminator)
        if self.schedule.due(step):
            self.old.update(generator)
            self.schedule.refreshed(step)
        old = self.old_generator
        batch, length = real_tokens.shape
        with torch.no_grad():
            fakes = old.sample(self.num_samples or batch, length, batch_size=self.num_samples or batch)  # (B', T)
            both = torch.cat([real_tokens, fakes])  # (B + B', T)
            old_log_prob = old.log_prob(both).sum(dim=-1)  # (B + B',)
        new_log_prob = generator.log_prob(both).sum(dim=-1)  # (B + B',) with a graph: one teacher-forced pass
        real, fake = dgsan_losses(
            new_log_prob[:batch], old_log_prob[:batch], new_log_prob[batch:], old_log_prob[batch:]
        )
        loss = real.mean() + fake.mean()
        self.schedule.record(loss)
        verdict = implicit_discriminator(new_log_prob.detach(), old_log_prob)
        logs: dict[str, torch.Tensor | float] = {
            "d_real": verdict[:batch].mean(),
            "d_fake": verdict[batch:].mean(),
            "log_ratio_real": (new_log_prob.detach() - old_log_prob)[:batch].mean(),
            "refreshed_at": float(self.schedule.refreshed_at),
        }
        return EstimatorOutput(loss=loss, logs=logs)
