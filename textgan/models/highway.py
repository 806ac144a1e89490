"""The highway layer and dropout that follow the max-pooled features in SeqGAN's and RelGAN's discriminators.

Both reference implementations apply ``highway(h, size, num_layers=1, bias=0)`` and then dropout with keep
probability 0.75 (Srivastava et al., 2015, as written in their shared ``highway`` helper)::

    g = relu(x W_g + b_g)      t = sigmoid(x W_t + b_t + gate_bias)      out = dropout(t * g + (1 - t) * x)

``W_g`` and ``W_t`` are stored as the two halves of one (2F, F) linear, so one matrix product serves both: on
RelGAN's (8192, 1200) features it is the discriminator's most expensive layer. On a CPU the dozen elementwise
passes that follow it in torch are fused into one pass each way with the product as one autograd node
(:mod:`textgan.kernels.highway`, dispatched in one line of :meth:`Highway.forward`); elsewhere, or without the
kernels, the maths below runs in torch, with the same dropout masks: counter-based (SplitMix64 words of one seed
drawn from torch's stream, :func:`textgan.kernels.highway.dropout_bits_from_seed`), so the kernel computes them
where it needs them instead of reading a mask.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.kernels import highway as native_highway
from textgan.kernels.highway import dropout_bits_from_seed, dropout_levels, dropout_seed
from textgan.kernels.policy import BACKENDS


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU masks are counter-based (``dropout_bits_from_seed``, one draw of torch's
    stream per call): the masks the native highway kernel computes in place; CUDA and in-place use go to torch's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        levels = None if x.device.type != "cpu" or self.inplace else dropout_levels(self.p)
        if levels is None:
            return super().forward(x)
        threshold, scale = levels
        return torch.where(dropout_bits_from_seed(dropout_seed(), x.shape) < threshold, x, 0.0) * scale


def highway_gate(a: torch.Tensor, x: torch.Tensor, gate_bias: float) -> torch.Tensor:
    """Reference gate: a = [x W_g + b_g | x W_t + b_t] (N, 2F), x (N, F) -> (N, F) in float32 or wider.

    Computed in float32 at least, as the native kernel does (bf16 pre-activations under autocast included).
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    transform, gate = a.to(dtype).chunk(2, dim=-1)
    gate = torch.sigmoid(gate + gate_bias) if gate_bias else torch.sigmoid(gate)
    return torch.lerp(x.to(dtype), torch.relu(transform), gate)  # x + t * (g - x)


class Highway(nn.Module):
    """One highway layer followed by dropout: (..., F) -> (..., F) (see the module docstring).

    Args:
        features: ``F``.
        bias: give both products a bias (SeqGAN's ``linear`` has one, RelGAN's has none).
        gate_bias: constant added to the gate pre-activation (both references pass 0).
        dropout: drop probability after the layer (an ``nn.Dropout`` child: ``eval()`` disables it).
        backend: ``"auto"`` (native kernel for CPU tensors when built), ``"native"`` or ``"torch"``.
    """

    def __init__(
        self,
        features: int,
        bias: bool = False,
        gate_bias: float = 0.0,
        dropout: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto', 'native' or 'torch', not {backend!r}")
        self.features, self.gate_bias, self.backend = features, gate_bias, backend
        self.linear = self.make_linear(features, bias)
        self.dropout = Dropout(dropout)

    def make_linear(self, features: int, bias: bool) -> nn.Linear:
        """The layer that holds the products' parameters: ``nn.Linear(F, 2F)``, transform and gate halves stacked."""
        return nn.Linear(features, 2 * features, bias=bias)

    def stacked_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The (2F, F) weight ``[W_g; W_t]`` and its (2F,) bias (``None`` without) of ``a = x W^T + b``."""
        return self.linear.weight, self.linear.bias

    def uses_native(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` runs the fused kernel (:func:`textgan.kernels.highway.applies`)."""
        weight, _ = self.stacked_parameters()
        return native_highway.applies(x, weight, self.dropout.p, self.dropout.training, self.backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.stacked_parameters()
        if native_highway.applies(x, weight, self.dropout.p, self.dropout.training, self.backend):
            # the same function, product and gate and dropout in one native node
            return native_highway.highway(x, weight, bias, self.gate_bias, *self._dropout)
        return self.dropout(highway_gate(nn.functional.linear(x, weight, bias), x, self.gate_bias))

    @property
    def _dropout(self) -> tuple[float, bool]:
        return self.dropout.p, self.dropout.training
