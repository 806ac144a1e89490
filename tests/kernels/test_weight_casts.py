"""Under autocast without a cast cache (Lightning's bf16-mixed), a recurrent loop casts each weight once, not
once per step; its forward values are unchanged, and no cast outlives the loop (an optimiser step after it is
seen by the next forward)."""

from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from textgan.kernels.weight_casts import weights_cast_once
from textgan.models import generator as generator_module
from textgan.models.rmc import RMCGenerator

LENGTH = 6


class CastCounter(TorchDispatchMode):
    """Counts float32 -> bfloat16 casts of one tensor (``weight``)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.pointer, self.count = weight.data_ptr(), 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and args[0].data_ptr() == self.pointer:
            self.count += kwargs.get("dtype") == torch.bfloat16
        return func(*args, **kwargs)


def generator() -> RMCGenerator:
    torch.manual_seed(0)
    return RMCGenerator(vocab_size=11, max_length=LENGTH, embedding_dim=4, head_size=4, num_heads=2)


def lightning_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)


def test_the_loop_casts_a_cell_weight_once_instead_of_once_per_step():
    model, tokens = generator(), torch.randint(11, (3, LENGTH))
    weight = model.core.gate_memory.weight  # used by the cell at every step
    with lightning_autocast(), CastCounter(weight) as counter:
        model.hidden_states(tokens)
    assert counter.count == 1
    with lightning_autocast(), CastCounter(weight) as counter:
        for step_input in torch.randn(LENGTH, 3, model.core.input_projection.in_features).unbind(0):
            model.core.cell(model.project_inputs(step_input), model.initial_state(3, tokens.device))
    assert counter.count == LENGTH  # what the loop would pay without weights_cast_once


def test_forward_values_are_unchanged_and_no_cast_outlives_the_loop():
    model, tokens = generator(), torch.randint(11, (3, LENGTH))
    with lightning_autocast():
        cached = model.hidden_states(tokens)
    with lightning_autocast():
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
            projected = model.input_projector()(model.embedding(model._shifted_inputs(tokens)))
            state, outputs = model.initial_state(3, tokens.device), []
            for step_input in projected.unbind(1):
                hidden, state = model.core.cell(step_input, state)
                outputs.append(hidden)
    assert torch.equal(cached, torch.stack(outputs, 1))

    with lightning_autocast():
        before = model.hidden_states(tokens)
        with torch.no_grad():
            model.core.gate_memory.weight.add_(1.0)  # an optimiser step between two loops
        after = model.hidden_states(tokens)
    assert not torch.equal(before, after)


def test_it_does_nothing_without_autocast():
    model, tokens = generator(), torch.randint(11, (3, LENGTH))
    with weights_cast_once(tokens.device):
        assert not torch.is_autocast_enabled("cpu")
    assert model.hidden_states(tokens).dtype == torch.float32


def test_a_frozen_generator_sampling_without_a_graph_casts_each_weight_once_and_stays_frozen(monkeypatch):
    """A discriminator update's fakes: the generator's parameters are frozen and no graph is recorded."""
    model = generator()
    weights = [model.core.gate_memory.weight, model.output.weight]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    torch.manual_seed(1)
    counters = [CastCounter(weight) for weight in weights]
    with lightning_autocast(), torch.no_grad(), counters[0], counters[1]:
        cached = model.rsample(3, 2.0, LENGTH).relaxed
    assert [counter.count for counter in counters] == [1, 1]
    assert not any(parameter.requires_grad for parameter in model.parameters())
    monkeypatch.setattr(generator_module, "weights_cast_once", lambda device, module=None: contextlib.nullcontext())
    torch.manual_seed(1)
    with lightning_autocast(), torch.no_grad():
        assert torch.equal(model.rsample(3, 2.0, LENGTH).relaxed, cached)  # the casts each step would make
