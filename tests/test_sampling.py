"""Claims 1-3 of the background note, checked numerically, and the samplers built on them."""

import math

import torch
import torch.nn.functional as F

from textgan.sampling import categorical_sample, gumbel_noise, straight_through

# Upper 0.1% point of the chi-square distribution with 5 degrees of freedom.
CHI2_DF5_P001 = 20.515


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def relaxed(logits: torch.Tensor, inverse_temperature: float, noise: torch.Tensor) -> torch.Tensor:
    """RelGAN's Gumbel-Softmax row ``softmax(beta * (o + g))``, as ``Generator.rsample`` computes it."""
    return torch.softmax((logits + noise) * inverse_temperature, dim=-1)


def test_claim1_gumbel_max_frequencies_match_softmax():
    logits = torch.tensor([1.5, 0.2, -0.7, 0.9, -2.0, 0.0])
    noise = gumbel_noise((200_000, 6), generator=torch.Generator().manual_seed(1))
    draws = (logits + noise).argmax(-1)
    counts = torch.bincount(draws, minlength=6).double()
    assert chi_square(counts, torch.softmax(logits.double(), 0)) < CHI2_DF5_P001
    # The test has power: the same draws are far from a sharper distribution.
    assert chi_square(counts, torch.softmax(2 * logits.double(), 0)) > 100 * CHI2_DF5_P001


def test_inverse_cdf_sampler_draws_the_same_distribution():
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0, 0.5, -0.2])
    draws = categorical_sample(logits.expand(200_000, -1), generator=torch.Generator().manual_seed(2))
    counts = torch.bincount(draws, minlength=6).double()
    assert chi_square(counts, torch.softmax(logits.double(), 0)) < CHI2_DF5_P001
    cold = categorical_sample(logits.expand(200_000, -1), 0.5, generator=torch.Generator().manual_seed(3))
    cold_counts = torch.bincount(cold, minlength=6).double()
    assert chi_square(cold_counts, torch.softmax(logits.double() / 0.5, 0)) < CHI2_DF5_P001


def test_categorical_sample_keeps_the_leading_shape():
    draws = categorical_sample(torch.randn(3, 4, 7), generator=torch.Generator().manual_seed(8))
    assert draws.shape == (3, 4) and draws.dtype == torch.long
    assert int(draws.min()) >= 0 and int(draws.max()) < 7


def test_claim2_raw_logits_and_log_probabilities_give_the_same_argmax():
    logits = torch.randn(1000, 50) * 3
    noise = gumbel_noise(logits.shape, generator=torch.Generator().manual_seed(4))
    from_logits = (logits + noise).argmax(-1)
    from_log_probs = (torch.log_softmax(logits, -1) + noise).argmax(-1)
    shifted = (logits + 123.4 + noise).argmax(-1)
    assert torch.equal(from_logits, from_log_probs)
    assert torch.equal(from_logits, shifted)
    assert torch.allclose(relaxed(logits, 2.0, noise), relaxed(logits - 7.0, 2.0, noise), atol=1e-6)


def test_claim3_low_temperature_limit_is_the_gumbel_max_one_hot():
    logits = torch.randn(500, 20)
    noise = gumbel_noise(logits.shape, generator=torch.Generator().manual_seed(5))
    hard = F.one_hot((logits + noise).argmax(-1), 20).float()
    distances = [float((relaxed(logits, beta, noise) - hard).abs().max()) for beta in (1.0, 10.0, 100.0, 1e4)]
    assert all(a >= b for a, b in zip(distances, distances[1:], strict=False))
    assert distances[-1] < 1e-3
    assert distances[0] > 0.1
    # and the high-temperature limit is the uniform vector
    uniform = relaxed(logits, 1e-6, noise)
    assert torch.allclose(uniform, torch.full_like(uniform, 1 / 20), atol=1e-5)


def test_gumbel_noise_has_the_standard_gumbel_mean():
    noise = gumbel_noise((400_000,), generator=torch.Generator().manual_seed(6))
    euler_gamma = 0.5772156649
    assert abs(float(noise.mean()) - euler_gamma) < 5 * math.pi / math.sqrt(6) / math.sqrt(400_000)


def test_straight_through_is_one_hot_forward_and_soft_backward():
    logits = torch.randn(4, 7, requires_grad=True)
    soft = torch.softmax(logits, -1)
    index = soft.argmax(-1)
    mixed = straight_through(soft, index)
    assert torch.equal(mixed.detach(), F.one_hot(index, 7).float())
    weights = torch.randn(4, 7)
    (mixed * weights).sum().backward()
    expected = torch.autograd.grad((torch.softmax(logits, -1) * weights).sum(), logits)[0]
    assert torch.allclose(logits.grad, expected)
