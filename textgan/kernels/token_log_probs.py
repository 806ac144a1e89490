"""The log-likelihood of given tokens under (B, T, V) logits: ``log_softmax(logits)`` gathered at the tokens.

``log p(y_t) = (o[y_t] - m) - log sum_v exp(o[v] - m)``, ``m = max_v o[v]``, in float32 whatever the logits'
type (bf16 under autocast), and its gradient ``g * (onehot(y_t) - softmax(o))`` in the logits' type.

Why a module of its own: teacher forcing (MLE, NLL_gen) evaluates this on every step of every sentence, and in
torch it is a cast of the logits to float32, the log-softmax, a gather, then in the backward pass a zero-filled
(B, T, V) gradient, the scatter into it, the log-softmax backward and the cast back: a dozen passes over
(B, T, V) tensors (25 MB each at the oracle's 64 x 20 x 5,000), about a sixth of a bf16 MLE step. On a CPU the
native kernel of :mod:`textgan.kernels.build` reads the logits twice forward (maximum, then sum of
exponentials) and once backward, writing only the (B, T) results and the (B, T, V) gradient: 7 ms instead of
27 ms for a forward and backward pass at oracle size on one thread of an AVX-512 EPYC. It runs for bfloat16
logits; for float32 ones torch's ops were measured as fast (11.7 ms both), so they keep torch's results bitwise.

Both paths compute the same function: values equal to torch's float32 log-softmax within a few float32 ulps
(another exp and summation order), gradients likewise before their rounding to the logits' type (see the
tests). Elsewhere (float32 or float64 logits, CUDA, no compiler, ``TEXTGAN_NATIVE=0``) torch's own ops run.
"""

from __future__ import annotations

import torch

from textgan.kernels import build
from textgan.kernels.parallel import parallel_rows
from textgan.kernels.policy import native_applies


def reference(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """The torch path (the specification): log-softmax in float32 (float64 for float64 logits), gathered."""
    log_probs = torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    return log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _kernel(name: str, dtype: torch.dtype):
    return getattr(build.library(), f"token_logp_{name}_{'bf16' if dtype == torch.bfloat16 else 'f32'}")


class _NativeTokenLogProbs(torch.autograd.Function):
    """logits (N, V) float32 / bfloat16 contiguous, targets (N,) int64 -> log-probabilities (N,) float32."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows, vocab = logits.shape
        log_probs, lse = torch.empty(rows), torch.empty(rows)
        kernel = _kernel("forward", logits.dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(logits.data_ptr(), targets.data_ptr(), n0, n1, vocab, log_probs.data_ptr(), lse.data_ptr())

        parallel_rows(rows, work)
        ctx.save_for_backward(logits, targets, lse)
        ctx.mark_non_differentiable(lse)
        return log_probs

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, targets, lse = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the same gradient as differentiable torch maths
            probs = torch.softmax(logits.float(), dim=-1)  # recomputed: its graph must reach the logits
            grad_logits = (-probs * grad.unsqueeze(-1)).scatter_add(-1, targets.unsqueeze(-1), grad.unsqueeze(-1))
            return grad_logits.to(logits.dtype), None
        rows, vocab = logits.shape
        grad = grad.float().contiguous()
        grad_logits = torch.empty_like(logits)
        kernel = _kernel("backward", logits.dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                logits.data_ptr(), targets.data_ptr(), lse.data_ptr(), grad.data_ptr(), n0, n1, vocab,
                grad_logits.data_ptr(),
            )  # fmt: skip

        parallel_rows(rows, work)
        return grad_logits, None


def applies(logits: torch.Tensor) -> bool:
    """Whether :func:`token_log_probs` runs the native kernel for these logits: bfloat16 CPU logits (float32:
    torch's own ops are as fast, measured, and stay bitwise)."""
    return native_applies(logits, dtypes=(torch.bfloat16,))


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log_softmax(logits, -1)`` at ``tokens``: logits (..., V), tokens (...) long -> (...) float32 (float64
    for float64 logits), differentiable in the logits: :func:`native` where it :func:`applies`, else
    :func:`reference`."""
    if tokens.shape != logits.shape[:-1]:
        shapes = f"tokens {tuple(tokens.shape)} do not match logits {tuple(logits.shape)}"
        raise ValueError(f"{shapes} without the last axis")
    return native(logits, tokens) if applies(logits) else reference(logits, tokens)


def native(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """:func:`token_log_probs` in the native kernel (bfloat16 or float32 CPU logits; see :func:`applies`)."""
    vocab = logits.shape[-1]
    flat = logits.reshape(-1, vocab).contiguous()
    targets = tokens.reshape(-1).to(torch.int64).contiguous()
    if targets.numel() and not bool(((targets >= 0) & (targets < vocab)).all()):  # the kernel would read past a row
        raise IndexError(f"token ids must lie in [0, {vocab}), got {int(targets.min())}..{int(targets.max())}")
    return _NativeTokenLogProbs.apply(flat, targets).view(tokens.shape)
