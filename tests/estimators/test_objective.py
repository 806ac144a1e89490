"""One objective for every estimator: REINFORCE's default reward is minus the per-sentence GAN generator loss
that the Gumbel-Softmax estimator differentiates (batch mean), with the relativistic loss's pairing of fake
sentence i (and every rollout completing its prefix) with real sentence i."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.rewards import DiscriminatorReward
from textgan.estimators.rollout import complete_prefixes, prefix_states
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import HingeGANLoss, RSGANLoss, StandardGANLoss
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH, BATCH = 6, 4, 5


class LinearCritic(nn.Module):
    """A deterministic two-representation discriminator of token ids or one-hot rows: (N, T[, V]) -> (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(LENGTH * VOCAB, 2))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen = tokens
        rows = tokens if tokens.is_floating_point() else nn.functional.one_hot(tokens, VOCAB).float()
        return rows.flatten(1) @ self.weight


def problem(seed: int = 0):
    torch.manual_seed(seed)
    generator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    return generator, LinearCritic(), torch.randint(VOCAB, (BATCH, LENGTH))


@pytest.mark.parametrize("gan_loss", [RSGANLoss(), StandardGANLoss(), HingeGANLoss()], ids=repr)
def test_reinforce_rewards_each_sentence_with_minus_its_gan_generator_loss(gan_loss):
    generator, critic, real = problem()
    estimator = ReinforceEstimator("sequence", discriminator_dropout=False)
    out = estimator.generator_loss(generator, critic, real, gan_loss, 0)
    tokens = critic.seen  # the sentences the estimator rewarded: its last discriminator call
    assert tokens.shape == (BATCH, LENGTH) and not torch.equal(tokens, real)
    with torch.no_grad():
        expected = -gan_loss.generator_loss(critic(real), critic(tokens), reduction="none")  # (B,)
    torch.testing.assert_close(out.logs["reward"], expected.mean())
    # and the Gumbel-Softmax estimator's loss is the batch mean of the same per-sentence losses
    relaxed = GumbelSoftmaxEstimator(InverseTemperatureSchedule(beta_max=1.0, adapt="no", horizon=2))
    loss = relaxed.generator_loss(generator, critic, real, gan_loss, 0).loss
    assert loss.shape == () and torch.isfinite(loss)


def test_reinforce_needs_the_gan_loss_for_its_default_reward():
    generator, critic, real = problem()
    with pytest.raises(ValueError, match="GAN loss"):
        ReinforceEstimator("sequence").generator_loss(generator, critic, real, None, 0)


@pytest.mark.parametrize("deduplicate", [True, False])
def test_rollout_completions_are_paired_with_their_own_sentences_real_row(deduplicate):
    generator, critic, real = problem(1)
    with torch.no_grad():
        tokens, _, _ = generator.unroll(BATCH, LENGTH, lambda logits: logits.argmax(dim=-1))
        tokens[1:] = tokens[0]  # identical sentences: identical completions across sentences get deduplicated
    scorer = DiscriminatorReward(critic, "gan_loss", RSGANLoss(), real_logits=critic(real))
    result = complete_prefixes(
        generator, tokens, prefix_states(generator, tokens), range(1, LENGTH), 3, scorer,
        deduplicate=deduplicate, keep_completions=True,
    )  # fmt: skip
    completions = result.completions  # (P, K, B, T)
    with torch.no_grad():
        fake = critic(completions.flatten(0, 2)).view(*completions.shape[:3], 2)  # (P, K, B, R)
        paired = critic(real).view(1, 1, BATCH, 2).expand_as(fake)  # sentence b <-> real row b
        expected = -nn.functional.softplus(paired - fake).mean(dim=-1)
    torch.testing.assert_close(result.rewards, expected)
    assert not torch.allclose(result.rewards[:, :, 0], result.rewards[:, :, 1])  # same rows, other pairings
