"""REINFORCE: unbiased on an enumerable problem (claim 4), baselines keep the mean and cut the variance, and
the estimator trains every generator against every discriminator."""

from __future__ import annotations

import math

import pytest
import torch
from small_models import small_discriminators, small_generators
from torch import nn

from textgan.estimators.baselines import Baseline
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.losses.gan import RSGANLoss
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH = 5, 3  # 125 sequences: small enough to sum over exactly
DRAWS, BATCH = 400, 8  # independent estimates, sentences per estimate
Z_LIMIT = 5.0  # |mean - exact| < 5 standard errors for every parameter (about 1e-4 false alarms for ~200)


class TableReward(nn.Module):
    """A fixed reward ``f(y)`` of the whole sequence, returned as a one-logit "discriminator" (B, 1).

    With ``reward_transform="logit"`` the estimator's reward is exactly ``f(y)``.
    """

    def __init__(self, table: torch.Tensor, vocab: int, length: int) -> None:
        super().__init__()
        self.register_buffer("table", table)  # (V^T,) indexed by the sequence read as a base-V number
        self.register_buffer("powers", vocab ** torch.arange(length - 1, -1, -1))
        self.calls = 0

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.table[(tokens * self.powers).sum(dim=-1)].unsqueeze(-1)  # (B, 1)


def all_sequences(vocab: int = VOCAB, length: int = LENGTH) -> torch.Tensor:
    """Every sequence (V^T, T), in the order of ``TableReward``'s index."""
    return torch.cartesian_prod(*[torch.arange(vocab)] * length)


def tiny_problem(seed: int = 0) -> tuple[LSTMGenerator, TableReward]:
    """A non-uniform tiny LSTM generator and a reward table in [1, 2] (a mean far from zero)."""
    torch.manual_seed(seed)
    generator = LSTMGenerator(vocab_size=VOCAB, max_length=LENGTH, embedding_dim=4, hidden_dim=4)
    for parameter in generator.parameters():
        nn.init.normal_(parameter, std=0.7)
    return generator, TableReward(1.0 + torch.rand(VOCAB**LENGTH), VOCAB, LENGTH)


def flat_gradient(generator: nn.Module, objective: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(objective, list(generator.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def expected_reward(generator: LSTMGenerator, reward: TableReward) -> torch.Tensor:
    """``sum_y p(y) f(y)``, exactly, with a graph."""
    sequences = all_sequences()
    return (generator.log_prob(sequences).sum(dim=1).exp() * reward.table).sum()


def exact_gradient(generator: LSTMGenerator, reward: TableReward) -> torch.Tensor:
    return flat_gradient(generator, expected_reward(generator, reward))


def estimates(estimator: ReinforceEstimator, generator, reward, draws: int = DRAWS, burn_in: int = 0):
    """``draws`` independent estimates of the reward's gradient, ``-grad loss``: (draws, parameters)."""
    real = torch.zeros(BATCH, LENGTH, dtype=torch.long)  # only its shape matters
    rows = []
    for draw in range(burn_in + draws):
        loss = estimator.generator_loss(generator, reward, real, None, draw).loss
        gradient = flat_gradient(generator, -loss)
        if draw >= burn_in:
            rows.append(gradient)
    return torch.stack(rows)


def assert_unbiased(samples: torch.Tensor, exact: torch.Tensor, z_limit: float = Z_LIMIT) -> None:
    mean = samples.mean(dim=0)
    standard_error = samples.std(dim=0) / math.sqrt(samples.shape[0])
    deterministic = standard_error < 1e-9  # e.g. a parameter no sample touches: must match exactly
    assert torch.allclose(mean[deterministic], exact[deterministic], atol=1e-6)
    z = ((mean - exact).abs() / standard_error)[~deterministic]
    assert z.max() < z_limit, f"largest deviation {z.max():.2f} standard errors (parameter {z.argmax()})"


def estimator(
    reward: str = "sequence", baseline: Baseline | str | None = None, **options
) -> ReinforceEstimator:
    options = {"rollout_num": 2, "num_samples": BATCH, "reward_transform": "logit", **options}
    return ReinforceEstimator(reward, baseline=baseline, **options)


# ------------------------------------------------------------------------------------------------ claim 4
@pytest.mark.slow  # statistical: hundreds of estimates
@pytest.mark.parametrize("reward", ["sequence", "rollout"])
def test_reinforce_is_unbiased_for_the_exact_gradient(reward):
    generator, table = tiny_problem()
    exact = exact_gradient(generator, table)
    assert exact.abs().max() > 1e-2  # a problem with a gradient to find
    assert_unbiased(estimates(estimator(reward), generator, table), exact)


class SelfInclusiveMean(Baseline):
    """NOT a baseline: the batch mean includes the sample itself; it scales the gradient by (B - 1) / B."""

    def forward(self, rewards, greedy_rewards=None):
        return rewards.mean(dim=0, keepdim=True).expand_as(rewards)


@pytest.mark.slow  # statistical: hundreds of estimates
def test_the_unbiasedness_check_rejects_a_biased_estimator():
    generator, table = tiny_problem()
    exact = exact_gradient(generator, table)
    biased = estimates(
        estimator("sequence", SelfInclusiveMean(), num_samples=2), generator, table, draws=1000
    )
    with pytest.raises(AssertionError, match="standard errors"):
        assert_unbiased(biased, exact)


BASELINES = ["moving_average", "leave_one_out", "self_critical"]


@pytest.mark.slow  # statistical: hundreds of estimates per baseline
@pytest.mark.parametrize("reward", ["sequence", "rollout"])
@pytest.mark.parametrize("baseline", BASELINES)
def test_each_baseline_keeps_the_mean_and_lowers_the_variance(baseline, reward):
    generator, table = tiny_problem()
    exact = exact_gradient(generator, table)
    torch.manual_seed(1)
    plain = estimates(estimator(reward), generator, table)
    torch.manual_seed(1)
    with_baseline = estimates(estimator(reward, baseline), generator, table, burn_in=10)
    assert_unbiased(with_baseline, exact)
    total_variance = with_baseline.var(dim=0).sum() / plain.var(dim=0).sum()
    # rewards in [1, 2]: without a baseline the reward's mean (~1.5) multiplies every score; with one only
    # the spread around it does. The ratio is about 0.05-0.3 here; 0.5 leaves room for 400 draws' noise.
    assert total_variance < 0.5, f"variance ratio {total_variance:.3f}"


@pytest.mark.slow  # statistical
def test_rollout_rewards_lower_the_variance_of_sequence_rewards():
    generator, table = tiny_problem()
    torch.manual_seed(2)
    sequence = estimates(estimator("sequence", "leave_one_out"), generator, table)
    torch.manual_seed(2)
    rollout = estimates(estimator("rollout", "leave_one_out", rollout_num=8), generator, table)
    assert rollout.var(dim=0).sum() < sequence.var(dim=0).sum()


# ------------------------------------------------------------------------------------------------ end to end
@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
@pytest.mark.parametrize("discriminator_index", [0, 1, 2], ids=["seqgan", "relgan", "lstm"])
@pytest.mark.parametrize("reward", ["sequence", "rollout"])
def test_generator_loss_is_finite_and_reaches_every_generator_parameter(
    generator_index, discriminator_index, reward
):
    vocab, length = 30, 7
    generator = small_generators(vocab, length)[generator_index]
    discriminator = small_discriminators(vocab, length)[discriminator_index].train()
    options = {"baseline": "self_critical", "entropy_weight": 0.01} if reward == "rollout" else {}
    est = ReinforceEstimator(reward, rollout_num=3, max_batch=16, sample_batch=8, **options)
    est.setup(generator, discriminator)
    out = est.generator_loss(generator, discriminator, torch.randint(vocab, (4, length)), RSGANLoss(), 0)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(parameter.grad is None for parameter in discriminator.parameters())
    assert discriminator.training  # scored in its training mode (dropout), as the relaxed loss is
    assert {"reward", "baseline", "entropy", "discriminator_calls"} <= set(out.logs)
    assert float(out.logs["reward"]) < 0.0  # minus the per-sentence RSGAN loss, a softplus


@pytest.mark.parametrize("reward", ["sequence", "rollout"])
def test_fifty_steps_on_a_fixed_reward_raise_the_expected_reward(reward):
    generator, table = tiny_problem(seed=3)
    table.table.copy_(torch.rand(VOCAB**LENGTH))
    before = float(expected_reward(generator, table).detach())
    optimizer = torch.optim.Adam(generator.parameters(), lr=0.03)
    est = estimator(reward, "leave_one_out")
    real = torch.zeros(16, LENGTH, dtype=torch.long)
    for step in range(50):
        optimizer.zero_grad()
        est.generator_loss(generator, table, real, None, step).loss.backward()
        optimizer.step()
    after = float(expected_reward(generator, table).detach())
    assert after > before + 0.1, (before, after)


def test_options_change_the_loss_as_documented():
    generator, table = tiny_problem()
    real = torch.zeros(BATCH, LENGTH, dtype=torch.long)
    losses = {}
    for reduction in ["sequence_mean", "token_mean", "sum"]:
        torch.manual_seed(5)
        losses[reduction] = estimator("sequence", reduction=reduction).generator_loss(
            generator, table, real, None, 0
        )
    losses = {reduction: float(out.loss.detach()) for reduction, out in losses.items()}
    assert losses["sum"] == pytest.approx(BATCH * losses["sequence_mean"], rel=1e-5)
    assert losses["token_mean"] == pytest.approx(losses["sequence_mean"] / LENGTH, rel=1e-5)
    torch.manual_seed(5)
    bonus = estimator("sequence", entropy_weight=0.5).generator_loss(generator, table, real, None, 0)
    entropy_sum = float(bonus.logs["entropy"]) * LENGTH  # mean over tokens -> sum over a sentence
    assert float(bonus.loss.detach()) == pytest.approx(losses["sequence_mean"] - 0.5 * entropy_sum, rel=1e-4)
    torch.manual_seed(5)
    normalized = estimator("sequence", normalize_rewards=True).generator_loss(generator, table, real, None, 0)
    assert float(normalized.logs["advantage_std"]) == pytest.approx(1.0, rel=1e-4)


def test_reward_transforms_and_bad_options():
    from textgan.estimators.rewards import reward_from_logits

    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])  # (N, R = 2 representations)
    assert torch.allclose(reward_from_logits(logits, "prob"), torch.sigmoid(logits).mean(dim=1))
    assert torch.allclose(reward_from_logits(logits, "logit"), torch.tensor([1.0, 0.0]))
    assert torch.allclose(
        reward_from_logits(logits, "log_prob"), nn.functional.logsigmoid(logits).mean(dim=1)
    )
    for bad in [
        {"reward": "nope"},
        {"reduction": "nope"},
        {"reward_transform": "nope"},
        {"baseline": "nope"},
    ]:
        with pytest.raises(ValueError):
            ReinforceEstimator(**bad)
