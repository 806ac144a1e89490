"""The generator interface, for both the RMC and the LSTM generator."""

import pytest
import torch
import torch.nn.functional as F

from textgan.kernels import gumbel_max
from textgan.models.lstm import LSTMGenerator
from textgan.models.rmc import JointLayerNorm, RMCGenerator
from textgan.sampling import categorical_sample, draw_seeds, gumbel_noise

V, T = 23, 6


def make(kind: str):
    torch.manual_seed(0)
    if kind == "rmc":
        return RMCGenerator(vocab_size=V, max_length=T, embedding_dim=8, head_size=8, num_heads=2, mem_slots=2)
    return LSTMGenerator(vocab_size=V, max_length=T, embedding_dim=8, hidden_dim=12)


KINDS = ["rmc", "lstm"]


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_forcing_equals_the_step_by_step_loop(kind):
    generator = make(kind)
    tokens = torch.randint(0, V, (5, T))
    forced = iter(tokens.T)
    _, logits, _ = generator.unroll(5, T, lambda _: next(forced), keep_logits=True)
    expected = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(generator.log_prob(tokens), expected, atol=1e-5)
    assert float(generator.nll(tokens).detach()) == pytest.approx(float(-expected.mean()), abs=1e-5)



@pytest.mark.parametrize("kind", KINDS)
def test_teacher_forcing_under_cpu_bf16_autocast_trains_and_stays_close_to_float32(kind):
    """bf16-mixed MLE on CPU: the LSTM's fused recurrence runs in float32 (oneDNN refuses bfloat16 on CPUs
    without bf16 units), so the step works on any CPU, and every parameter gets a finite gradient."""
    generator = make(kind)
    tokens = torch.randint(0, V, (5, T))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll = generator.nll(tokens)
    nll.backward()
    assert abs(float(nll) - float(generator.nll(tokens))) < 0.05
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name

@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_seeded_and_the_lookup_table_path_is_exact(kind):
    generator = make(kind)
    a = generator.sample(40, generator=torch.Generator().manual_seed(1), batch_size=16)
    b = generator.sample(40, generator=torch.Generator().manual_seed(1), batch_size=16)
    assert a.shape == (40, T) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() < V
    rng1, rng2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    with torch.no_grad():
        direct = generator.unroll(8, T, lambda lg: categorical_sample(lg, generator=rng1))[0]
        table = generator.input_table()
        looked_up = generator.unroll(8, T, lambda lg: categorical_sample(lg, generator=rng2), input_table=table)[0]
    assert torch.equal(direct, looked_up)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_frequencies_follow_the_model(kind):
    generator = make(kind)
    first = generator.sample(20_000, 1, generator=torch.Generator().manual_seed(3))[:, 0]
    counts = torch.bincount(first, minlength=V).double()
    probs = generator.log_prob(torch.arange(V).view(V, 1)).exp().double().squeeze(1)
    expected = probs * counts.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    assert statistic < 49.7  # chi-square with 22 degrees of freedom, p = 0.001


@pytest.mark.parametrize("kind", KINDS)
def test_relaxed_samples_carry_gradients_to_every_parameter(kind):
    generator = make(kind)
    sample = generator.rsample(16, 3.0, generator=torch.Generator().manual_seed(4))
    assert sample.relaxed.shape == (16, T, V)
    assert torch.allclose(sample.relaxed.sum(-1), torch.ones(16, T), atol=1e-5)
    # the fed-back tokens are the Gumbel-Max samples, i.e. the argmax of the relaxed rows
    assert torch.equal(sample.relaxed.argmax(-1), sample.tokens)
    weights = torch.randn(V)
    (sample.relaxed * weights).sum().backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_relaxed_samples_without_a_graph_match_the_differentiable_ones(kind):
    generator = make(kind)
    with_graph = generator.rsample(8, 5.0, generator=torch.Generator().manual_seed(7), keep_logits=True)
    with torch.no_grad():
        without = generator.rsample(8, 5.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(with_graph.tokens, without.tokens)
    assert torch.allclose(with_graph.relaxed.detach(), without.relaxed, atol=1e-6)
    assert without.logits is None and with_graph.logits.shape == (8, T, V)
    assert torch.allclose(with_graph.logits, generator(with_graph.tokens), atol=1e-5)  # the teacher-forced logits


@pytest.mark.parametrize("kind", KINDS)
def test_relaxed_samples_have_the_values_and_gradients_of_teacher_forced_logits_plus_the_same_noise(kind):
    generator = make(kind)
    beta, weights = 4.0, torch.randn(V)
    sample = generator.rsample(8, beta, generator=torch.Generator().manual_seed(5))
    (sample.relaxed * weights).sum().backward()
    got = {name: p.grad.clone() for name, p in generator.named_parameters()}
    generator.zero_grad()
    rng = torch.Generator().manual_seed(5)  # the loop draws one (B, V) noise tensor per step, in order
    if gumbel_max.applies(torch.zeros(1)):  # on a CPU: counter-based noise from one seed per step
        noise = torch.empty(8, T, V)
        for step, seed in enumerate(draw_seeds(T, rng)):
            gumbel_max.gumbel_max(torch.zeros(8, V), seed, noise[:, step], write_noise=True)
    else:
        noise = torch.stack([gumbel_noise((8, V), generator=rng) for _ in range(T)], dim=1)
    reference = torch.softmax(beta * (generator(sample.tokens) + noise), dim=-1)
    assert torch.allclose(sample.relaxed.detach(), reference.detach(), atol=1e-6)
    (reference * weights).sum().backward()
    for name, parameter in generator.named_parameters():
        assert torch.allclose(got[name], parameter.grad, atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize("kind", KINDS)
def test_straight_through_forward_is_one_hot_with_soft_gradients(kind):
    generator = make(kind)
    sample = generator.rsample(8, 1.0, straight_through_estimator=True)
    assert torch.equal(sample.relaxed.detach(), F.one_hot(sample.tokens, V).float())
    (sample.relaxed * torch.randn(V)).sum().backward()
    assert generator.output.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_hard_samples_keep_logits_consistent_with_teacher_forcing(kind):
    """REINFORCE's loop: tokens chosen without a graph, their logits kept with one (the score function)."""
    generator = make(kind)
    rng = torch.Generator().manual_seed(6)
    tokens, logits, _ = generator.unroll(10, T, lambda lg: categorical_sample(lg, generator=rng), keep_logits=True)
    log_probs = torch.log_softmax(logits.float(), -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    assert torch.allclose(log_probs, generator.log_prob(tokens), atol=1e-5)
    log_probs.sum().backward()
    assert generator.embedding.weight.grad is not None and generator.output.weight.grad is not None


def test_rmc_layer_norms_use_tensorflows_epsilon_so_small_activations_are_normalised_to_unit_scale():
    # RelGAN's tf.contrib.layers.layer_norm adds 1e-12 to the variance; 1e-5 (torch's default) shrank
    # activations of variance ~1e-6, as the qkv product's are at RelGAN's initialisation, to a third.
    generator = RMCGenerator(vocab_size=V, max_length=T, embedding_dim=8, head_size=4, num_heads=2)
    norms = [module for module in generator.modules() if isinstance(module, JointLayerNorm)]
    assert len(norms) == 3
    x = 1e-3 * torch.randn(4, 2, norms[0].weight.numel(), generator=torch.Generator().manual_seed(0))
    assert norms[0](x).detach().reshape(4, -1).std(1, unbiased=False).tolist() == pytest.approx([1.0] * 4, abs=1e-4)


def test_rmc_memory_starts_as_identity_and_layer_norm_is_joint_over_rows():
    generator = RMCGenerator(vocab_size=V, max_length=T, embedding_dim=8, head_size=4, num_heads=2, mem_slots=3)
    (memory,) = generator.initial_state(2, torch.device("cpu"))
    assert memory.shape == (2, 3, 8)
    assert torch.equal(memory[0], torch.eye(3, 8))
    norm = JointLayerNorm(5)
    x = torch.randn(4, 3, 5)
    out = norm(x)
    flat = x.reshape(4, -1)
    expected = ((flat - flat.mean(1, keepdim=True)) / torch.sqrt(flat.var(1, unbiased=False, keepdim=True) + 1e-12))
    assert torch.allclose(out, expected.view(4, 3, 5), atol=1e-5)
    assert norm.weight.shape == (5,)
    with torch.no_grad():  # the gain and bias are per feature, shared by every row
        norm.weight.copy_(torch.randn(5))
        norm.bias.copy_(torch.randn(5))
    assert torch.allclose(norm(x), expected.view(4, 3, 5) * norm.weight + norm.bias, atol=1e-5)
    norm(x).sum().backward()
    assert torch.allclose(norm.bias.grad, torch.full((5,), 4.0 * 3))


def test_rmc_folded_input_projection_is_the_same_affine_map_with_the_same_gradients():
    """Teacher forcing multiplies the input-side weights out first (32-wide products instead of M-wide)."""
    generator = make("rmc")
    core = generator.core
    x = torch.randn(7, 3, 8, requires_grad=True)
    weights = torch.randn(core.mem_size + core.qkv_width + 2 * core.mem_size)
    results = []
    for folded in (False, True):
        generator.zero_grad()
        x.grad = None
        projected = core.project_inputs(x, folded=folded)
        (projected * weights).sum().backward()
        grads = {name: p.grad.clone() for name, p in generator.named_parameters() if p.grad is not None}
        results.append((projected.detach(), x.grad.clone(), grads))
    (plain, plain_dx, plain_grads), (folded, folded_dx, folded_grads) = results
    assert torch.allclose(folded, plain, atol=1e-6)
    assert torch.allclose(folded_dx, plain_dx, atol=1e-5)
    assert set(folded_grads) == set(plain_grads) == {
        "core.input_projection.weight", "core.input_projection.bias", "core.blocks.0.qkv.weight",
        "core.gate_input.weight",
    }
    for name, grad in plain_grads.items():
        assert torch.allclose(folded_grads[name], grad, atol=1e-5, rtol=1e-5), name


def test_start_token_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="start_token"):
        LSTMGenerator(vocab_size=5, max_length=3, start_token=5)
