"""One native Gumbel-Max step on a CPU: counter-based Gumbel noise, the argmax token and the relaxed row."""

import unittest.mock

import numpy as np
import pytest
import torch

from textgan.kernels import policy
from textgan.kernels.gumbel_max import applies as native_gumbel_max_available
from textgan.kernels.gumbel_max import gumbel_max as native_gumbel_max
from textgan.models.rmc import RMCGenerator

pytestmark = pytest.mark.skipif(not policy.available(), reason="native kernels off or not built")


def _reference_noise(seed: int, count: int) -> np.ndarray:
    """SplitMix64 of seed + index, 23 bits -> u = (k + 1/2) / 2^23 -> -log(-log u), in float64."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(count, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = ((z >> np.uint64(41)).astype(np.float64) + 0.5) * 2.0**-23
    return -np.log(-np.log(u))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_noise_token_and_relaxed_row_are_the_gumbel_max_step(dtype):
    torch.manual_seed(0)
    logits = (torch.randn(37, 1031) * 3).to(dtype)
    noise, relaxed = torch.empty(37, 1031), torch.empty(37, 2, 1031)[:, 1]  # a strided row view, as rsample's
    seed = 2**61 + 12345
    tokens = native_gumbel_max(logits, seed, noise, write_noise=True)
    expected_noise = torch.from_numpy(_reference_noise(seed, 37 * 1031).reshape(37, 1031)).float()
    torch.testing.assert_close(noise, expected_noise, rtol=2e-7, atol=1e-6)  # 23-bit uniforms, ~1 ulp logs
    perturbed = logits.float() + noise
    assert torch.equal(tokens, perturbed.argmax(dim=-1))
    again = native_gumbel_max(logits, seed, relaxed, inverse_temperature=2.5)
    assert torch.equal(again, tokens)
    torch.testing.assert_close(relaxed, torch.softmax(perturbed * 2.5, dim=-1), rtol=1e-5, atol=1e-6)


def test_tokens_follow_the_softmax_of_the_logits():
    probabilities = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03])
    rows = 200_000
    logits = probabilities.log().expand(rows, -1).contiguous()
    tokens = native_gumbel_max(logits, 7, torch.empty(rows, 5))
    frequencies = torch.bincount(tokens, minlength=5).double() / rows
    standard_error = (probabilities.double() * (1 - probabilities.double()) / rows).sqrt()
    assert bool(((frequencies - probabilities.double()).abs() < 5 * standard_error).all()), frequencies


def test_draws_depend_on_the_seed_only_not_on_the_threads():
    logits = torch.randn(64, 500)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            out = torch.empty(64, 500)
            results.append((native_gumbel_max(logits, 99, out), out))
    finally:
        torch.set_num_threads(threads)
    for tokens, out in results[1:]:
        assert torch.equal(tokens, results[0][0]) and torch.equal(out, results[0][1])
    other = native_gumbel_max(logits, 100, torch.empty(64, 500))
    assert not torch.equal(other, results[0][0])


def test_an_output_of_the_wrong_kind_is_refused():
    logits = torch.randn(4, 10)
    with pytest.raises(ValueError, match=r"out must be \(4, 10\) float32"):
        native_gumbel_max(logits, 1, torch.empty(4, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match="unit stride"):
        native_gumbel_max(logits, 1, torch.empty(10, 4).t())
    assert not native_gumbel_max_available(logits.double())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_bfloat16_rows_are_the_float32_rows_rounded_once_with_the_same_tokens(dtype):
    logits = torch.randn(37, 301).to(dtype)
    exact, low = torch.empty(37, 301), torch.empty(37, 301, dtype=torch.bfloat16)
    tokens = native_gumbel_max(logits, 11, exact, 2.5)
    assert torch.equal(native_gumbel_max(logits, 11, low, 2.5), tokens)
    assert torch.equal(low, exact.to(torch.bfloat16))


def test_rsample_without_a_graph_under_bf16_autocast_gives_the_rows_the_discriminator_would_read():
    torch.manual_seed(3)
    generator = RMCGenerator(vocab_size=50, max_length=6, embedding_dim=8, head_size=8, num_heads=2)
    samples = {}
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(4)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            if dtype == torch.float32:  # the float32 rows of the same draw (through the torch fallback's buffer)
                with unittest.mock.patch("textgan.kernels.gumbel_max.BF16_ROWS_MAX_VOCAB", 0):
                    samples[dtype] = generator.rsample(5, 3.0)
            else:
                samples[dtype] = generator.rsample(5, 3.0)
    exact, low = samples[torch.float32], samples[torch.bfloat16]
    assert exact.relaxed.dtype == torch.float32 and low.relaxed.dtype == torch.bfloat16
    assert torch.equal(low.tokens, exact.tokens) and torch.equal(low.relaxed, exact.relaxed.to(torch.bfloat16))


def test_rsample_on_cpu_is_reproducible_and_its_relaxed_rows_pick_its_tokens():
    torch.manual_seed(3)
    generator = RMCGenerator(vocab_size=50, max_length=6, embedding_dim=8, head_size=8, num_heads=2)
    draws = []
    for _ in range(2):
        seeded = torch.Generator().manual_seed(11)
        with torch.no_grad():
            draws.append(generator.rsample(9, 3.0, generator=seeded))
    assert torch.equal(draws[0].tokens, draws[1].tokens) and torch.equal(draws[0].relaxed, draws[1].relaxed)
    assert torch.equal(draws[0].relaxed.argmax(dim=-1), draws[0].tokens)
    seeded = torch.Generator().manual_seed(11)
    with_graph = generator.rsample(9, 3.0, generator=seeded)  # the noise kept, the rows made in the graph
    assert torch.equal(with_graph.tokens, draws[0].tokens)
    torch.testing.assert_close(with_graph.relaxed.detach(), draws[0].relaxed, rtol=1e-5, atol=1e-6)
