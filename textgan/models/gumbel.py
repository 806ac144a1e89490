"""Gumbel noise, Gumbel-Max sampling and the Gumbel-Softmax relaxation.

These are the sampling primitives of the background note (claims 1-3):

* ``gumbel_max_sample(logits)`` draws exactly from ``Categorical(softmax(logits))``;
* ``gumbel_softmax(logits, inverse_temperature)`` is its smooth stand-in ``softmax(beta * (o + g))``;
* ``straight_through`` keeps the hard one-hot in the forward pass and the soft gradient in the backward pass.

All functions take an optional ``torch.Generator`` so that draws are reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_TINY = 1e-20


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


def perturb(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return ``logits + g`` with fresh standard Gumbel noise ``g`` (same shape, float32 or wider)."""
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    return logits + gumbel_noise(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)


def gumbel_max_sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Exact categorical sample ``argmax(o + g)`` over the last axis (claim 1 and 2): (...) LongTensor."""
    return perturb(logits, generator).argmax(dim=-1)


def categorical_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample token ids from ``softmax(logits / temperature)`` over the last axis.

    Uses inverse-CDF sampling (one uniform number per row), which draws from the same distribution as
    Gumbel-Max but needs one exponential per entry instead of random numbers and two logarithms; this is
    what makes hard sampling for the discriminator and for evaluation cheap. Shape: (..., V) -> (...).
    """
    flat = logits.reshape(-1, logits.shape[-1]).float()
    if temperature != 1.0:
        flat = flat / temperature
    cdf = torch.softmax(flat, dim=-1).cumsum(dim=-1)
    u = torch.rand(flat.shape[0], 1, device=flat.device, dtype=cdf.dtype, generator=generator)
    index = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_max_(flat.shape[-1] - 1)
    return index.reshape(logits.shape[:-1])


def gumbel_softmax(
    logits: torch.Tensor,
    inverse_temperature: float | torch.Tensor,
    *,
    gumbel: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Relaxed one-hot ``softmax(beta * (o + g))`` over the last axis, computed in float32."""
    perturbed = logits.float() + (
        gumbel
        if gumbel is not None
        else gumbel_noise(logits.shape, device=logits.device, generator=generator)
    )
    return torch.softmax(perturbed * inverse_temperature, dim=-1)


def straight_through(soft: torch.Tensor, hard_index: torch.Tensor) -> torch.Tensor:
    """One-hot of ``hard_index`` in the forward pass, gradient of ``soft`` in the backward pass."""
    hard = F.one_hot(hard_index, soft.shape[-1]).to(soft.dtype)
    return hard + (soft - soft.detach())
