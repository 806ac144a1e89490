"""LeakGAN's objectives on hand-built inputs, one test per defect of TextGAN-PyTorch's ``models/LeakGAN_G.py``
that this implementation must not repeat:

* the Worker's loss with its sign flipped -> ``test_the_worker_loss_raises_the_likelihood_of_rewarded_tokens``;
* the intrinsic reward from ``f_{t+1} - goal`` instead of feature changes over the goal horizon
  -> ``test_the_intrinsic_reward_is_the_feature_change_along_the_last_c_goals``;
* the goal horizon hard-coded -> ``test_the_goal_horizon_is_read_from_the_config``;
* the complete sentence never scored -> ``test_the_last_windows_reward_is_the_discriminators_score_of_the_sentence``;
* the rescaling missing -> ``test_rewards_are_rescaled_by_rank_per_column``;
* an in-place error when the Manager steps before the Worker's backward pass
  -> ``test_manager_and_worker_steps_run_in_either_order``.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hydra_compose import compose_config
from omegaconf import OmegaConf

from textgan.estimators.leakgan import (
    LeakganEstimator,
    complete_windows,
    manager_loss,
    rescaled_rewards,
    window_rewards,
    worker_loss,
)
from textgan.losses.gan import StandardGANLoss
from textgan.models.io import build_from_config
from textgan.models.leakgan import LeakGANGenerator
from textgan.models.leakgan_goals import intrinsic_rewards, window_cosines
from textgan.models.lstm import LSTMGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator
from textgan.sampling import categorical_sample

VOCAB, LENGTH = 12, 8
EXTRACTOR = {
    "_target_": "textgan.models.seqgan_discriminator.SeqGANDiscriminator",
    "embedding_dim": 6,
    "filter_sizes": [1, 2, 3],
    "num_filters": [3, 4, 5],
}


def small(step_size: int = 3, seed: int = 0) -> LeakGANGenerator:
    torch.manual_seed(seed)
    return LeakGANGenerator(VOCAB, LENGTH, EXTRACTOR, embedding_dim=5, hidden_dim=6, goal_size=3, step_size=step_size)


def discriminator(seed: int = 1) -> SeqGANDiscriminator:
    torch.manual_seed(seed)
    arguments = {k: v for k, v in EXTRACTOR.items() if k != "_target_"}
    return SeqGANDiscriminator(VOCAB, LENGTH, **arguments)


def cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


# f_0 .. f_3 and g_0 .. g_2 in two dimensions (B = 1, T = 3)
FEATURES = [[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [3.0, 1.0]]
GOALS = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]


def test_the_intrinsic_reward_is_the_feature_change_along_the_last_c_goals():
    features, goals = torch.tensor([FEATURES]), torch.tensor([GOALS])
    f, g = FEATURES, GOALS

    def diff(a, b):
        return [x - y for x, y in zip(f[a], f[b], strict=True)]

    # r_t = 1/c sum_{i=1..c} cos(f_{t+1} - f_{t+1-i}, g_{t+1-i}), c = 2; terms before g_0 count 0
    expected = [
        cos(diff(1, 0), g[0]) / 2,
        (cos(diff(2, 1), g[1]) + cos(diff(2, 0), g[0])) / 2,
        (cos(diff(3, 2), g[2]) + cos(diff(3, 1), g[1])) / 2,
    ]
    got = intrinsic_rewards(features, goals, step_size=2)[0].tolist()
    assert got == pytest.approx(expected, abs=1e-6)
    # the peer's reward, cos(f_{t+1} - g_t, g_t), is another number
    peer = [cos([a - b for a, b in zip(f[t + 1], g[t], strict=True)], g[t]) for t in range(3)]
    assert got != pytest.approx(peer, abs=1e-3)


def test_the_managers_cosines_are_taken_every_c_steps_over_the_horizon():
    features, goals = torch.tensor([FEATURES]), torch.tensor([GOALS])
    got = window_cosines(features, goals, step_size=2)[0].tolist()  # windows [0, 2) and [2, 3)
    expected = [cos([1.0, 2.0], GOALS[0]), cos([2.0, -1.0], GOALS[2])]
    assert got == pytest.approx(expected, abs=1e-6)


def test_the_worker_loss_raises_the_likelihood_of_rewarded_tokens():
    rewards = torch.tensor([[0.5, -0.25]])
    log_probs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    loss = worker_loss(rewards, log_probs)
    assert loss.item() == pytest.approx(-(0.5 * -1.0 + -0.25 * -2.0) / 2)
    loss.backward()
    assert log_probs.grad.tolist() == [[-0.25, 0.125]]  # descent raises log p where the reward is positive


def test_the_manager_loss_raises_the_cosine_in_proportion_to_the_reward():
    rewards = torch.tensor([[0.8, 0.2]])
    cosines = torch.tensor([[0.5, -0.5]], requires_grad=True)
    loss = manager_loss(rewards, cosines)
    assert loss.item() == pytest.approx(-(0.8 * 0.5 - 0.2 * 0.5) / 2)
    loss.backward()
    torch.testing.assert_close(cosines.grad, torch.tensor([[-0.4, -0.1]]))


def test_rewards_are_rescaled_by_rank_per_column():
    rewards = torch.tensor([[0.1, 0.9], [0.5, 0.2], [0.3, 0.3], [0.5, 0.0]])
    delta, batch = 12.0, 4

    def sigma(rank: int) -> float:
        return 1.0 / (1.0 + math.exp(-delta * (0.5 - rank / batch)))

    # column 0: 0.5 and 0.5 share rank 1, then 0.3 (rank 3), 0.1 (rank 4); column 1: 0.9, 0.3, 0.2, 0.0
    expected = [[sigma(4), sigma(1)], [sigma(1), sigma(3)], [sigma(3), sigma(2)], [sigma(1), sigma(4)]]
    torch.testing.assert_close(rescaled_rewards(rewards, delta), torch.tensor(expected))


class TokenSum:
    """A deterministic scorer: the sentence's token sum / 100, and every sentence it saw."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen.append(tokens.clone())
        return tokens.float().sum(dim=1) / 100


def test_the_last_windows_reward_is_the_discriminators_score_of_the_sentence():
    generator = small(step_size=3)
    tokens, _, states = generator.unroll(4, LENGTH, lambda logits: logits.argmax(-1), keep_states=True)
    score = TokenSum()
    values = window_rewards(generator, tokens, states, score, num_rollouts=2)
    assert values.shape == (4, 3)  # window ends 3, 6, 8
    torch.testing.assert_close(values[:, -1], tokens.float().sum(dim=1) / 100)


def test_the_goal_horizon_is_read_from_the_config(tmp_path):
    cfg = compose_config(tmp_path, "experiment=seqgan_oracle", "generator=leakgan", "estimator=leakgan",
                         "generator.step_size=3")  # fmt: skip
    build = OmegaConf.to_container(cfg.generator, resolve=True)
    build.pop("pretrained")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = build_from_config({**build, "vocab_size": VOCAB, "max_length": LENGTH})
    assert generator.step_size == 3
    tokens, _, states = generator.unroll(2, LENGTH, lambda logits: logits.argmax(-1), keep_states=True)
    score = TokenSum()
    values = window_rewards(generator, tokens, states, score, num_rollouts=1, deduplicate=False)
    assert values.shape == (2, 3)  # ends 3, 6, 8: horizon 3, not 4
    completions = score.seen[1]  # after the complete sentences: the rollouts, windows in order
    assert torch.equal(completions[:2, :3], tokens[:, :3]) and torch.equal(completions[2:, :6], tokens[:, :6])


def test_manager_and_worker_steps_run_in_either_order():
    gradients = []
    for manager_first in (True, False):
        generator = small()
        manager_optimizer = torch.optim.Adam(generator.manager_parameters(), lr=0.1)
        worker_optimizer = torch.optim.Adam(generator.worker_parameters(), lr=0.1)
        tokens = torch.randint(VOCAB, (3, LENGTH))
        run = generator.teacher_forced(tokens)
        log_probs = torch.log_softmax(run.logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        intrinsic = intrinsic_rewards(run.features, run.goals.detach(), 3)
        losses = {
            "manager": (manager_loss(torch.rand(3, 3), window_cosines(run.features, run.goals, 3)), manager_optimizer),
            "worker": (worker_loss(intrinsic, log_probs), worker_optimizer),
        }
        for name in ("manager", "worker") if manager_first else ("worker", "manager"):
            loss, optimizer = losses[name]
            optimizer.zero_grad()
            loss.backward()  # after the other module's step: no in-place error
            optimizer.step()
        gradients.append([p.grad.clone() for p in generator.parameters() if p.grad is not None])
    assert all(torch.equal(a, b) for a, b in zip(*gradients, strict=True))  # the order changes nothing


def test_one_update_trains_manager_and_worker_and_leaks_the_discriminators_weights():
    generator, critic = small(), discriminator()
    estimator = LeakganEstimator(rollout_num=2)
    estimator.setup(generator, critic)
    assert all(
        torch.equal(a, b) for a, b in zip(critic.parameters(), generator.feature_extractor.parameters(), strict=True)
    )
    with torch.no_grad():
        critic.embedding.weight.add_(1.0)  # the discriminator learns ...
    out = estimator.generator_loss(generator, critic, torch.randint(VOCAB, (4, LENGTH)), StandardGANLoss(), step=0)
    assert torch.equal(generator.feature_extractor.embedding.weight, critic.embedding.weight)  # ... and leaks
    out.loss.backward()
    assert all(p.grad is not None for p in generator.manager_parameters() + generator.worker_parameters())
    assert all(p.grad is None for p in generator.feature_extractor.parameters())
    assert {"manager_loss", "worker_loss", "intrinsic_reward"} <= set(out.logs)


def test_the_estimator_refuses_other_generators_and_featureless_discriminators():
    from textgan.models.language_model_discriminator import LanguageModelDiscriminator

    estimator = LeakganEstimator()
    with pytest.raises(ValueError, match="estimator=leakgan needs generator=leakgan"):
        estimator.setup(LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4), discriminator())
    with pytest.raises(ValueError, match="estimator=leakgan needs a discriminator with sentence features"):
        estimator.setup(small(), LanguageModelDiscriminator(VOCAB, LENGTH, embedding_dim=4, hidden_size=4))
    other = SeqGANDiscriminator(VOCAB, LENGTH, embedding_dim=4, filter_sizes=[1], num_filters=[2])
    with pytest.raises(ValueError, match="must have the discriminator's class and sizes"):
        estimator.setup(small(), other)


def test_interleaved_mle_adds_the_mle_loss_of_the_real_batch_every_n_iterations():
    real = torch.randint(VOCAB, (4, LENGTH))
    losses = {}
    for every, step in ((0, 0), (2, 1), (2, 2)):
        generator, critic = small(), discriminator()
        estimator = LeakganEstimator(rollout_num=1, mle_every=every)
        estimator.setup(generator, critic)
        torch.manual_seed(3)
        losses[every, step] = estimator.generator_loss(generator, critic, real, StandardGANLoss(), step=step)
    assert "interleaved_nll" not in losses[0, 0].logs and "interleaved_nll" not in losses[2, 1].logs
    torch.testing.assert_close(losses[2, 1].loss, losses[0, 0].loss)  # same samples: no MLE term at step 1
    mle, nll = small().mle_loss(real)
    torch.testing.assert_close(losses[2, 2].logs["interleaved_nll"], nll)
    torch.testing.assert_close(losses[2, 2].loss, losses[0, 0].loss + mle)


def test_one_loop_completes_every_window_as_a_loop_per_window_would():
    generator = small(step_size=3)
    tokens, _, states = generator.unroll(3, LENGTH, categorical_sample, keep_states=True)

    def greedy(logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=-1)

    batched = complete_windows(generator, tokens, states, [3, 6], num_rollouts=2, choose=greedy)
    for window, end in enumerate([3, 6]):
        rest, _, _ = generator.unroll(6, LENGTH - end, greedy, state=states[end - 1].repeat(2),
                                      first_input=tokens[:, end - 1].repeat(2))  # fmt: skip
        expected = torch.cat([tokens[:, :end].repeat(2, 1), rest], dim=1)
        assert torch.equal(batched[window * 6 : (window + 1) * 6], expected)
