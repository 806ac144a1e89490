"""bfloat16 matrix products in float32 arithmetic, for CPUs without bf16 kernels.

Under bf16 autocast every matrix product (``F.linear``, ``bmm``, the discriminator's convolutions) takes bfloat16
operands and returns a bfloat16 result; oneDNN's bf16 kernels (AVX-512, AMX cores) multiply the bf16 operands
exactly, accumulate in float32 and round the sum to bfloat16 once. On CPUs without those kernels (AVX2-only x86
cores, for one) torch runs the same products in a reference loop about 20x slower than float32
(:func:`textgan.kernels.numerics.cpu_has_bf16_kernels`), which makes bf16-mixed training unusable there.

:class:`EmulatedBF16Products` computes each such product the way the bf16 kernels do, in float32 kernels: the
bf16 operands are widened to float32 (exactly), multiplied and accumulated in float32 (a product of two bf16
numbers is exact in float32), and the sum is rounded to bfloat16. So results are what an AVX-512 host's bf16
kernels give, up to the order of the float32 summation (a rounding of the float32 sum, then the same rounding
to bf16: the two agree to the last bf16 bit in all but rare ties), at float32 speed. Everything else (the
elementwise bf16 work, which is fast on any CPU, autocast's casts, the float32 ops) runs unchanged.

It is a ``TorchDispatchMode``: it sees the aten operations below autograd, so the products of the backward pass
(the same ``mm`` / ``bmm`` / ``convolution_backward`` on bf16 gradients) are emulated too, while autograd records
the original operations. Cost: one Python call per aten operation while active (a few percent of a RelGAN
iteration; ``scripts/benchmark.py`` measures it). ``textgan-train`` turns it on by itself for bf16 precisions on
such CPUs (``bf16_products=auto``, see ``conf/train.yaml``).
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

aten = torch.ops.aten

#: The aten products bf16 autocast runs in bfloat16 on CPU (forward and backward), after decomposition.
PRODUCTS = frozenset(
    {
        aten.mm.default,
        aten.addmm.default,
        aten.bmm.default,
        aten.baddbmm.default,
        aten.addbmm.default,
        aten.dot.default,
        aten.mv.default,
        aten.addmv.default,
        aten.convolution.default,
        aten.convolution_backward.default,
    }
)


def _is_bf16(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16 and value.device.type == "cpu"


def _widen(value):
    return value.float() if _is_bf16(value) else value


def _narrow(value):
    return value.to(torch.bfloat16) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


class EmulatedBF16Products(TorchDispatchMode):
    """Within the block, bfloat16 CPU matrix products run as float32 products rounded to bfloat16.

    Only products whose tensor operands are all bfloat16 on the CPU are changed (those a bf16 kernel would
    run); anything else, CUDA tensors included, passes through untouched. ``count`` says how many ran emulated.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in PRODUCTS:
            tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
            if tensors and all(_is_bf16(t) for t in tensors):
                self.count += 1
                return tree_map(_narrow, func(*tree_map(_widen, args), **tree_map(_widen, kwargs)))
        return func(*args, **kwargs)
