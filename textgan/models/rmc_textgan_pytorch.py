"""TextGAN-PyTorch's relational-memory cell as switches on RelGAN's: which of its departures changes training?

TextGAN-PyTorch (williamSYSU/TextGAN-PyTorch at 7ff8909: ``models/relational_rnn_general.py``,
``models/RelGAN_G.py``, ``models/generator.py``) builds RelGAN's generator with six departures from RelGAN's
code, which :class:`textgan.models.rmc.RMCGenerator` follows. Each is a switch of
:class:`TextGANPyTorchRMCGenerator`, on by default (the peer's cell); with every switch off the generator computes
exactly what ``RMCGenerator`` computes with the same weights:

* ``attention_scale="key"``: queries scaled by ``key_size ** -0.5`` (RelGAN: ``"qkv"``, ``(2 key_size +
  head_size) ** -0.5``);
* ``shared_mlp``: the memory MLP is one ``Linear`` applied ``attention_mlp_layers`` times (``[Linear] * 2``),
  a ReLU after every application (RelGAN: separate layers, ReLU between them);
* ``slot_layer_norms``: the three layer norms have a gain and bias per (row, feature) and epsilon 1e-5
  (``nn.LayerNorm([slots + 1, F])``; RelGAN: per feature, epsilon 1e-12);
* ``projection_biases``: biases on the ``qkv`` and both gate projections (RelGAN: none);
* ``trainable_gate_biases``: the input and forget gate biases (0 and 1) are parameters (RelGAN: constants);
* ``peer_init``: every parameter with a dimension is drawn from a normal truncated at two standard deviations
  with std ``1 / sqrt(shape[0])``: the output layer's weights ``V ** -0.5`` instead of ``M ** -0.5``, random
  biases and layer-norm gains (RelGAN: truncated normal with std ``1 / sqrt(fan_in)``, zero biases, unit gains).

The peer's remaining differences are outside the cell (its discriminator, its unshuffled MLE batches, token 0's
frozen embedding) or change no curve (docs/experiments/relgan-peer-implementation.md). This generator is for
that study: it trains with per-step autograd and the cell in torch operations (no native step), so it is slower
than ``RMCGenerator``; use ``generator=rmc`` for anything else.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from textgan.models.rmc import LAYER_NORM_EPS, AttentionBlock, RelationalMemory, RMCGenerator

PEER_LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which the peer keeps
ATTENTION_SCALES = ("key", "qkv")


class SlotLayerNorm(nn.Module):
    """Layer norm over rows and features jointly with a gain and bias per (row, feature): ``nn.LayerNorm([N, F])``."""

    def __init__(self, rows: int, features: int, eps: float = PEER_LAYER_NORM_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(rows, features))
        self.bias = nn.Parameter(torch.zeros(rows, features))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, F)
        return F.layer_norm(x, tuple(self.weight.shape), self.weight, self.bias, self.eps)


class TextGANPyTorchAttentionBlock(AttentionBlock):
    """:class:`AttentionBlock` with the peer's attention scale, MLP, layer norms and ``qkv`` bias where switched on."""

    def __init__(
        self,
        mem_size: int,
        num_heads: int,
        key_size: int,
        head_size: int,
        mlp_layers: int,
        rows: int,
        *,
        attention_scale: str,
        shared_mlp: bool,
        slot_layer_norms: bool,
        qkv_bias: bool,
    ) -> None:
        super().__init__(mem_size, num_heads, key_size, head_size, mlp_layers, LAYER_NORM_EPS)
        if attention_scale not in ATTENTION_SCALES:
            raise ValueError(f"attention_scale must be one of {ATTENTION_SCALES}, got {attention_scale!r}")
        if attention_scale == "key":
            self.attention_scale = key_size**-0.5
        if qkv_bias:
            self.qkv = nn.Linear(mem_size, self.qkv_size * num_heads)
        if slot_layer_norms:
            self.qkv_norm = SlotLayerNorm(rows, self.qkv_size * num_heads)
            self.attention_norm = SlotLayerNorm(rows, mem_size)
            self.mlp_norm = SlotLayerNorm(rows, mem_size)
        if shared_mlp:
            layer = nn.Linear(mem_size, mem_size)  # one module at every position: one set of weights
            self.mlp = nn.Sequential(*[module for _ in range(mlp_layers) for module in (layer, nn.ReLU())])


class TextGANPyTorchRelationalMemory(RelationalMemory):
    """:class:`RelationalMemory` with the peer's blocks, projection and trainable gate biases where switched on."""

    native_cell = False  # the native step computes RelGAN's cell only

    def __init__(
        self,
        input_size: int,
        mem_slots: int,
        head_size: int,
        num_heads: int,
        num_blocks: int,
        attention_mlp_layers: int,
        *,
        attention_scale: str,
        shared_mlp: bool,
        slot_layer_norms: bool,
        projection_biases: bool,
        trainable_gate_biases: bool,
    ) -> None:
        super().__init__(
            input_size, mem_slots, head_size, num_heads, num_blocks, attention_mlp_layers=attention_mlp_layers
        )
        self.blocks = nn.ModuleList(
            TextGANPyTorchAttentionBlock(
                self.mem_size, num_heads, head_size, head_size, attention_mlp_layers, mem_slots + 1,
                attention_scale=attention_scale, shared_mlp=shared_mlp, slot_layer_norms=slot_layer_norms,
                qkv_bias=projection_biases,
            )  # fmt: skip
            for _ in range(num_blocks)
        )
        if projection_biases:
            self.gate_input = nn.Linear(self.mem_size, 2 * self.mem_size)
            self.gate_memory = nn.Linear(self.mem_size, 2 * self.mem_size)
        if trainable_gate_biases:
            self.input_bias = nn.Parameter(torch.tensor(float(self.input_bias)))
            self.forget_bias = nn.Parameter(torch.tensor(float(self.forget_bias)))

    def folded_input_projection(self) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`RelationalMemory.folded_input_projection`, with the ``qkv`` and gate projections' biases."""
        weight, bias = super().folded_input_projection()
        sides = (self.blocks[0].qkv.bias, self.gate_input.bias)
        if all(side is None for side in sides):
            return weight, bias
        widths = (self.mem_size, self.qkv_width, 2 * self.mem_size)
        zeros = [bias.new_zeros(width) for width in widths]
        extra = [zeros[0], *(zero if side is None else side for zero, side in zip(zeros[1:], sides, strict=True))]
        return weight, bias + torch.cat(extra)


def textgan_pytorch_init_(module: nn.Module) -> None:
    """The peer's ``init_params`` with ``gen_init="truncated_normal"``: every trainable parameter with at least one
    dimension from a normal with std ``1 / sqrt(shape[0])`` truncated at two standard deviations (scalars kept)."""
    for parameter in module.parameters():
        if parameter.requires_grad and parameter.dim() > 0:
            std = 1.0 / math.sqrt(parameter.shape[0])
            nn.init.trunc_normal_(parameter, std=std, a=-2 * std, b=2 * std)


class TextGANPyTorchRMCGenerator(RMCGenerator):
    """RelGAN's generator with TextGAN-PyTorch's departures as switches (module docstring), for ablations."""

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        embedding_dim: int = 32,
        mem_slots: int = 1,
        head_size: int = 256,
        num_heads: int = 2,
        num_blocks: int = 1,
        attention_mlp_layers: int = 2,
        start_token: int = 0,
        attention_scale: str = "key",
        shared_mlp: bool = True,
        slot_layer_norms: bool = True,
        projection_biases: bool = True,
        trainable_gate_biases: bool = True,
        peer_init: bool = True,
    ) -> None:
        core = TextGANPyTorchRelationalMemory(
            embedding_dim, mem_slots, head_size, num_heads, num_blocks, attention_mlp_layers,
            attention_scale=attention_scale, shared_mlp=shared_mlp, slot_layer_norms=slot_layer_norms,
            projection_biases=projection_biases, trainable_gate_biases=trainable_gate_biases,
        )  # fmt: skip
        super().__init__(
            vocab_size, max_length, embedding_dim, mem_slots, head_size, num_heads, num_blocks,
            attention_mlp_layers, start_token, batched_weight_gradients=False, core=core,
        )  # fmt: skip  (RelGAN's initialisation of every layer, the cell included)
        if peer_init:
            textgan_pytorch_init_(self)
