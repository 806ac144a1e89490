"""The lab's exact gradient is the gradient of the enumerated objective, computed here a second, independent
way; its statistics tell an unbiased estimator from a biased one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from textgan.estimators.diagnostics import (
    all_sequences,
    estimator_gradients,
    exact_gradient,
    flat_gradient,
    gradient_statistics,
    sequence_rewards,
)
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import RSGANLoss, StandardGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.models.rmc import RMCGenerator

VOCAB, LENGTH = 3, 3


class LinearCritic(nn.Module):
    """A frozen two-representation discriminator of ids or one-hot rows: (N, T[, V]) -> (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(LENGTH * VOCAB, 2))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rows = tokens if tokens.is_floating_point() else nn.functional.one_hot(tokens, VOCAB).float()
        return rows.flatten(1) @ self.weight


def test_all_sequences_lists_each_sequence_once():
    sequences = all_sequences(VOCAB, LENGTH)
    assert sequences.shape == (VOCAB**LENGTH, LENGTH)
    assert len({tuple(row) for row in sequences.tolist()}) == VOCAB**LENGTH
    with pytest.raises(ValueError, match="too many"):
        all_sequences(5000, 4)


@pytest.mark.parametrize("make_generator", [
    lambda: LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4),
    lambda: RMCGenerator(VOCAB, LENGTH, embedding_dim=4, head_size=4, num_heads=2, mem_slots=1),
], ids=["lstm", "rmc"])  # fmt: skip
@pytest.mark.parametrize("gan_loss", [StandardGANLoss(), RSGANLoss()], ids=repr)
def test_exact_gradient_equals_an_independent_enumeration(make_generator, gan_loss):
    torch.manual_seed(0)
    generator, critic = make_generator(), LinearCritic()
    real = torch.randint(VOCAB, (4, LENGTH))
    sequences = all_sequences(VOCAB, LENGTH)
    exact = exact_gradient(generator, sequences, sequence_rewards(critic, gan_loss, sequences, VOCAB, real))

    # The same objective, sequence by sequence: probabilities from the free-running loop with forced tokens,
    # the reward from the batch loss of one fake sentence against each real one.
    total = torch.zeros(())
    for sequence in sequences:
        forced = iter(sequence.unsqueeze(1).unbind(dim=0))
        _, logits, _ = generator.unroll(1, LENGTH, lambda _, forced=forced: next(forced), keep_logits=True)
        probability = torch.softmax(logits[0], dim=-1).gather(1, sequence.unsqueeze(1)).prod()
        with torch.no_grad():
            fake = critic(sequence.unsqueeze(0))
            if gan_loss.uses_real_in_generator_loss:
                reward = torch.stack([gan_loss.generator_loss(critic(r.unsqueeze(0)), fake) for r in real]).mean()
            else:
                reward = gan_loss.generator_loss(None, fake)
        total = total + probability * reward
    torch.testing.assert_close(exact, flat_gradient(generator, total), rtol=1e-4, atol=1e-6)


def test_statistics_of_synthetic_estimates():
    exact = torch.tensor([3.0, 4.0])
    doubled = gradient_statistics(torch.stack([2 * exact] * 8), exact)
    assert doubled["relative_bias"] == pytest.approx(1.0) and doubled["relative_std"] == pytest.approx(0.0)
    assert doubled["cosine_mean_exact"] == pytest.approx(1.0)
    noisy = exact + torch.tensor([[1.0, 0.0], [-1.0, 0.0]]).repeat(50, 1)
    stats = gradient_statistics(noisy, exact)
    assert stats["relative_bias"] == pytest.approx(0.0, abs=1e-6)
    assert stats["relative_std"] == pytest.approx(1.0 / 5.0)
    assert stats["relative_bias_standard_error"] == pytest.approx(0.2 / 10.0)


def test_statistics_tell_an_unbiased_estimator_from_a_biased_one():
    torch.manual_seed(1)
    generator, critic = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4), LinearCritic()
    with torch.no_grad():
        critic.weight.mul_(3.0)  # a strong reward signal: the relaxation's bias is large at tau = 1
    real = torch.randint(VOCAB, (8, LENGTH))
    loss = StandardGANLoss()
    sequences = all_sequences(VOCAB, LENGTH)
    exact = exact_gradient(generator, sequences, sequence_rewards(critic, loss, sequences, VOCAB, real))
    unbiased = ReinforceEstimator("sequence", baseline="leave_one_out", discriminator_dropout=False)
    biased = GumbelSoftmaxEstimator(InverseTemperatureSchedule(beta_max=1.0, adapt="no", horizon=2))
    reinforce = gradient_statistics(estimator_gradients(unbiased, generator, critic, loss, real, 600)[0], exact)
    relaxed = gradient_statistics(estimator_gradients(biased, generator, critic, loss, real, 600)[0], exact)
    assert reinforce["relative_bias"] < 4 * reinforce["relative_bias_standard_error"]
    assert relaxed["relative_bias"] > 5 * relaxed["relative_bias_standard_error"]
    assert relaxed["relative_std"] < reinforce["relative_std"]  # claim 5, on this problem
