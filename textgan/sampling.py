"""Drawing tokens from logits: categorical samples, Gumbel noise and the straight-through one-hot.

* ``categorical_sample(logits, temperature)`` draws token ids from ``Categorical(softmax(logits / temperature))``
  with no graph (``sample()`` in ``torch.distributions`` terms): generators, the oracle and REINFORCE use it;
* ``gumbel_noise(shape)`` is the noise ``g`` of the Gumbel-Max trick: ``argmax(logits + g)`` is an exact
  categorical sample and ``softmax(beta * (logits + g))`` its relaxation (RelGAN's Gumbel-Softmax,
  ``Generator.rsample``);
* ``straight_through(soft, hard_index)`` keeps the hard one-hot in the forward pass and the soft gradient in the
  backward pass.

Each takes an optional ``torch.Generator`` so that draws are reproducible. Shapes: ``V`` vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_TINY = 1e-20


def categorical_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample token ids from ``softmax(logits / temperature)`` over the last axis: (..., V) -> (...) long.

    Uses inverse-CDF sampling (one uniform number per row), which draws from the same distribution as
    Gumbel-Max but needs the softmax's exponential per entry instead of a random number and two logarithms,
    so hard sampling for the discriminator, REINFORCE and evaluation stays cheap.
    """
    flat = logits.reshape(-1, logits.shape[-1]).float()
    if temperature != 1.0:
        flat = flat / temperature
    cdf = torch.softmax(flat, dim=-1).cumsum(dim=-1)
    u = torch.rand(flat.shape[0], 1, device=flat.device, dtype=cdf.dtype, generator=generator)
    index = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_max_(flat.shape[-1] - 1)
    return index.reshape(logits.shape[:-1])


def gumbel_noise(
    shape: torch.Size | tuple[int, ...],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Standard Gumbel noise ``g = -log(-log u)``, ``u ~ U(0, 1)``, of the given shape."""
    uniform = torch.rand(shape, device=device, dtype=dtype, generator=generator)
    exponential = -torch.log(uniform.clamp_min(_TINY))  # Exp(1), strictly positive after clamping
    return -torch.log(exponential.clamp_min(_TINY))


def straight_through(soft: torch.Tensor, hard_index: torch.Tensor) -> torch.Tensor:
    """One-hot of ``hard_index`` (...) in the forward pass, gradient of ``soft`` (..., V) in the backward pass."""
    hard = F.one_hot(hard_index, soft.shape[-1]).to(soft.dtype)
    return hard + (soft - soft.detach())


def conditional_gumbel(
    log_probs: torch.Tensor,
    index: torch.Tensor,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Perturbed values ``z = log_probs + g`` with Gumbel noise ``g`` drawn *given* ``argmax(z) = index``.

    The top-down construction of REBAR (Tucker et al., 2017) and Gumbel-Rao (Paulus et al., 2021): with
    ``u ~ U(0, 1)`` per entry, ``z_b = -log(-log u_b)`` (the maximum of Gumbels with the normalised
    ``log_probs``) and, for ``i != b``, ``z_i = -log(-log(u_i) exp(-log_probs_i) - log u_b)``, a Gumbel with
    location ``log_probs_i`` truncated below ``z_b``. Drawing ``index`` from ``softmax(log_probs)`` and then
    ``z`` this way gives ``z`` the unconditional distribution of ``log_probs + Gumbel``. ``z`` is a
    differentiable function of ``log_probs`` for fixed ``u`` (REBAR's conditional reparameterisation).

    Args:
        log_probs: normalised log-probabilities (..., V).
        index: the conditioning argmax (...) long.
        num_samples: K independent draws stacked in a new leading axis (K, ..., V); None: one draw (..., V).
    """
    shape = log_probs.shape if num_samples is None else (num_samples, *log_probs.shape)
    uniform = torch.rand(shape, device=log_probs.device, dtype=log_probs.dtype, generator=generator)
    uniform = uniform.clamp(_TINY, 1.0 - 1e-7)
    index = index.expand(shape[:-1]).unsqueeze(-1)  # (..., 1)
    top_uniform = uniform.gather(-1, index)  # (..., 1)
    top = -torch.log(-torch.log(top_uniform))  # (..., 1): Gumbel(0) maximum, log_probs normalised
    # -log(-log(u_i) exp(-log_probs_i) - log u_b), in log space so that tiny probabilities cannot overflow
    others = -torch.logaddexp(torch.log(-torch.log(uniform)) - log_probs, torch.log(-torch.log(top_uniform)))
    return others.scatter(-1, index, top)
