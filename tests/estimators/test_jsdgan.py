"""JSDGAN: the generator's gradient is the analytical gradient of JSD(P_batch || G), on a problem small enough to
enumerate every sentence; it survives sentences whose probability underflows; and it is not TextGAN-PyTorch's
min-max normalised variant, whose gradient points elsewhere."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from small_models import small_generators

from textgan.estimators.jsdgan import JsdganEstimator, jsd_log_weights
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH = 3, 3
# a real batch with repeated sentences: its empirical distribution puts 3/8 on [0, 1, 2] and 2/8 on [2, 2, 0]
REAL = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 1, 2], [2, 2, 0], [2, 2, 0], [1, 0, 0], [2, 1, 1], [0, 0, 0]])


def all_sentences(vocab: int = VOCAB, length: int = LENGTH) -> torch.Tensor:
    """Every sentence of the vocabulary and length: (V^T, T)."""
    return torch.cartesian_prod(*[torch.arange(vocab)] * length)


def empirical(real: torch.Tensor, sentences: torch.Tensor) -> torch.Tensor:
    """P_batch(x) for every enumerated sentence: (V^T,)."""
    return (sentences.unsqueeze(1) == real.unsqueeze(0)).all(dim=-1).double().mean(dim=1)


def exact_jsd(generator, real: torch.Tensor) -> torch.Tensor:
    """JSD(P_batch || G) summed over every sentence, differentiable in the generator's parameters."""
    sentences = all_sentences()
    g = generator.log_prob(sentences).sum(dim=1).double().exp()  # (V^T,) sums to one
    p = empirical(real, sentences)
    support = p > 0  # 0 log 0 = 0 off the batch's support
    real_term = (p[support] * torch.log(2 * p[support] / (p[support] + g[support]))).sum()
    return 0.5 * real_term + 0.5 * (g * torch.log(2 * g / (p + g))).sum()


def gradient(generator, loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(generator.parameters()), allow_unused=True, materialize_grads=True)
    return torch.cat([g.reshape(-1) for g in grads]).double()


def estimator_gradient(generator, real: torch.Tensor, normalize: bool) -> torch.Tensor:
    out = JsdganEstimator(normalize=normalize).generator_loss(generator, None, real, None, step=0)
    return gradient(generator, out.loss).double()


def textgan_pytorch_minmax_loss(generator, real: torch.Tensor) -> torch.Tensor:
    """TextGAN-PyTorch's JSD_loss: probabilities min-max normalised over the batch, P = 1/B per row."""
    log_probs = generator.log_prob(real).sum(dim=1)
    prob = log_probs.double().exp()
    prob = ((prob - prob.min()) / (prob.max() - prob.min()).clamp(min=1e-78)).clamp(min=1e-10)
    data = torch.full_like(prob, 1 / real.shape[0])
    reward = torch.log(1 - data / (data + prob))
    return ((prob * reward).detach() * log_probs.double()).sum()


@pytest.mark.parametrize("index", [0, 1], ids=["lstm", "rmc"])
def test_the_gradient_is_the_analytical_jsd_gradient(index):
    torch.manual_seed(3)
    generator = small_generators(VOCAB, LENGTH)[index]
    exact = gradient(generator, exact_jsd(generator, REAL))
    estimated = estimator_gradient(generator, REAL, normalize=False)
    assert exact.norm() > 1e-4  # a real gradient, not a trivially zero one
    torch.testing.assert_close(estimated, exact, rtol=1e-4, atol=1e-7 * exact.norm().item())


def test_repeated_sentences_count_once_with_their_empirical_probability():
    """The batch's sentences enter once each, at P = count / B: the weights of a repeated sentence's rows sum to
    the weight of that sentence (ignoring the counts, as 1/B per row does, would change the gradient)."""
    log_probs = torch.tensor([-3.0, -3.0, -3.0, -2.0])
    tokens = torch.tensor([[0, 1], [0, 1], [0, 1], [1, 1]])
    weights = -jsd_log_weights(log_probs, tokens).exp()
    p, g = torch.tensor([0.75, 0.25], dtype=torch.float64), torch.tensor([-3.0, -2.0], dtype=torch.float64).exp()
    per_sentence = 0.5 * g * torch.log(g / (p + g))
    torch.testing.assert_close(weights[:3].sum(), per_sentence[0])
    torch.testing.assert_close(weights[3], per_sentence[1])


def test_normalised_weights_keep_the_exact_gradients_direction():
    torch.manual_seed(4)
    generator = small_generators(VOCAB, LENGTH)[0]
    exact = estimator_gradient(generator, REAL, normalize=False)
    normalised = estimator_gradient(generator, REAL, normalize=True)
    scale = normalised.norm() / exact.norm()
    torch.testing.assert_close(normalised, scale * exact, rtol=1e-4, atol=1e-6 * normalised.norm().item())


def test_min_max_normalisation_changes_the_gradients_direction():
    """TextGAN-PyTorch's defect: min-max normalising the probabilities per batch reweights the sentences (the
    least likely one gets none), so its gradient is not (a multiple of) the JSD gradient; ours is."""
    torch.manual_seed(3)
    generator = small_generators(VOCAB, LENGTH)[0]
    exact = gradient(generator, exact_jsd(generator, REAL))
    minmax = gradient(generator, textgan_pytorch_minmax_loss(generator, REAL))
    ours = estimator_gradient(generator, REAL, normalize=True)
    assert F.cosine_similarity(ours, exact, dim=0) > 1 - 1e-6
    assert F.cosine_similarity(minmax, exact, dim=0) < 0.98


def test_sentences_far_below_floating_point_range_still_give_a_gradient():
    """Real sentences of log-probability ~ -1,000 nats: exp underflows even in float64, the weights formed in
    log space and normalised stay finite and sum to one, and the gradient is finite and not zero."""
    vocab, length = 50, 40
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab, length, embedding_dim=8, hidden_dim=8)
    with torch.no_grad():
        generator.output.bias[0] = 30.0  # token 0 takes almost all mass; the real sentences avoid it
    real = torch.randint(1, vocab, (16, length))
    log_probs = generator.log_prob(real).sum(dim=1)
    assert log_probs.max() < -800
    log_weights = jsd_log_weights(log_probs, real)
    assert torch.isfinite(log_weights).all()
    assert math.isclose(torch.logsumexp(log_weights - torch.logsumexp(log_weights, 0), 0).exp().item(), 1.0)
    normalised = estimator_gradient(generator, real, normalize=True)
    assert torch.isfinite(normalised).all() and normalised.norm() > 1e-3
    assert estimator_gradient(generator, real, normalize=False).norm() == 0  # the exact gradient underflows


def test_jsdgan_trains_no_discriminator():
    assert JsdganEstimator.trains_discriminator is False
