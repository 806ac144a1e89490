"""StepProducts: the RMC cell's weight gradients as one product over all steps, equal to autograd's per-step sums."""

from __future__ import annotations

import pytest
import torch

from textgan.kernels.step_products import StepProducts
from textgan.models.generator import Generator
from textgan.models.rmc import RMCGenerator


def small_rmc() -> RMCGenerator:
    torch.manual_seed(0)  # two slots and two blocks: every per-step layer of the cell is used
    return RMCGenerator(vocab_size=300, max_length=9, embedding_dim=16, mem_slots=2, head_size=16, num_heads=2,
                        num_blocks=2)  # fmt: skip


def nll(generator: RMCGenerator, tokens: torch.Tensor, batched: bool, bf16: bool = False) -> torch.Tensor:
    """Teacher-forced NLL through the batched products (``batched``) or plain per-step autograd."""
    hidden_states = generator.hidden_states if batched else lambda t: Generator.hidden_states(generator, t)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
        logits = generator.output(hidden_states(tokens)).float()
    return -torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).mean()


def gradients(generator: RMCGenerator, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    generator.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in generator.named_parameters()}


def relative_error(actual: dict, expected: dict) -> float:
    return max(float((actual[k] - expected[k]).norm() / expected[k].norm()) for k in expected)


@pytest.fixture
def tokens() -> torch.Tensor:
    return torch.randint(0, 300, (12, 9), generator=torch.Generator().manual_seed(1))


def test_float32_loss_is_bitwise_and_every_gradient_equals_autograds_per_step_sums(tokens):
    generator = small_rmc()
    reference_loss, batched_loss = nll(generator, tokens, False), nll(generator, tokens, True)
    assert torch.equal(reference_loss, batched_loss)
    reference, batched = gradients(generator, reference_loss), gradients(generator, batched_loss)
    assert reference.keys() == batched.keys()
    for name in reference:
        torch.testing.assert_close(batched[name], reference[name], rtol=1e-5, atol=1e-7, msg=name)
    # the layers whose gradients are batched really are used step by step (nonzero gradients)
    for name in ("core.gate_memory.weight", "core.blocks.0.qkv.weight", "core.blocks.1.mlp.2.bias"):
        assert batched[name].abs().sum() > 0


def test_bfloat16_loss_is_bitwise_and_the_gradient_is_no_less_accurate_than_per_step_accumulation(tokens):
    generator = small_rmc()
    exact = gradients(generator, nll(generator, tokens, False))  # float32
    per_step_loss, batched_loss = nll(generator, tokens, False, bf16=True), nll(generator, tokens, True, bf16=True)
    assert torch.equal(per_step_loss, batched_loss)
    per_step_error = relative_error(gradients(generator, per_step_loss), exact)
    batched_error = relative_error(gradients(generator, batched_loss), exact)
    assert batched_error <= per_step_error * 1.05


def test_a_retained_graph_backpropagated_twice_gives_twice_the_gradient(tokens):
    generator = small_rmc()
    once = gradients(generator, nll(generator, tokens, True))
    generator.zero_grad(set_to_none=True)
    loss = nll(generator, tokens, True)
    loss.backward(retain_graph=True)
    loss.backward()
    for name, p in generator.named_parameters():
        torch.testing.assert_close(p.grad, 2 * once[name], rtol=1e-5, atol=1e-7, msg=name)


def test_second_order_gradients_are_refused_not_silently_wrong(tokens):
    generator = small_rmc()
    parameters = list(generator.parameters())
    with pytest.raises(RuntimeError, match="second-order"):
        torch.autograd.grad(nll(generator, tokens, True), parameters, create_graph=True)


def test_steps_without_a_gradient_contribute_nothing():
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    products = StepProducts(torch.device("cpu"))
    xs = torch.randn(3, 5, 4)
    outputs = [products.linear(layer, x) for x in xs]
    outputs[1].sum().backward()  # only the middle step receives a gradient
    weight_grad, bias_grad = layer.weight.grad.clone(), layer.bias.grad.clone()
    layer.zero_grad(set_to_none=True)
    layer(xs[1]).sum().backward()
    torch.testing.assert_close(weight_grad, layer.weight.grad)
    torch.testing.assert_close(bias_grad, layer.bias.grad)


def test_without_a_graph_the_cell_uses_the_plain_layers(tokens):
    generator = small_rmc()
    with torch.no_grad():
        assert torch.equal(generator.hidden_states(tokens), Generator.hidden_states(generator, tokens))
    assert generator.core.step_products is None


def test_the_switch_off_restores_per_step_autograd_bitwise(tokens):
    generator = small_rmc()
    reference = gradients(generator, nll(generator, tokens, False))
    generator.batched_weight_gradients = False
    switched_off = gradients(generator, nll(generator, tokens, True))
    assert all(torch.equal(switched_off[name], reference[name]) for name in reference)
    generator.batched_weight_gradients = True
    batched = gradients(generator, nll(generator, tokens, True))
    assert not all(torch.equal(batched[name], reference[name]) for name in reference)  # the switch does act
