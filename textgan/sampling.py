"""Drawing tokens from logits: categorical samples (optionally truncated), Gumbel noise and the straight-through
one-hot.

* ``categorical_sample(logits, temperature)`` draws token ids from ``Categorical(softmax(logits / temperature))``
  with no graph (``sample()`` in ``torch.distributions`` terms): generators, the oracle and REINFORCE use it;
* ``filter_logits(logits, top_k, top_p)`` truncates a distribution to its top-k tokens and / or its nucleus
  (top-p) by setting the other logits to ``-inf`` (decoding with ``textgan-generate``);
* ``gumbel_noise(shape)`` is the noise ``g`` of the Gumbel-Max trick: ``argmax(logits + g)`` is an exact
  categorical sample and ``softmax(beta * (logits + g))`` its relaxation (RelGAN's Gumbel-Softmax,
  ``Generator.rsample``);
* ``draw_seeds(count)`` draws the seeds of the native sampler step (:mod:`textgan.kernels.gumbel_max`: the
  noise, the Gumbel-Max token and the relaxed row in one pass on a CPU) from torch's stream;
* ``straight_through(soft, hard_index)`` keeps the hard one-hot in the forward pass and the soft gradient in the
  backward pass.

The samplers take an optional ``torch.Generator`` so that draws are reproducible. Shapes: ``V`` vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_TINY = 1e-20
# top-p counts a nucleus as reaching p when its mass is within float32 rounding of p, so that a set whose
# probabilities sum to exactly p (six tokens of 0.1 for p = 0.6: 0.59999996 in float32) is not grown by one token
_NUCLEUS_TOLERANCE = 1e-6


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


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Keep the top-k tokens and / or the nucleus of each row of ``logits``, the rest set to ``-inf``: (..., V).

    ``top_k``: the ``k`` most probable tokens (all of them when ``k >= V``). ``top_p`` (nucleus sampling,
    Holtzman et al., 2020): the smallest set of most probable tokens whose probability reaches ``p``, i.e.
    every token whose more probable predecessors hold less than ``p``; the most probable token is always kept
    and ``p = 1`` keeps every token. With both, top-k is applied first and the nucleus is taken of the
    renormalised top-k distribution (the order of Hugging Face's samplers). Ties are broken towards the lower
    token id, as ``argmax`` does, so ``top_k=1`` keeps exactly the argmax and both sets have their stated
    size. Logits that are already ``-inf`` stay so. ``softmax`` of the result is the truncated, renormalised
    distribution; with neither option ``logits`` itself is returned.
    """
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    vocab_size = logits.shape[-1]
    truncate_k = top_k is not None and top_k < vocab_size
    truncate_p = top_p is not None and top_p < 1.0
    if not (truncate_k or truncate_p):
        return logits
    # stable: equal logits keep their id order, so ties go to the lower id
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)  # (..., V) each
    keep = torch.ones_like(sorted_logits, dtype=torch.bool)  # (..., V), in sorted order
    if truncate_k:
        keep[..., top_k:] = False
    if truncate_p:
        probs = torch.softmax(sorted_logits.float().masked_fill(~keep, float("-inf")), dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each one
        keep &= mass_before < top_p - _NUCLEUS_TOLERANCE
        keep[..., 0] = True
    kept = torch.zeros_like(keep).scatter_(-1, order, keep)  # back to id order
    return logits.masked_fill(~kept, float("-inf"))


def gumbel_noise(
    shape: torch.Size | tuple[int, ...],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Standard Gumbel noise ``g = -log(-log u)``, ``u ~ U(0, 1)``, of the given shape."""
    uniform = torch.rand(shape, device=device, dtype=dtype, generator=generator)
    # in place, one buffer: u -> Exp(1) = -log u (strictly positive after clamping) -> -log Exp(1)
    return uniform.clamp_min_(_TINY).log_().neg_().clamp_min_(_TINY).log_().neg_()


def draw_seeds(count: int, generator: torch.Generator | None = None) -> list[int]:
    """``count`` seeds for :func:`textgan.kernels.gumbel_max.gumbel_max` from torch's random stream (reproducible,
    resumable)."""
    return torch.randint(0, 2**62, (count,), generator=generator).tolist()


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
