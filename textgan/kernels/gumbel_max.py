"""One step of RelGAN's sampler on a CPU in one native pass: Gumbel noise, the Gumbel-Max token and the relaxed
row ``softmax(beta * (logits + g))`` (or the noise itself).

Why: in torch the step draws its uniforms serially from one random stream and makes five passes over (N, V)
(two logarithms, the sum, the softmax, the argmax): about half the time of RelGAN's sampling without a graph.
The kernel draws counter-based noise for ``(seed, n V + v)`` where it needs it, so the result does not depend
on how rows are split over threads. The torch path it replaces (:func:`textgan.sampling.gumbel_noise`, then the
softmax and the argmax, in :meth:`textgan.models.generator.Generator.rsample`) draws the same distribution from
torch's stream instead: the two paths give different samples from one distribution, and a run keeps one of them
throughout (the seeds, one per step, come from torch's stream either way: :func:`textgan.sampling.draw_seeds`).
"""

from __future__ import annotations

import torch

from textgan.kernels import build
from textgan.kernels.parallel import parallel_rows
from textgan.kernels.policy import native_applies

BF16_ROWS_MAX_VOCAB = 65536  # a bfloat16 ``out`` row is built in a float32 row on the kernel's stack


def applies(logits: torch.Tensor) -> bool:
    """Whether :func:`gumbel_max` runs for these logits (CPU, float32 or bfloat16, kernels built)."""
    return native_applies(logits)


def gumbel_max(
    logits: torch.Tensor, seed: int, out: torch.Tensor, inverse_temperature: float = 1.0, write_noise: bool = False
) -> torch.Tensor:
    """One Gumbel-Max step over rows of ``logits`` (N, V) in one native pass: the tokens (N,) long.

    The noise ``g`` of row ``n``, entry ``v`` is a counter-based draw for ``(seed, n V + v)`` (SplitMix64, 23
    random bits per uniform, ``g = -log(-log u)``), so the result does not depend on how rows are split over
    threads. The token is the first argmax of ``logits + g`` (an exact categorical sample, as with
    :func:`textgan.sampling.gumbel_noise`); ``out`` (N, V) float32 with unit stride along V receives ``g``
    (``write_noise``) or the relaxed row ``softmax(inverse_temperature * (logits + g))``; a bfloat16 ``out``
    receives the same values rounded once (the rows of V up to ``BF16_ROWS_MAX_VOCAB``). On a CPU this replaces
    torch's serial random-number generator, two logarithm passes, the softmax and the argmax (half the time of
    RelGAN's sampling without a graph); other devices use :func:`textgan.sampling.gumbel_noise`.
    """
    rows, vocab = logits.shape
    low = out.dtype == torch.bfloat16 and vocab <= BF16_ROWS_MAX_VOCAB
    if out.shape != logits.shape or not (out.dtype == torch.float32 or low) or out.stride(-1) != 1:
        kinds = f"float32 (or bfloat16 for V <= {BF16_ROWS_MAX_VOCAB})"
        raise ValueError(f"out must be {tuple(logits.shape)} {kinds} with unit stride along V, got {out.dtype} "
                         f"{tuple(out.shape)} strides {out.stride()}")  # fmt: skip
    logits = logits.contiguous()
    tokens = torch.empty(rows, dtype=torch.int64)
    library = build.library()
    name = "bf16" if logits.dtype == torch.bfloat16 else "f32"
    kernel = getattr(library, f"gumbel_max_{name}_to_bf16" if low else f"gumbel_max_{name}")
    beta, ld = float(inverse_temperature), out.stride(0)

    def work(part: int, n0: int, n1: int) -> None:
        kernel(logits.data_ptr(), n0, n1, vocab, seed, beta, int(write_noise), out.data_ptr(), ld, tokens.data_ptr())

    parallel_rows(rows, work)
    return tokens
