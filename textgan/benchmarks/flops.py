"""FLOP counts and model FLOPs utilisation (MFU) of the model rows (``textgan.benchmarks.models``).

MFU = (FLOPs of one measured step / its seconds) / (this machine's measured GEMM FLOP/s at that precision).
Seconds do not travel between hosts; MFU does, roughly.

**The count.** The matrix products and convolutions one step executes, forward and backward, each counted from
its shapes as 2 m n k (``torch.utils.flop_counter.FlopCounterMode``: ``mm``, ``addmm``, ``bmm``, convolutions,
attention); elementwise work, norms, softmaxes and gathers are not counted. The discriminator's fused native
convolution + max-pool (``textgan/kernels/csrc/native_kernels.c``) is invisible to the counter, so the count runs with
``TEXTGAN_NATIVE=0``: the same convolution as unfolded windows times the filter matrix, i.e. the dense
formulation's FLOPs (its backward as two dense products, although the native kernel only scatters through the
argmax). Counts depend on shapes only, not on precision or device, so one count per size serves every row.

**The peak.** The best of several square ``torch.mm`` products (n = 2048) in the row's dtype (float32, or
bfloat16 for bf16-mixed rows) with the benchmark's own thread count, so a row's MFU says how close its step
comes to what this machine's BLAS reaches on one large GEMM.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs of the matrix products and convolutions that ``step()`` runs (forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def disable_native_kernels() -> None:
    """Make the CNN discriminators use their torch formulation (counted), not the native C kernels (not):
    ``TEXTGAN_NATIVE=0``, which :func:`textgan.kernels.policy.native_applies` reads at each call."""
    os.environ["TEXTGAN_NATIVE"] = "0"


def gemm_flops_per_second(device: str = "cpu", precision: str = "fp32", n: int = 2048, repeats: int = 5) -> float:
    """The best FLOP/s of an (n x n) @ (n x n) product in float32 (``fp32``) or bfloat16 (``bf16``)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):  # the first one warms up the kernels
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def utilisation(flops: int, seconds: float, peak_flops_per_second: float) -> float:
    """MFU: achieved FLOP/s over the peak, a fraction in [0, 1] (up to measurement noise)."""
    if seconds <= 0 or peak_flops_per_second <= 0:
        raise ValueError(f"seconds ({seconds}) and the peak ({peak_flops_per_second}) must be positive")
    return flops / seconds / peak_flops_per_second
