"""The vectorised Monte-Carlo rollout equals a plain loop over sentences, prefixes and rollouts, draw for
draw; its sampler draws from the softmax; the delayed rollout copy follows SeqGAN's rule and checkpoints."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textgan.estimators.delayed_policy import DelayedPolicy
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.rollout import (
    complete_prefixes,
    inverse_cdf_sample,
    prefix_states,
    rollout_rewards,
    stack_states,
)
from textgan.models.generator import Generator
from textgan.models.lstm import LSTMGenerator
from textgan.models.rmc import RMCGenerator

VOCAB, LENGTH, BATCH, ROLLOUTS = 70, 6, 3, 4  # 70 = one full block of 64 plus a ragged tail of 6


def generators() -> list[Generator]:
    torch.manual_seed(0)
    return [
        LSTMGenerator(VOCAB, LENGTH, embedding_dim=8, hidden_dim=8),
        RMCGenerator(VOCAB, LENGTH, embedding_dim=8, head_size=4, num_heads=2, mem_slots=2),
    ]


class PositionTokenScore:
    """A reward that depends on every token and its position: ``sum_s W[s, y_s]``; records its calls."""

    def __init__(self, seed: int = 0) -> None:
        self.weights = torch.randn(LENGTH, VOCAB, generator=torch.Generator().manual_seed(seed))  # (T, V)
        self.calls: list[torch.Tensor] = []

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:  # (N, T) -> (N,)
        self.calls.append(tokens.clone())
        return self.weights.gather(1, tokens.t()).sum(dim=0)


@torch.no_grad()
def reference_rollout(generator: Generator, tokens: torch.Tensor, uniforms: torch.Tensor, score):
    """The plain loop: for each sentence b, prefix length t and rollout k, run the generator from scratch on
    ``y_b[:t]`` (one sentence at a time) and complete it with the draws ``uniforms[t - 1, k, b, s]``.

    Returns rewards (B, T) and completions indexed [b][t - 1][k] (T,)."""
    batch, length = tokens.shape
    rewards = torch.zeros(batch, length)
    completions: dict[tuple[int, int, int], torch.Tensor] = {}
    for b in range(batch):
        for t in range(1, length):
            total = 0.0
            for k in range(uniforms.shape[1]):
                state = generator.initial_state(1, tokens.device)
                token = torch.tensor([generator.start_token])
                sentence = []
                for s in range(length):
                    projected = generator.project_inputs(generator.embedding(token))
                    hidden, state = generator.cell(projected, state)
                    if s < t:
                        token = tokens[b, s].view(1)
                    else:
                        token = inverse_cdf_sample(generator.output(hidden), uniforms[t - 1, k, b, s].view(1))
                    sentence.append(token)
                completions[b, t, k] = torch.cat(sentence)
                total += float(score(completions[b, t, k].unsqueeze(0)))
            rewards[b, t - 1] = total / uniforms.shape[1]
        rewards[b, length - 1] = float(score(tokens[b].unsqueeze(0)))
    return rewards, completions


@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
@pytest.mark.parametrize("blocks", [(4096, 4096), (7, 5)], ids=["one-block", "ragged-blocks"])
def test_vectorised_rollout_equals_the_plain_loop_draw_for_draw(generator_index, blocks):
    generator = generators()[generator_index]
    max_batch, sample_batch = blocks
    tokens = generator.sample(BATCH)
    uniforms = torch.rand(
        LENGTH - 1, ROLLOUTS, BATCH, LENGTH
    )  # (prefix t - 1, rollout k, sentence b, position s)
    expected, expected_completions = reference_rollout(generator, tokens, uniforms, PositionTokenScore())

    rewards, _ = rollout_rewards(
        generator, tokens, PositionTokenScore(), ROLLOUTS, uniforms=uniforms,
        max_batch=max_batch, sample_batch=sample_batch,
    )  # fmt: skip
    assert rewards.shape == (BATCH, LENGTH)
    torch.testing.assert_close(rewards, expected, rtol=1e-5, atol=1e-5)

    result = complete_prefixes(
        generator, tokens, prefix_states(generator, tokens), range(1, LENGTH), ROLLOUTS, PositionTokenScore(),
        uniforms=uniforms, max_batch=max_batch, sample_batch=sample_batch, keep_completions=True,
    )  # fmt: skip
    for (b, t, k), completion in expected_completions.items():
        assert torch.equal(result.completions[t - 1, k, b], completion), (b, t, k)
        assert torch.equal(completion[:t], tokens[b, :t])  # the prefix is kept
    # The comparison is sensitive to the layout: reading the (prefix, rollout, sentence) buffer as
    # (sentence, prefix, rollout), as one widely used implementation does, mixes them up and fails it.
    mixed_up = result.rewards.reshape(BATCH, LENGTH - 1, ROLLOUTS).mean(dim=-1)
    assert not torch.allclose(mixed_up, expected[:, :-1], atol=1e-3)


def test_complete_sentences_take_one_discriminator_call_and_the_rest_are_chunked():
    generator = generators()[0]
    tokens = generator.sample(BATCH)
    score = PositionTokenScore()
    max_batch = 10
    _, calls = rollout_rewards(generator, tokens, score, ROLLOUTS, max_batch=max_batch, deduplicate=False)
    rows = (LENGTH - 1) * ROLLOUTS * BATCH
    assert calls == len(score.calls) == math.ceil(rows / max_batch) + 1
    assert sum(call.shape == tokens.shape and torch.equal(call, tokens) for call in score.calls) == 1
    assert sum(len(call) for call in score.calls) == rows + BATCH
    assert max(len(call) for call in score.calls) <= max_batch


def test_identical_completions_are_scored_once_with_the_same_rewards():
    generator = generators()[0]
    with torch.no_grad():  # a peaked generator: completions repeat
        generator.output.bias[3] = 20.0
    tokens = generator.sample(BATCH)
    uniforms = torch.rand(LENGTH - 1, ROLLOUTS, BATCH, LENGTH)
    once, unique = PositionTokenScore(), PositionTokenScore()
    plain, _ = rollout_rewards(generator, tokens, once, ROLLOUTS, uniforms=uniforms, deduplicate=False)
    deduplicated, _ = rollout_rewards(
        generator, tokens, unique, ROLLOUTS, uniforms=uniforms, deduplicate=True
    )
    torch.testing.assert_close(deduplicated, plain)
    assert sum(map(len, unique.calls)) < sum(map(len, once.calls))


def test_greedy_completion_of_every_context_including_the_empty_one():
    generator = generators()[0]
    tokens = generator.sample(BATCH)
    result = complete_prefixes(
        generator, tokens, prefix_states(generator, tokens), range(LENGTH), 1, PositionTokenScore(),
        greedy=True, keep_completions=True,
    )  # fmt: skip
    greedy_sentence, _, _ = generator.unroll(1, LENGTH, lambda logits: logits.argmax(dim=-1))
    for b in range(BATCH):
        assert torch.equal(result.completions[0, 0, b], greedy_sentence[0])  # t = 0: from the start token
        for t in range(1, LENGTH):  # t >= 1: the prefix, then argmax continuations
            completion = result.completions[t, 0, b]
            assert torch.equal(completion[:t], tokens[b, :t])
            logits = generator(completion.unsqueeze(0))[0]  # teacher-forced (T, V)
            assert torch.equal(completion[t:], logits[t:].argmax(dim=-1))


def test_prefix_states_match_the_states_kept_while_sampling():
    for generator in generators():
        tokens, _, states = generator.unroll(
            BATCH, LENGTH, lambda logits: logits.argmax(dim=-1), keep_states=True
        )
        kept = stack_states(generator.initial_state(BATCH, tokens.device), states)
        for recomputed, stored in zip(prefix_states(generator, tokens), kept, strict=True):
            torch.testing.assert_close(recomputed, stored)


# ----------------------------------------------------------------------------------------------- the sampler
def test_inverse_cdf_sampler_is_the_exact_inverse_of_the_cumulative_distribution():
    logits = torch.randn(2000, 150) * 3  # 150 = two blocks of 64 and a tail of 22
    uniforms = torch.rand(2000)
    tokens = inverse_cdf_sample(logits, uniforms)
    cumulative = torch.softmax(logits.double(), dim=-1).cumsum(dim=-1)
    expected = torch.searchsorted(cumulative, uniforms.double().unsqueeze(-1), right=True).squeeze(-1)
    mismatch = tokens != expected.clamp_max(149)
    near_a_boundary = (cumulative - uniforms.double().unsqueeze(-1)).abs().amin(dim=-1) < 1e-5
    assert not (mismatch & ~near_a_boundary).any()


def test_inverse_cdf_sampler_frequencies_follow_the_softmax_and_skip_impossible_tokens():
    vocab, draws = 100, 200_000
    logits = torch.randn(vocab)
    logits[[5, 64, 99]] = -float("inf")  # impossible, including the first of a block and the last token
    tokens = inverse_cdf_sample(logits.expand(draws, vocab), torch.rand(draws))
    counts = torch.bincount(tokens, minlength=vocab).double()
    assert counts[[5, 64, 99]].sum() == 0
    expected = torch.softmax(logits.double(), dim=0) * draws
    possible = expected > 0
    chi_square = ((counts - expected)[possible] ** 2 / expected[possible]).sum()
    degrees = int(possible.sum()) - 1
    assert (chi_square - degrees) / math.sqrt(2 * degrees) < 4.5  # normal approximation, ~3e-6 false alarms


# ---------------------------------------------------------------------------------------------- delayed copy
def test_delayed_copy_follows_seqgans_update_rule():
    generator = generators()[0]
    delayed = DelayedPolicy(update_rate=0.8)
    delayed.setup(generator)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(1.0)  # the generator moves before the first update: that update copies it
    policy = delayed.update(generator)
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), generator.parameters(), strict=True))
    old = {name: p.clone() for name, p in policy.named_parameters()}
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(1.0)
    delayed.update(generator)
    for name, parameter in policy.named_parameters():
        target = dict(generator.named_parameters())[name]
        expected = target if name.startswith("embedding.") else 0.8 * old[name] + 0.2 * target
        torch.testing.assert_close(parameter, expected)
        assert not parameter.requires_grad


@pytest.mark.parametrize("setup_first", [True, False], ids=["setup-then-load", "load-then-setup"])
def test_delayed_copy_survives_a_checkpoint_round_trip(setup_first):
    generator = generators()[0]
    estimator = ReinforceEstimator("rollout", rollout_num=2, rollout_update_rate=0.8)
    estimator.setup(generator, None)
    with torch.no_grad():
        estimator.delayed.update(generator)
        for parameter in generator.parameters():
            parameter.mul_(2.0)
        estimator.delayed.update(generator)  # now a blend, equal to neither
    saved = {
        key: value.clone() if torch.is_tensor(value) else value
        for key, value in estimator.state_dict().items()
    }
    assert any(key.startswith("delayed.policy.") for key in saved)

    fresh = ReinforceEstimator("rollout", rollout_num=2, rollout_update_rate=0.8)
    if setup_first:
        fresh.setup(generator, None)
    fresh.load_state_dict(saved, strict=True)
    fresh.setup(generator, None)
    assert fresh.delayed.synced
    for (name, restored), original in zip(
        fresh.delayed.policy.named_parameters(), estimator.delayed.policy.parameters(), strict=True
    ):
        assert torch.equal(restored, original), name
    assert not torch.equal(fresh.delayed.policy.output.weight, generator.output.weight)


class TokenZeroShare(nn.Module):
    """A parameter-free "discriminator": the share of token 0 in each sentence, as one logit (N, 1)."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens == 0).float().mean(dim=1, keepdim=True)


def test_estimator_with_a_delayed_copy_rolls_out_with_the_copy():
    generator = generators()[0]
    estimator = ReinforceEstimator(
        "rollout", rollout_num=4, rollout_update_rate=0.99, reward_transform="logit", discriminator_dropout=False
    )
    estimator.setup(generator, None)
    estimator.delayed.update(generator)  # the copy starts equal to the generator ...
    with torch.no_grad():
        generator.output.bias[0] += 50.0  # ... which then emits token 0 only; the copy barely follows (0.99)
    out = estimator.generator_loss(
        generator, TokenZeroShare(), torch.zeros(BATCH, LENGTH, dtype=torch.long), None, 0
    )
    out.loss.backward()
    assert all(parameter.grad is None for parameter in estimator.delayed.policy.parameters())
    # Sampled sentences are all zeros (reward 1); completions by the copy are not, so Q(b, t) < 1 for t < T.
    # Rolling out with the generator itself would give exactly 1 everywhere.
    assert float(out.logs["reward_final"]) == 1.0
    assert float(out.logs["reward"]) < 0.95
