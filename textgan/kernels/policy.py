"""The one decision whether a native CPU kernel runs: :func:`native_applies`.

Every fast path that has a native kernel asks this function, with its tensors and its own shape limits, and runs
its torch implementation (the specification) when the answer is no. The answer is yes only when all hold:

* ``TEXTGAN_NATIVE`` is not ``"0"`` (the only place textgan reads it; read at each call, so a test or a
  benchmark may set it at any time);
* the module's ``backend`` is not ``"torch"`` (``"auto"``, the default, or ``"native"``);
* every tensor is on the CPU and of a dtype the kernel reads (float32 or bfloat16 unless the caller says);
* the caller's shape and layout limits hold (``fits``);
* the kernels are built (:func:`textgan.kernels.build.library`: compiled on first use, None without a compiler).

``backend="native"`` turns a missing library into an error instead of a silent torch path (the CPU and dtype
conditions still apply: float64 inputs, say, always run in torch).
"""

from __future__ import annotations

import os

import torch

from textgan.kernels import build

FLOAT_TYPES = (torch.float32, torch.bfloat16)
BACKENDS = ("auto", "native", "torch")


def enabled() -> bool:
    """Whether the native kernels may run at all: ``TEXTGAN_NATIVE`` is not ``"0"``."""
    return os.environ.get("TEXTGAN_NATIVE", "1") != "0"


def available() -> bool:
    """Whether the native kernels may run and are built (building them on the first call)."""
    return enabled() and build.library() is not None


def native_applies(
    *tensors: torch.Tensor,
    dtypes: tuple[torch.dtype, ...] = FLOAT_TYPES,
    fits: bool = True,
    backend: str = "auto",
) -> bool:
    """Whether a native kernel runs for ``tensors`` (see the module docstring for the conditions, in order).

    Args:
        tensors: the kernel's inputs: each must be a CPU tensor of one of ``dtypes``.
        fits: the caller's own limits (shapes, layouts, dtypes between inputs), evaluated by the caller.
        backend: ``"auto"``, ``"native"`` (raise if the kernels are off or unbuilt) or ``"torch"`` (never).
    """
    if backend == "torch":
        return False
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto', 'native' or 'torch', not {backend!r}")
    if not all(tensor.device.type == "cpu" and tensor.dtype in dtypes for tensor in tensors):
        return False
    if not available():
        if backend == "native" and not enabled():
            raise RuntimeError("backend='native' requested but the native CPU kernels are off (TEXTGAN_NATIVE=0)")
        if backend == "native":
            raise RuntimeError(f"backend='native' requested but the native CPU kernels could not be built:\n"
                               f"{build.last_error}")  # fmt: skip
        return False
    return fits
