"""TextGAN-PyTorch's RMC cell as switches: all off it is RelGAN's cell exactly; each switch does what the peer does."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textgan.models.io import build_from_config, load_generator, save_generator
from textgan.models.rmc import RMCGenerator
from textgan.models.rmc_textgan_pytorch import SlotLayerNorm, TextGANPyTorchRMCGenerator

V, T, B = 40, 7, 5
SIZE = {"embedding_dim": 8, "mem_slots": 2, "head_size": 6, "num_heads": 2}
SWITCHES = ("shared_mlp", "slot_layer_norms", "projection_biases", "trainable_gate_biases", "peer_init")
RELGAN = {"attention_scale": "qkv", **dict.fromkeys(SWITCHES, False)}


def variant(**switches) -> TextGANPyTorchRMCGenerator:
    torch.manual_seed(0)
    return TextGANPyTorchRMCGenerator(V, T, **SIZE, **{**RELGAN, **switches})


def tokens() -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))


def test_every_switch_off_is_relgans_cell_exactly():
    torch.manual_seed(0)
    relgan = RMCGenerator(V, T, **SIZE, batched_weight_gradients=False)
    relgan.core.native_cell = False
    ours = variant()
    ours.load_state_dict(relgan.state_dict())  # strict: the same parameters under the same names
    batch = tokens()
    torch.testing.assert_close(ours(batch), relgan(batch), rtol=0, atol=0)
    torch.manual_seed(3)
    first = relgan.sample(B)
    torch.manual_seed(3)
    torch.testing.assert_close(ours.sample(B), first)


@pytest.mark.parametrize("switch", ["attention_scale", *SWITCHES])
def test_each_switch_changes_the_computation(switch):
    relgan = variant()
    changed = variant(**{switch: "key" if switch == "attention_scale" else True})
    if switch != "peer_init":
        relgan_state = relgan.state_dict()
        state = {
            name: relgan_state[name] if name in relgan_state and relgan_state[name].shape == value.shape else value
            for name, value in changed.state_dict().items()
        }  # RelGAN's weights wherever they fit
        if switch == "projection_biases":  # zero biases would compute RelGAN's cell: give them values
            state = {name: value + 0.1 if name.endswith(".bias") and name not in relgan_state else value
                     for name, value in state.items()}  # fmt: skip
        if switch == "slot_layer_norms":  # a gain per row: make the rows' differ
            state = {name: value * torch.linspace(0.5, 1.5, len(value)).unsqueeze(1)
                     if name.endswith("norm.weight") else value for name, value in state.items()}  # fmt: skip
        changed.load_state_dict(state)
    if switch == "trainable_gate_biases":  # the same function at first; they differ in what learns
        torch.testing.assert_close(changed(tokens()), relgan(tokens()))
        assert {"core.input_bias", "core.forget_bias"} <= {name for name, _ in changed.named_parameters()}
        return
    assert not torch.allclose(changed(tokens()), relgan(tokens()))


def test_the_peers_attention_scale_is_the_key_size():
    block = variant(attention_scale="key").core.blocks[0]
    assert block.attention_scale == SIZE["head_size"] ** -0.5
    assert variant().core.blocks[0].attention_scale == (3 * SIZE["head_size"]) ** -0.5
    with pytest.raises(ValueError, match="attention_scale must be one of"):
        variant(attention_scale="value")


def test_the_shared_mlp_is_one_layer_with_a_relu_after_every_application():
    core = variant(shared_mlp=True).core
    layers = [module for module in core.blocks[0].mlp if isinstance(module, nn.Linear)]
    assert len(layers) == 2 and layers[0] is layers[1]
    assert isinstance(core.blocks[0].mlp[-1], nn.ReLU)
    rows = torch.randn(3, SIZE["mem_slots"] + 1, core.mem_size)
    assert (core.blocks[0].mlp(rows) >= 0).all()
    names = [name for name, _ in core.named_parameters() if ".mlp." in name]
    assert len(names) == 2  # one weight and one bias, however often applied


def test_slot_layer_norms_have_a_gain_per_row_and_feature_and_torchs_epsilon():
    block = variant(slot_layer_norms=True).core.blocks[0]
    rows = SIZE["mem_slots"] + 1
    for norm in (block.qkv_norm, block.attention_norm, block.mlp_norm):
        assert isinstance(norm, SlotLayerNorm) and norm.weight.shape[0] == rows and norm.eps == 1e-5
    x = torch.randn(4, rows, block.attention_norm.weight.shape[1])
    norm = block.attention_norm
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    torch_norm = nn.LayerNorm([rows, x.shape[-1]])
    torch_norm.load_state_dict(norm.state_dict())
    torch.testing.assert_close(norm(x), torch_norm(x))


def test_projection_biases_are_in_the_folded_input_projection():
    core = variant(projection_biases=True).core
    with torch.no_grad():
        for layer in (core.blocks[0].qkv, core.gate_input, core.gate_memory):
            layer.bias.uniform_(-1, 1)
    embedded = torch.randn(B, SIZE["embedding_dim"])
    torch.testing.assert_close(core.project_inputs(embedded, folded=True), core.project_inputs(embedded))


def test_the_peers_initialisation():
    generator = variant(peer_init=True)
    weight = generator.output.weight  # (V, M): std 1/sqrt(V), where RelGAN's is 1/sqrt(M)
    assert weight.abs().max() <= 2 * V**-0.5
    assert float(weight.detach().std()) == pytest.approx(0.88 * V**-0.5, rel=0.15)  # truncated at 2 sigma: 0.88 sigma
    assert generator.output.bias.abs().max() > 0  # random, not zero
    assert float(generator.core.input_bias) == 0.0 and float(generator.core.forget_bias) == 1.0  # scalars kept
    gain = generator.core.blocks[0].attention_norm.weight
    assert not torch.equal(gain, torch.ones_like(gain))
    relgan = variant()
    assert relgan.output.weight.abs().max() <= 2 / math.sqrt(relgan.output.in_features)
    assert torch.count_nonzero(relgan.output.bias) == 0


def test_the_peers_cell_trains_and_saves():
    generator = TextGANPyTorchRMCGenerator(V, T, **SIZE)  # every switch on: the peer's cell
    loss = generator.nll(tokens())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in generator.parameters())
    assert generator.core.forget_bias.grad is not None
    build = {"_target_": "textgan.models.rmc_textgan_pytorch.TextGANPyTorchRMCGenerator", "vocab_size": V,
             "max_length": T, **SIZE}  # fmt: skip
    assert isinstance(build_from_config(build), TextGANPyTorchRMCGenerator)


def test_a_saved_peer_cell_loads_with_its_switches(tmp_path):
    build = {"_target_": "textgan.models.rmc_textgan_pytorch.TextGANPyTorchRMCGenerator", "vocab_size": V,
             "max_length": T, **SIZE, "shared_mlp": False}  # fmt: skip
    generator = build_from_config(build)
    save_generator(tmp_path / "gen.pt", generator, build)
    loaded, _ = load_generator(tmp_path / "gen.pt")
    batch = tokens()
    torch.testing.assert_close(loaded(batch), generator(batch))
    assert len([m for m in loaded.core.blocks[0].mlp if isinstance(m, nn.Linear)]) == 2
