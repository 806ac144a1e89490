"""Process-wide floating-point settings for training on CPUs.

Subnormal ("denormal") floats, below 1.2e-38 in float32, cost x86 cores about a hundred times more per
operation than normal ones. Text generators produce them in bulk: the teacher-forced log-softmax backward fills
a (B, T, V) gradient with products of tiny probabilities, and once the generator is peaked many are subnormal;
the output projection's backward product over them then runs orders of magnitude slower. Flushing them to
zero (the FTZ and DAZ modes) changes results only below 1.2e-38 and keeps runs deterministic.

bfloat16 on CPUs: its matrix products are fast only where oneDNN has bf16 kernels (AVX-512, AMX). Elsewhere
``textgan-train`` emulates them (:func:`bf16_products_mode`, :mod:`textgan.kernels.bf16_products`), or, where the user
asked for the native kernels anyway, says what that costs (:func:`slow_bf16_warning`).
"""

from __future__ import annotations

import torch

#: ``textgan-train``'s ``bf16_products`` choices (see :func:`bf16_products_mode`).
BF16_PRODUCTS_SETTINGS = ("auto", "native", "emulated")


def flush_denormals(enabled: bool = True) -> bool:
    """Treat subnormal floats as zero on CPU, in this thread and in threads it creates from now on.

    Call it before the process's first parallel torch operation: OpenMP worker threads copy the floating-point
    mode of the thread that starts them, and a running pool keeps the mode it started with. GPUs are not
    affected. Returns whether the CPU supports it (x86 with SSE3).
    """
    return torch.set_flush_denormal(enabled)


def cpu_has_bf16_kernels() -> bool:
    """Whether torch's CPU matrix products run bfloat16 in native kernels (oneDNN: AVX-512 or AMX cores).

    Without them (AVX2-only x86 cores, for one) torch multiplies bfloat16 matrices in a reference loop: on a
    2-core AVX2 EPYC, a 1280 x 512 x 5000 product took 3.5 s in bfloat16 against 0.15 s in float32, and a
    bf16-mixed RelGAN MLE step at oracle size 21.7 s against 1.07 s (one thread).
    """
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if check is None:  # a torch without the query: assume the kernels, as torch itself would run
        return True
    return bool(check())


def bf16_products_mode(setting: str, precision: str, on_cpu: bool, native: bool | None = None) -> str | None:
    """How bf16 matrix products run: ``"native"``, ``"emulated"`` (:mod:`textgan.kernels.bf16_products`) or ``None``
    where none run on the CPU (a precision other than bf16, or a GPU).

    ``setting`` is ``textgan-train``'s ``bf16_products``: ``auto`` emulates where the CPU has no bf16 kernels
    (``native`` defaults to :func:`cpu_has_bf16_kernels`), ``native`` / ``emulated`` force either.
    """
    if setting not in BF16_PRODUCTS_SETTINGS:
        raise ValueError(f"bf16_products must be 'auto', 'native' or 'emulated', got {setting!r}")
    if not on_cpu or not str(precision).startswith("bf16"):
        return None
    if setting != "auto":
        return setting
    if native is None:
        native = cpu_has_bf16_kernels()
    return "native" if native else "emulated"


def slow_bf16_warning(precision: str, on_cpu: bool, native: bool | None = None) -> str | None:
    """The warning for bfloat16 precision on a CPU without bf16 kernels (``None`` when there is nothing to say).

    ``precision`` is Lightning's (``bf16-mixed``, ``bf16-true``, ``32-true`` ...); ``native`` defaults to
    :func:`cpu_has_bf16_kernels`.
    """
    if not on_cpu or not str(precision).startswith("bf16"):
        return None
    if native is None:
        native = cpu_has_bf16_kernels()
    if native:
        return None
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        f"trainer.precision={precision} on a CPU without bfloat16 kernels (torch reports {capability}; "
        "oneDNN's bf16 products need AVX-512 or AMX): bfloat16 matrix products run in a reference loop, "
        "~20x slower than float32 here. bf16_products=auto emulates them at float32 speed with bf16's "
        "numerics (textgan/kernels/bf16_products.py); trainer.precision=32-true trains in float32."
    )
