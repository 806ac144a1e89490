"""RelGAN's generator: a relational memory core (Santoro et al., 2018) over token embeddings.

Faithful to the RelGAN reference implementation (``utils/models/relational_memory.py`` there):

* the input embedding is projected (with bias) to the memory width ``M = head_size * num_heads`` and appended
  to the memory as one extra row;
* multi-head attention over memory plus input: one bias-free ``qkv`` product, layer-normalised *jointly over
  all rows and features* (TensorFlow's ``layer_norm`` with ``begin_norm_axis=1``, gain and bias per feature),
  queries scaled by ``(2 * key_size + head_size) ** -0.5``;
* residual + joint layer norm, a 2-layer ReLU MLP (biases, no activation after the last layer), residual +
  joint layer norm, then the input row is dropped;
* per-unit input and forget gates from bias-free products of the input and of ``tanh(memory)``, with biases
  0 and 1: ``memory' = sigmoid(i) * tanh(attended) + sigmoid(f + 1) * memory``;
* the initial memory is the identity matrix padded with zeros; the output is the flattened memory.

On a CPU the elementwise work of a step (everything between the matrix products) runs in two native passes
each way (:mod:`textgan.kernels.rmc_step`, dispatched in one line of :meth:`RelationalMemory.cell`;
``native_cell = False`` keeps the torch ops below).

The layer norms use TensorFlow's epsilon, 1e-12 (``layer_norm_eps``; generators saved before the option existed
were built with 1e-5 and load with it). The paper's setting: 1 slot x 2 heads x 256 (M = 512), embedding 32.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer
from textgan.kernels import rmc_step
from textgan.kernels.step_products import StepProducts
from textgan.models.generator import Generator, State, trunc_normal_linear_

LAYER_NORM_EPS = 1e-12  # tf.contrib.layers.layer_norm's fixed variance epsilon, which RelGAN's RMC uses
LEGACY_LAYER_NORM_EPS = 1e-5  # what generators saved before the option existed were built and trained with

Linear = Callable[[nn.Linear, torch.Tensor], torch.Tensor]


def apply_layer(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``: the cell's linear products outside a :class:`StepProducts` loop."""
    return layer(x)


class JointLayerNorm(nn.Module):
    """Layer norm over the last two axes together, with a gain and bias per feature (last axis).

    ``(x - mean) / sqrt(var + eps)`` with mean and variance over rows and features jointly (TensorFlow's
    ``layer_norm`` with ``begin_norm_axis=1`` on (B, N, F), as RelGAN's code calls it), ``eps`` TensorFlow's 1e-12.
    """

    def __init__(self, features: int, eps: float = LAYER_NORM_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, F)
        shape = x.shape[-2:]  # the per-feature gain and bias, broadcast over rows, fused into the norm
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape), self.eps)


class AttentionBlock(nn.Module):
    """Multi-head attention over memory rows, residual, MLP, residual (one ``num_blocks`` iteration)."""

    def __init__(
        self, mem_size: int, num_heads: int, key_size: int, head_size: int, mlp_layers: int, eps: float = LAYER_NORM_EPS
    ) -> None:
        super().__init__()
        self.num_heads, self.key_size, self.head_size = num_heads, key_size, head_size
        self.qkv_size = 2 * key_size + head_size
        self.attention_scale = self.qkv_size**-0.5  # RelGAN's: the whole qkv width, not the key's
        self.qkv = nn.Linear(mem_size, self.qkv_size * num_heads, bias=False)
        self.qkv_norm = JointLayerNorm(self.qkv_size * num_heads, eps)
        self.attention_norm = JointLayerNorm(mem_size, eps)
        layers: list[nn.Module] = []
        for index in range(mlp_layers):
            layers.append(nn.Linear(mem_size, mem_size))
            if index < mlp_layers - 1:
                layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers)
        self.mlp_norm = JointLayerNorm(mem_size, eps)

    def forward(
        self, rows: torch.Tensor, qkv: torch.Tensor | None = None, linear: Linear = apply_layer
    ) -> torch.Tensor:
        """rows (B, N, M) -> attended rows (B, N, M); ``qkv`` (B, N, F) may be passed if precomputed.

        ``linear(layer, x)`` applies this block's linear layers (``StepProducts.linear`` in a training loop).
        """
        batch, num_rows, _ = rows.shape
        qkv = self.qkv_norm(linear(self.qkv, rows) if qkv is None else qkv)
        qkv = qkv.view(batch, num_rows, self.num_heads, self.qkv_size).transpose(1, 2)  # (B, heads, N, qkv)
        query, key, value = qkv.split([self.key_size, self.key_size, self.head_size], dim=-1)
        attended = F.scaled_dot_product_attention(query, key, value, scale=self.attention_scale)
        attended = attended.transpose(1, 2).reshape(batch, num_rows, self.num_heads * self.head_size)
        rows = self.attention_norm(rows + attended)
        hidden = rows
        for layer in self.mlp:
            hidden = linear(layer, hidden) if isinstance(layer, nn.Linear) else layer(hidden)
        return self.mlp_norm(rows + hidden)


class RelationalMemory(nn.Module):
    """The relational memory core as a recurrent cell with precomputable input projections.

    ``project_inputs`` maps inputs (..., input_size) to (..., P) with ``P = M + F + 2M``: the memory-width
    input row, its ``qkv`` product (first block) and its gate contribution. All three are independent of the
    state, so teacher forcing computes them for every step in one product.

    ``step_products``: while set (a training loop's :class:`StepProducts`), the cell's state-side linear
    layers go through it, so that their weight gradients are one product over all steps.
    """

    step_products: StepProducts | None = None
    native_cell: bool = True  # False: the torch ops below even where the native step (kernels.rmc_step) could run

    def __init__(
        self,
        input_size: int,
        mem_slots: int = 1,
        head_size: int = 256,
        num_heads: int = 2,
        num_blocks: int = 1,
        forget_bias: float = 1.0,
        input_bias: float = 0.0,
        attention_mlp_layers: int = 2,
        key_size: int | None = None,
        layer_norm_eps: float = LAYER_NORM_EPS,
    ) -> None:
        super().__init__()
        if num_blocks < 1 or attention_mlp_layers < 1 or mem_slots < 1:
            raise ValueError("mem_slots, num_blocks and attention_mlp_layers must all be >= 1")
        self.mem_slots, self.mem_size = mem_slots, head_size * num_heads
        self.forget_bias, self.input_bias = forget_bias, input_bias
        key_size = key_size or head_size
        self.input_projection = nn.Linear(input_size, self.mem_size)
        self.blocks = nn.ModuleList(
            AttentionBlock(self.mem_size, num_heads, key_size, head_size, attention_mlp_layers, layer_norm_eps)
            for _ in range(num_blocks)
        )
        self.qkv_width = self.blocks[0].qkv.out_features
        self.gate_input = nn.Linear(self.mem_size, 2 * self.mem_size, bias=False)
        self.gate_memory = nn.Linear(self.mem_size, 2 * self.mem_size, bias=False)

    @property
    def output_size(self) -> int:
        return self.mem_slots * self.mem_size

    def initial_state(self, batch_size: int, device: torch.device) -> State:
        memory = torch.zeros(self.mem_slots, self.mem_size, device=device)
        diagonal = min(self.mem_slots, self.mem_size)
        memory[range(diagonal), range(diagonal)] = 1.0
        return (memory.expand(batch_size, -1, -1),)

    def project_inputs(self, inputs: torch.Tensor, folded: bool = False) -> torch.Tensor:
        """(..., input_size) -> (..., P): the input row, its ``qkv`` product and its gate contribution.

        ``folded``: compute the same affine map as one product with the three layers' matrices multiplied
        out first (:meth:`folded_input_projection`), as :class:`RMCGenerator` always does (once per loop);
        the values differ from the layer-by-layer order in rounding only.
        """
        if folded:
            return F.linear(inputs, *self.folded_input_projection())
        row = self.input_projection(inputs)  # (..., M)
        return torch.cat([row, self.blocks[0].qkv(row), self.gate_input(row)], dim=-1)

    def folded_input_projection(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight (P, input_size) and bias (P,) of ``project_inputs`` as one affine map, in float32.

        The input row is ``W x + b`` and the two state-independent products of it are ``A (W x + b)`` for
        ``A`` = the first block's ``qkv`` and ``gate_input`` (both bias-free), so the whole map is
        ``[W; A W] x + [b; A b]``. With the paper's 32-wide embedding and M = 512 that is 32 multiply-adds per
        output instead of 512: a fifth of the teacher-forced MLE step's products at oracle size. The products
        of the weights run in float32 (outside autocast), so the folded matrix is rounded once, when a
        low-precision product casts it.
        """
        weight, bias = self.input_projection.weight, self.input_projection.bias
        sides = (self.blocks[0].qkv.weight, self.gate_input.weight)
        with torch.autocast(weight.device.type, enabled=False):
            folded_weight = torch.cat([weight, *(side @ weight for side in sides)])
            return folded_weight, torch.cat([bias, *(side @ bias for side in sides)])

    @property
    def _paper_block(self) -> bool:
        """One attention block with a two-layer MLP: the cell :mod:`textgan.kernels.rmc_step` computes."""
        return len(self.blocks) == 1 and len(self.blocks[0].mlp) == 3

    @property
    def _backend(self) -> str:
        return "auto" if self.native_cell else "torch"

    def _native_cell(self, linear: Linear) -> rmc_step.Cell:
        """This cell's parameters and products as :func:`textgan.kernels.rmc_step.step` takes them."""
        block = self.blocks[0]
        first, _, second = block.mlp
        norms = [rmc_step.Norm(n.weight, n.bias, n.eps) for n in (block.qkv_norm, block.attention_norm, block.mlp_norm)]
        return rmc_step.Cell(
            *norms, block.num_heads, block.key_size, block.head_size,
            mlp=lambda rows: linear(second, torch.relu(linear(first, rows))),
            memory_gates=lambda memory: linear(self.gate_memory, memory),
            input_bias=self.input_bias, forget_bias=self.forget_bias,
        )  # fmt: skip

    def cell(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        (memory,) = state  # (B, S, M)
        linear = self.step_products.linear if self.step_products is not None else apply_layer
        row, input_qkv, input_gates = projected.split([self.mem_size, self.qkv_width, 2 * self.mem_size], -1)
        first = self.blocks[0]
        qkv_memory = linear(first.qkv, memory)  # (B, S, F)
        if rmc_step.applies(memory, qkv_memory, projected, first.qkv_norm.weight, self._paper_block, self._backend):
            memory = rmc_step.step(qkv_memory, row, input_qkv, input_gates, memory, self._native_cell(linear))
            return memory.flatten(1), (memory,)  # the same step as below, its elementwise work in native passes
        rows = torch.cat([memory, row.unsqueeze(1)], dim=1)  # (B, S + 1, M)
        qkv = torch.cat([qkv_memory, input_qkv.unsqueeze(1)], dim=1)  # (B, S + 1, F)
        rows = first(rows, qkv, linear)
        for block in self.blocks[1:]:
            rows = block(rows, linear=linear)
        attended = rows[:, :-1]  # drop the input row: (B, S, M)
        gates = linear(self.gate_memory, torch.tanh(memory)) + input_gates.unsqueeze(1)  # (B, S, 2M)
        input_gate, forget_gate = gates.chunk(2, dim=-1)
        input_gate = torch.sigmoid(input_gate + self.input_bias)
        forget_gate = torch.sigmoid(forget_gate + self.forget_bias)
        memory = input_gate * torch.tanh(attended) + forget_gate * memory
        return memory.flatten(1), (memory,)


class RMCGenerator(Generator):
    """RelGAN's relational-memory generator (see the module docstring for the exact architecture).

    ``batched_weight_gradients``: teacher forcing with a graph (MLE) computes the cell's weight gradients as one
    product over all steps (the same sums in another order; see :mod:`textgan.kernels.step_products`). False
    restores per-step autograd, to continue a run made before the option existed bitwise.
    """

    config_ranges = {
        name: integer(1) for name in ("mem_slots", "head_size", "num_heads", "num_blocks", "attention_mlp_layers")
    }

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
        layer_norm_eps: float = LAYER_NORM_EPS,
        batched_weight_gradients: bool = True,
        *,
        core: RelationalMemory | None = None,
    ) -> None:
        """``core``: a cell built by a subclass (another variant of these sizes) instead of RelGAN's."""
        core = core or RelationalMemory(
            embedding_dim,
            mem_slots,
            head_size,
            num_heads,
            num_blocks,
            attention_mlp_layers=attention_mlp_layers,
            layer_norm_eps=layer_norm_eps,
        )
        super().__init__(vocab_size, embedding_dim, core.output_size, max_length, start_token)
        self.core = core
        self.batched_weight_gradients = batched_weight_gradients
        trunc_normal_linear_(self)
        std = vocab_size**-0.5  # RelGAN initialises the embedding like a linear layer with fan-in V
        nn.init.trunc_normal_(self.embedding.weight, std=std, a=-2 * std, b=2 * std)

    def initial_state(self, batch_size: int, device: torch.device) -> State:
        return self.core.initial_state(batch_size, device)

    def project_inputs(self, embedded: torch.Tensor) -> torch.Tensor:
        return self.core.project_inputs(embedded, folded=True)

    def input_projector(self) -> Callable[[torch.Tensor], torch.Tensor]:
        weight, bias = self.core.folded_input_projection()  # once per loop, with its graph when there is one
        return lambda embedded: F.linear(embedded, weight, bias)

    def cell(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.core.cell(projected, state)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing (see :class:`Generator`); with a graph, the cell's weight gradients are batched over
        steps (:mod:`textgan.kernels.step_products`) unless ``batched_weight_gradients`` is False (per-step
        autograd, bitwise as runs made before 2026-12-02 trained)."""
        if not (self.batched_weight_gradients and torch.is_grad_enabled()):
            return super().hidden_states(tokens)
        self.core.step_products = StepProducts(tokens.device)
        try:
            return super().hidden_states(tokens)
        finally:
            self.core.step_products = None
