"""Baselines: the values they subtract, and that none of them looks at the reward it is subtracted from.

Unbiasedness and variance reduction of the estimator with each baseline are checked against the exact
gradient in ``test_reinforce.py``.
"""

from __future__ import annotations

import pytest
import torch

from textgan.estimators.baselines import (
    BASELINES,
    LeaveOneOutBaseline,
    MovingAverageBaseline,
    NoBaseline,
    SelfCriticalBaseline,
    make_baseline,
)


def test_no_baseline_is_zero():
    rewards = torch.rand(4, 3)
    assert torch.equal(NoBaseline()(rewards), torch.zeros(4, 3))


def test_leave_one_out_for_sequence_rewards_is_the_mean_of_the_others():
    rewards = torch.tensor([[1.0], [2.0], [3.0], [6.0]])  # (B, 1): one reward per sentence
    torch.testing.assert_close(
        LeaveOneOutBaseline()(rewards), torch.tensor([[11 / 3], [10 / 3], [3.0], [2.0]])
    )
    grouped = LeaveOneOutBaseline(group_size=2)(rewards)  # groups (1, 2) and (3, 6)
    torch.testing.assert_close(grouped, torch.tensor([[2.0], [1.0], [6.0], [3.0]]))
    with pytest.raises(ValueError):
        LeaveOneOutBaseline(group_size=3)(rewards)


def test_leave_one_out_for_rollout_rewards_uses_the_rollouts_from_the_previous_context():
    q = torch.tensor([[1.0, 2.0, 3.0], [3.0, 5.0, 7.0]])  # (B, T): Q(b, t) rewards token t
    baseline = LeaveOneOutBaseline()(q)
    # token 1's context is empty: the other sentence's Q(., 1); token t > 1: Q(b, t - 1), rollouts from y_<t
    torch.testing.assert_close(baseline, torch.tensor([[3.0, 1.0, 2.0], [1.0, 3.0, 5.0]]))


@pytest.mark.parametrize("baseline", [LeaveOneOutBaseline(), LeaveOneOutBaseline(group_size=2)])
def test_leave_one_out_never_reads_the_reward_it_is_subtracted_from(baseline):
    rewards = torch.rand(4, 5)
    value = baseline(rewards)
    for b in range(4):
        for t in range(5):
            changed = rewards.clone()
            changed[b, t:] += 1.0 + torch.rand(5 - t)  # this reward and every later one of the same sentence
            assert baseline(changed)[b, t] == pytest.approx(float(value[b, t]), abs=1e-6), (b, t)


def test_moving_average_is_bias_corrected_and_lags_one_batch():
    baseline = MovingAverageBaseline(decay=0.5)
    first = baseline(torch.full((2, 1), 4.0))
    assert torch.equal(first, torch.zeros(2, 1))  # nothing seen yet: zero, not the batch's own mean
    second = baseline(torch.full((2, 1), 8.0))
    torch.testing.assert_close(second, torch.full((2, 1), 4.0))  # bias-corrected: 0.5 * 4 / (1 - 0.5)
    third = baseline(torch.full((2, 3), 0.0))
    torch.testing.assert_close(third, torch.full((2, 3), (0.25 * 4 + 0.5 * 8) / 0.75))
    state = baseline.state_dict()
    restored = MovingAverageBaseline(decay=0.5)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored(torch.zeros(1, 1)), baseline(torch.zeros(1, 1)))


def test_self_critical_returns_the_greedy_rewards():
    rewards = torch.rand(3, 4)
    greedy = torch.rand(3, 4)
    assert SelfCriticalBaseline.needs_greedy
    assert torch.equal(SelfCriticalBaseline()(rewards, greedy), greedy)
    assert torch.equal(SelfCriticalBaseline()(rewards[:, :1], torch.tensor([[0.5]])), torch.full((3, 1), 0.5))
    with pytest.raises(ValueError):
        SelfCriticalBaseline()(rewards)


def test_baselines_are_made_from_names_or_objects():
    assert set(BASELINES) == {"none", "moving_average", "leave_one_out", "self_critical"}
    for name, cls in BASELINES.items():
        assert isinstance(make_baseline(name), cls)
    assert isinstance(make_baseline(None), NoBaseline)
    custom = MovingAverageBaseline(decay=0.1)
    assert make_baseline(custom) is custom
    with pytest.raises(ValueError):
        make_baseline("average")
