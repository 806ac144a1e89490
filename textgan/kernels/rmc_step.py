"""One step of RelGAN's relational memory core with its elementwise work in native passes (CPU).

Why: at the paper's size (1 slot x 2 heads x 256, batch 64) a step of the cell is four thin matrix products and
about twenty small elementwise torch ops each way (three joint layer norms, attention over two rows, residuals,
gates, casts between the float32 memory and bf16 products), every one with its own dispatch, autograd node and
pass over memory. Teacher forcing runs 20 such steps per MLE batch, so those ops were about half of a bf16 MLE
step on a 2-core CPU. Here the products stay in torch (through the cell's ``linear``, so MLE still batches their
weight gradients, :mod:`textgan.kernels.step_products`) and the work between them is two native passes forward
(``csrc/rmc_cell.c``) and two backward:

* ``attend``: the joint layer norm of the qkv rows, attention over memory + input row, the residual and the
  joint layer norm after it, giving the MLP's input ``rows1``;
* ``update``: the residual after the MLP and its joint layer norm, the gates and the new memory.

The same functions as :meth:`RelationalMemory.cell`'s torch path, computed in float32 whatever the products'
type: equal to it within float32 rounding when the products are float32 (see the tests); under bf16 autocast the
attention and gate sums are not rounded to bf16 between ops, as the torch path rounds them (closer to float32).
Used on CPU when the native kernels are built, for one attention block with a two-layer MLP (the paper's cell;
:func:`applies`, through :func:`textgan.kernels.policy.native_applies`); elsewhere, and with
``RelationalMemory.native_cell = False``, the torch path runs. This module takes tensors and the products as
callables, never the model's classes: :class:`textgan.models.rmc.RelationalMemory` calls it in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from textgan.kernels import build
from textgan.kernels.parallel import num_parts, parallel_rows
from textgan.kernels.policy import native_applies

_KINDS = {torch.float32: "f32", torch.bfloat16: "bf16"}
MIN_ROWS = 128  # sentences per thread: a training batch of 64 (~0.1 ms a pass) runs in the calling thread


def _kernel(name: str, dtype: torch.dtype):
    return getattr(build.library(), f"rmc_{name}_{_KINDS[dtype]}")


def _per_sentence_sums(batch: int, width: int) -> torch.Tensor:
    """Rows the kernels add each sentence's parameter gradient into (summed in torch: thread-count independent)."""
    return torch.zeros(batch, width)


def attend_reference(qkv_mem, qkv_in, memory, row, gq, bq, g1, b1, heads, key_size, head_size, scale, eps):
    """The function of :class:`_Attend` in torch ops, float32 (the native pass's specification)."""
    batch, slots, _ = qkv_mem.shape
    qkv = torch.cat([qkv_mem, qkv_in.unsqueeze(1)], dim=1).float()  # (B, N, F)
    shape = qkv.shape[-2:]
    qkv = F.layer_norm(qkv, shape, gq.expand(shape), bq.expand(shape), eps)
    qkv = qkv.view(batch, slots + 1, heads, -1).transpose(1, 2)  # (B, heads, N, 2K + D)
    query, key, value = qkv.split([key_size, key_size, head_size], dim=-1)
    weights = torch.softmax(query @ key.transpose(-1, -2) * scale, dim=-1)
    attended = (weights @ value).transpose(1, 2).reshape(batch, slots + 1, heads * head_size)
    rows = torch.cat([memory, row.unsqueeze(1).float()], dim=1) + attended
    shape = rows.shape[-2:]
    return F.layer_norm(rows, shape, g1.expand(shape), b1.expand(shape), eps)


def update_reference(rows1, hidden, g2, b2, gm, gin, memory, input_bias, forget_bias, eps):
    """The function of :class:`_Update` in torch ops, float32 (the native pass's specification)."""
    rows = rows1 + hidden.float()
    shape = rows.shape[-2:]
    attended = torch.tanh(F.layer_norm(rows, shape, g2.expand(shape), b2.expand(shape), eps)[:, :-1])
    input_gate, forget_gate = (gm.float() + gin.unsqueeze(1).float()).chunk(2, dim=-1)
    return torch.sigmoid(input_gate + input_bias) * attended + torch.sigmoid(forget_gate + forget_bias) * memory


def _recomputed_gradients(reference, inputs, ctx, grad) -> list[torch.Tensor | None]:
    """The inputs' gradients through ``reference`` recomputed with a graph, so they are differentiable again."""
    wanted = [index for index, tensor in enumerate(inputs) if ctx.needs_input_grad[index]]
    with torch.enable_grad(), torch.autocast(inputs[0].device.type, enabled=False):
        # fresh aliases: gradients with respect to the inputs themselves would be total derivatives, through
        # the rest of the graph too (one input, the MLP's output, is a function of another, its input)
        local = [tensor.view_as(tensor) if ctx.needs_input_grad[i] else tensor for i, tensor in enumerate(inputs)]
        output = reference(*local, *ctx.facts)
        found = torch.autograd.grad(output, [local[i] for i in wanted], grad, create_graph=True, allow_unused=True)
    grads: list[torch.Tensor | None] = [None] * len(inputs)
    for index, value in zip(wanted, found, strict=True):
        grads[index] = value
    return grads


class _Attend(torch.autograd.Function):
    """qkv_mem (B, S, F), qkv_in (B, F), memory (B, S, M) float32, row (B, M) -> rows1 (B, N, M) float32."""

    @staticmethod
    def forward(ctx, qkv_mem, qkv_in, memory, row, gq, bq, g1, b1, heads, key_size, head_size, scale, eps):
        batch, slots, width = qkv_mem.shape
        rows, mem_size = slots + 1, memory.shape[-1]
        xhat, zhat = torch.empty(batch, rows, width), torch.empty(batch, rows, mem_size)
        probs, rstd = torch.empty(batch, heads, rows, rows), torch.empty(batch, 2)
        rows1 = torch.empty(batch, rows, mem_size)
        scratch = torch.empty(num_parts(batch, MIN_ROWS), rows * width)
        kernel = _kernel("attend_forward", qkv_mem.dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                qkv_mem.data_ptr(), qkv_mem.stride(0), qkv_in.data_ptr(), qkv_in.stride(0), memory.data_ptr(),
                row.data_ptr(), row.stride(0), gq.data_ptr(), bq.data_ptr(), g1.data_ptr(), b1.data_ptr(), n0, n1,
                slots, heads, key_size, head_size, scale, eps, xhat.data_ptr(), probs.data_ptr(), zhat.data_ptr(),
                rstd.data_ptr(), rows1.data_ptr(), scratch[part].data_ptr(),
            )  # fmt: skip

        parallel_rows(batch, work, MIN_ROWS)
        ctx.save_for_backward(xhat, probs, zhat, rstd, qkv_mem, qkv_in, memory, row, gq, bq, g1, b1)
        ctx.facts = (heads, key_size, head_size, scale, eps)
        return rows1

    @staticmethod
    def backward(ctx, d_rows1):
        xhat, probs, zhat, rstd, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True (REBAR, RELAX): differentiable torch maths
            return (*_recomputed_gradients(attend_reference, inputs, ctx, d_rows1), *[None] * 5)
        qkv_mem, _, _, row, gq, bq, g1, _ = inputs
        heads, key_size, head_size, scale, _ = ctx.facts
        product_dtype, row_dtype = qkv_mem.dtype, row.dtype
        batch, rows, width = xhat.shape
        mem_size = zhat.shape[-1]
        d_rows1 = d_rows1.float().contiguous()
        d_qkv = torch.empty(batch, rows, width, dtype=product_dtype)
        d_rows = torch.empty(batch, rows, mem_size)
        parts = num_parts(batch, MIN_ROWS)
        dgq, dbq, dg1, db1 = (_per_sentence_sums(batch, n) for n in (width, width, mem_size, mem_size))
        scratch = torch.empty(parts, 2 * rows * width)
        kernel = _kernel("attend_backward", product_dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                d_rows1.data_ptr(), xhat.data_ptr(), probs.data_ptr(), zhat.data_ptr(), rstd.data_ptr(),
                gq.data_ptr(), bq.data_ptr(), g1.data_ptr(), n0, n1, rows - 1, heads, key_size, head_size, scale,
                d_qkv.data_ptr(), d_rows.data_ptr(), dgq.data_ptr(), dbq.data_ptr(), dg1.data_ptr(),
                db1.data_ptr(), scratch[part].data_ptr(),
            )  # fmt: skip

        parallel_rows(batch, work, MIN_ROWS)
        sums = [total.sum(0) for total in (dgq, dbq, dg1, db1)]
        d_row = d_rows[:, -1].to(row_dtype)
        return d_qkv[:, :-1], d_qkv[:, -1], d_rows[:, :-1], d_row, *sums, None, None, None, None, None


class _Update(torch.autograd.Function):
    """rows1 (B, N, M) float32, hidden (B, N, M), gm (B, S, 2M), gin (B, 2M), memory (B, S, M) float32 ->
    the new memory (B, S, M) float32."""

    @staticmethod
    def forward(ctx, rows1, hidden, g2, b2, gm, gin, memory, input_bias, forget_bias, eps):
        batch, rows, mem_size = rows1.shape
        z2hat, rstd2 = torch.empty(batch, rows, mem_size), torch.empty(batch)
        new_memory = torch.empty(batch, rows - 1, mem_size)
        kernel = _kernel("update_forward", hidden.dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                rows1.data_ptr(), hidden.data_ptr(), g2.data_ptr(), b2.data_ptr(), gm.data_ptr(), gin.data_ptr(),
                gin.stride(0), memory.data_ptr(), input_bias, forget_bias, n0, n1, rows - 1, mem_size, eps,
                z2hat.data_ptr(), rstd2.data_ptr(), new_memory.data_ptr(),
            )  # fmt: skip

        parallel_rows(batch, work, MIN_ROWS)
        ctx.save_for_backward(z2hat, rstd2, rows1, hidden, g2, b2, gm, gin, memory)
        ctx.facts = (input_bias, forget_bias, eps)
        return new_memory

    @staticmethod
    def backward(ctx, d_new):
        z2hat, rstd2, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True (REBAR, RELAX): differentiable torch maths
            return (*_recomputed_gradients(update_reference, inputs, ctx, d_new), *[None] * 3)
        _, hidden, g2, b2, gm, gin, memory = inputs
        input_bias, forget_bias, _ = ctx.facts
        product_dtype = hidden.dtype
        batch, rows, mem_size = z2hat.shape
        slots = rows - 1
        d_new = d_new.float().contiguous()
        d_gates = torch.empty(batch, slots, 2 * mem_size, dtype=product_dtype)
        d_memory, d_z2 = torch.empty(batch, slots, mem_size), torch.empty(batch, rows, mem_size)
        d_hidden = torch.empty(batch, rows, mem_size, dtype=product_dtype)  # its own buffer: autograd may add into it
        dg2, db2 = _per_sentence_sums(batch, mem_size), _per_sentence_sums(batch, mem_size)
        kernel = _kernel("update_backward", product_dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                d_new.data_ptr(), z2hat.data_ptr(), rstd2.data_ptr(), g2.data_ptr(), b2.data_ptr(), gm.data_ptr(),
                gin.data_ptr(), gin.stride(0), memory.data_ptr(), input_bias, forget_bias, n0, n1, slots, mem_size,
                d_gates.data_ptr(), d_memory.data_ptr(), d_z2.data_ptr(),
                d_hidden.data_ptr(), dg2.data_ptr(), db2.data_ptr(),
            )  # fmt: skip

        parallel_rows(batch, work, MIN_ROWS)
        d_gin = d_gates[:, 0] if slots == 1 else d_gates.float().sum(1).to(product_dtype)
        return d_z2, d_hidden, dg2.sum(0), db2.sum(0), d_gates, d_gin, d_memory, None, None, None


class Norm(NamedTuple):
    """A joint layer norm's gain (F,), bias (F,) and epsilon."""

    weight: torch.Tensor
    bias: torch.Tensor
    eps: float


class Cell(NamedTuple):
    """What one native step needs of the cell besides its tensors: the paper's block (one attention block,
    a two-layer MLP) as parameters, shapes and product callables (``linear`` applied to the model's layers)."""

    qkv_norm: Norm
    attention_norm: Norm
    mlp_norm: Norm
    heads: int
    key_size: int
    head_size: int
    mlp: Callable[[torch.Tensor], torch.Tensor]  # rows1 (B, N, M) -> the MLP's output (B, N, M), its products
    memory_gates: Callable[[torch.Tensor], torch.Tensor]  # tanh(memory) (B, S, M) -> its gate product (B, S, 2M)
    input_bias: float
    forget_bias: float


def applies(
    memory: torch.Tensor, products: torch.Tensor, projected: torch.Tensor, gain: torch.Tensor,
    paper_block: bool, backend: str = "auto",
) -> bool:  # fmt: skip
    """Whether :func:`step` runs this step: CPU, the paper's block shape (``paper_block``: one attention block
    with a two-layer MLP), float32 memory and norm ``gain``, and the products and the projected input in one type
    (float32 or bfloat16) with unit stride along features."""
    fits = (
        paper_block
        and memory.dtype == gain.dtype == torch.float32
        and projected.dtype == products.dtype
        and projected.stride(-1) == 1
    )
    return native_applies(memory, products, projected, gain, fits=fits, backend=backend)


def step(
    qkv_mem: torch.Tensor, row: torch.Tensor, input_qkv: torch.Tensor, input_gates: torch.Tensor,
    memory: torch.Tensor, cell: Cell,
) -> torch.Tensor:  # fmt: skip
    """The new memory (B, S, M) from the memory's qkv product (B, S, F), the projected input's row, qkv and
    gate parts (B, ...) and the memory (B, S, M); ``cell`` applies the MLP's and the gates' products."""
    memory = memory.contiguous()  # the initial state is an expanded view
    qkv_norm, attention_norm, mlp_norm = cell.qkv_norm, cell.attention_norm, cell.mlp_norm
    qkv_size = 2 * cell.key_size + cell.head_size
    rows1 = _Attend.apply(
        qkv_mem.contiguous(), input_qkv, memory, row, qkv_norm.weight, qkv_norm.bias, attention_norm.weight,
        attention_norm.bias, cell.heads, cell.key_size, cell.head_size, qkv_size**-0.5, qkv_norm.eps,
    )  # fmt: skip
    hidden = cell.mlp(rows1)
    gates = cell.memory_gates(torch.tanh(memory))
    return _Update.apply(
        rows1, hidden.contiguous(), mlp_norm.weight, mlp_norm.bias, gates.contiguous(), input_gates,
        memory, float(cell.input_bias), float(cell.forget_bias), mlp_norm.eps,
    )  # fmt: skip
