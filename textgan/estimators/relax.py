"""RELAX (Grathwohl, Choi, Wu, Roeder, Duvenaud, "Backpropagation through the Void", ICLR 2018): REBAR with a
learned control variate ``c_phi`` of the relaxed sentence, trained to minimise the estimator's variance.

Same objective, sampling and sequence construction as :mod:`textgan.estimators.rebar` (read it first): with
``b`` the hard sentence drawn by Gumbel-Max with noise ``g`` (hard tokens fed back), ``g~`` noise drawn given
``b`` (:func:`textgan.sampling.conditional_gumbel`) and ``r(.)`` the relaxed sentence of a noise (the generator
fed its own rows ``softmax((theta_t + noise_t) / tau)``),

    g = [f(b) - c_phi(r(g~))] sum_t grad log p(b_t | b_<t) + grad c_phi(r(g)) - grad c_phi(r(g~)),

unbiased for every ``phi`` and ``tau``; ``phi`` and ``log tau`` minimise ``E ||g||^2`` (the variance, since
``E[g]`` does not depend on them) through the generator's gradient (``create_graph``, then
:meth:`RebarEstimator.after_backward`).

The control variate (our choice, following the paper's discrete experiments, which add a learned network to
REBAR's relaxed objective):

    c_phi(r) = eta * f_relaxed(r) + w2 . tanh(W1 mean_t(r_t) + b1) + b2,

``f_relaxed(r)`` the per-sentence GAN loss of ``D(r)`` (the relativistic loss pairs sentence ``i`` with real row
``i``), and a one-hidden-layer network of the sentence's mean relaxed row (V -> hidden -> 1): a learned
correction for which words the sentence uses, cheap for any length, created in :meth:`RelaxEstimator.setup`
once the vocabulary size is known. Its output layer starts at zero, so RELAX starts as REBAR with the same
``eta`` and ``tau``.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer
from textgan.estimators.rebar import RebarEstimator
from textgan.models.generator import Generator


class RelaxEstimator(RebarEstimator):
    """REBAR's estimator with ``c_phi = eta * f_relaxed + network(mean relaxed row)`` (see the module docstring).

    Args:
        num_samples: sentences per generator update (default: the real batch size).
        hidden_size: width of the control variate's hidden layer.
        eta: initial scale of the relaxed GAN loss in ``c_phi``.
        temperature: initial ``tau`` of the relaxation.
        learn_temperature: adapt ``log tau`` with ``phi``.
        optimizer: factory ``parameters -> optimizer`` for ``phi`` (and ``log tau``), a Hydra partial.
    """

    config_ranges = {"hidden_size": integer(1)}  # and RebarEstimator's

    def __init__(
        self,
        num_samples: int | None = None,
        hidden_size: int = 32,
        eta: float = 1.0,
        temperature: float = 0.5,
        learn_temperature: bool = True,
        optimizer=None,
    ) -> None:
        super().__init__(
            num_samples, eta=eta, temperature=temperature, learn_temperature=learn_temperature, optimizer=optimizer
        )
        if hidden_size < 1:
            raise ValueError(f"hidden_size must be positive, got {hidden_size}")
        self.hidden_size = hidden_size
        self.network: nn.Sequential | None = None

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        """Create the control variate's network for the generator's vocabulary (before a checkpoint loads)."""
        output = nn.Linear(self.hidden_size, 1)
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        network = nn.Sequential(nn.Linear(generator.vocab_size, self.hidden_size), nn.Tanh(), output)
        self.network = network.to(generator.device)

    def control_variate(self, rows: torch.Tensor, relaxed_losses: torch.Tensor) -> torch.Tensor:
        """``c_phi``: rows (N, T, V) and their per-sentence GAN losses (N,) -> (N,) float32."""
        if self.network is None:
            raise RuntimeError("RelaxEstimator.setup(generator, discriminator) must run before generator_loss")
        pooled = rows.float().mean(dim=1)  # (N, V)
        with torch.autocast(pooled.device.type, enabled=False):  # a small network: keep it in float32
            correction = self.network(pooled).squeeze(-1)  # (N,)
        return self.eta * relaxed_losses + correction
