"""SeqGAN's Monte-Carlo rollout, vectorised over prefixes, rollouts and sentences.

For a sampled sentence ``y`` (length ``T``) and every prefix length ``t`` the rollout completes
``y_1..y_t`` ``K`` times with a rollout policy and scores the completions; the mean score ``Q(b, t)`` rewards
the token ``y_t``. SeqGAN does this with two Python loops (``K`` rollouts x ``T - 1`` prefixes), one
discriminator call of ``B`` sentences each, plus ``K`` calls on the complete sentences. Here every (prefix,
rollout, sentence) triple is one *row* of a single batch:

* rows are laid out as ``(p, k, b)``, ``p`` indexing the requested prefix lengths in increasing order, so a
  contiguous block of rows has non-decreasing prefix lengths;
* a row with prefix length ``t`` starts from the policy's state after ``t`` tokens (kept from the sampling
  pass, or from one teacher-forced pass of the rollout policy) and its last prefix token as input;
* one time loop per block of ``sample_batch`` rows over absolute positions ``s``: at position ``s`` the rows
  with ``t <= s`` are active, which is a *leading* part of the block, so rows join the batch as the loop
  reaches their start and no step is spent on positions a row already knows. Nothing loops over ``K`` or
  over prefixes;
* the completed rows are then scored in chunks of ``max_batch`` rows (the memory bound of one discriminator
  call), identical rows once (a trained generator often completes a prefix the same way; exact in
  ``eval()`` mode); complete sentences (``t = T``) need one call for the whole batch, not ``K``. A row's
  reward may depend on the sentence it completes (the relativistic GAN loss pairs sentence ``b`` with real
  sentence ``b``): two-stage scorers (:class:`textgan.estimators.rewards.DiscriminatorReward`) get the
  discriminator's logits of the distinct rows, then turn each row's logits into its reward with the row's
  sentence index.

Randomness is explicit: row ``(p, k, b)`` draws token ``s`` by inverse-CDF sampling with the uniform number
``uniforms[p, k, b, s]``. Passing ``uniforms`` makes a rollout reproducible by any other implementation (the
tests compare with a plain loop over sentences, prefixes and rollouts); by default they are drawn per block.

Shapes: ``B`` sentences, ``T`` length, ``V`` vocabulary, ``K`` rollouts per prefix, ``P`` prefix lengths,
``N = P * K * B`` rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from textgan.models.generator import Generator, State

Scorer = Callable[..., torch.Tensor]  # (N, T) token ids -> (N,) rewards; see score_rows for two-stage scorers
_BLOCK = 64  # vocabulary entries per block of the two-level inverse-CDF search


def inverse_cdf_sample(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Sample from ``softmax(logits)`` with given uniform numbers: (N, V), (N,) -> (N,) token ids.

    The token is the first index whose cumulative probability exceeds ``u`` (times the total, which is 1 up
    to rounding). The search is two-level: cumulative sums of blocks of 64 probabilities pick the block, a
    cumulative sum inside that block picks the token. This replaces a full (N, V) cumulative sum, the most
    expensive pass of a one-level search on CPUs, by a reduction.
    """
    probs = torch.softmax(logits.float(), dim=-1)  # (N, V)
    rows, vocab = probs.shape
    whole = vocab // _BLOCK * _BLOCK
    sums = [probs[:, :whole].unflatten(1, (-1, _BLOCK)).sum(dim=-1)] if whole else []  # (N, V // 64)
    if whole < vocab:
        sums.append(probs[:, whole:].sum(dim=-1, keepdim=True))
    cumulative = torch.cat(sums, dim=1).cumsum_(dim=1)  # (N, blocks)
    target = uniforms.to(probs.dtype).view(rows, 1) * cumulative[:, -1:]  # (N, 1)
    block = torch.searchsorted(cumulative, target, right=True).clamp_max_(cumulative.shape[1] - 1)  # (N, 1)
    before = torch.where(block > 0, cumulative.gather(1, (block - 1).clamp_min(0)), 0.0)  # (N, 1)
    columns = block * _BLOCK + torch.arange(_BLOCK, device=probs.device)  # (N, 64)
    inside = probs.gather(1, columns.clamp_max(vocab - 1)).masked_fill_(columns >= vocab, 0.0).cumsum_(dim=1)
    offset = torch.searchsorted(inside, target - before, right=True)  # (N, 1)
    last = (vocab - 1 - block * _BLOCK).clamp_max_(_BLOCK - 1)  # the block's last column
    return (block * _BLOCK + torch.minimum(offset, last)).view(rows)


def greedy_choice(logits: torch.Tensor, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """The most likely token: (N, V) -> (N,) (self-critical baselines)."""
    return logits.argmax(dim=-1)


def stack_states(initial: State, states: Sequence[State]) -> State:
    """Per-step states of an unroll -> one tensor per state component of shape (T + 1, B, ...).

    Index ``t`` holds the state after ``t`` tokens (index 0 is ``initial``), detached: rollouts need no graph.
    """
    return tuple(
        torch.stack([initial[i].detach()] + [state[i].detach() for state in states], dim=0) for i in range(len(initial))
    )


@torch.no_grad()
def prefix_states(policy: Generator, tokens: torch.Tensor) -> State:
    """Teacher-force ``tokens`` (B, T) through ``policy``: its states after each prefix, (T + 1, B, ...) each.

    Needed when the rollout policy is not the generator that sampled ``tokens`` (a delayed copy).
    """
    batch, length = tokens.shape
    columns = iter(tokens.unbind(dim=1))

    def teacher(logits: torch.Tensor) -> torch.Tensor:
        return next(columns)

    _, _, states = policy.unroll(batch, length, teacher, keep_states=True)
    return stack_states(policy.initial_state(batch, tokens.device), states)


@dataclass
class RolloutResult:
    """Scores of all (prefix, rollout, sentence) completions, and optionally the completions themselves."""

    rewards: torch.Tensor  # (P, K, B)
    completions: torch.Tensor | None  # (P, K, B, T) long, when asked for
    score_calls: int  # discriminator calls made


@torch.no_grad()
def complete_prefixes(
    policy: Generator,
    tokens: torch.Tensor,
    states: State,
    prefix_lengths: Sequence[int],
    num_rollouts: int,
    score: Scorer,
    *,
    greedy: bool = False,
    uniforms: torch.Tensor | None = None,
    max_batch: int = 1024,
    sample_batch: int = 256,
    deduplicate: bool = True,
    generator: torch.Generator | None = None,
    keep_completions: bool = False,
) -> RolloutResult:
    """Complete every prefix of ``tokens`` ``num_rollouts`` times with ``policy`` and score the completions.

    Args:
        policy: the rollout policy (no graph is built).
        tokens: the sentences (B, T).
        states: the policy's states after each prefix, one (T + 1, B, ...) tensor per component
            (:func:`stack_states` / :func:`prefix_states`).
        prefix_lengths: the lengths ``t`` to complete, increasing, each in ``[0, T - 1]``; ``t = 0`` samples
            whole sentences from the start token.
        num_rollouts: ``K``.
        score: maps completed sentences (n, T) to rewards (n,), or a two-stage scorer (:func:`score_rows`)
            whose rewards depend on the sentence each row completes; called once per chunk of ``max_batch``
            distinct rows.
        greedy: complete with the most likely token instead of sampling (``K`` should then be 1).
        uniforms: (P, K, B, T) uniform numbers; row ``(p, k, b)`` draws position ``s`` with
            ``uniforms[p, k, b, s]`` (positions before the prefix length are ignored). Default: fresh draws.
        max_batch: rows per scored chunk, the memory bound of one discriminator call.
        sample_batch: rows per generation block (small blocks keep the (rows, V) work in cache).
        deduplicate: score identical completed rows once.
        generator: random stream for the default uniforms.
        keep_completions: also return the completed sentences.
    Returns:
        rewards (P, K, B) indexed (prefix, rollout, sentence), completions (P, K, B, T) or None, call count.
    """
    batch, length = tokens.shape
    lengths = list(prefix_lengths)
    if not lengths or lengths != sorted(set(lengths)) or not 0 <= lengths[0] <= lengths[-1] < length:
        raise ValueError(f"prefix_lengths must increase within [0, {length - 1}], got {lengths}")
    if uniforms is not None and tuple(uniforms.shape) != (len(lengths), num_rollouts, batch, length):
        raise ValueError(f"uniforms must be (P, K, B, T) = {(len(lengths), num_rollouts, batch, length)}")
    device = tokens.device
    per_prefix = num_rollouts * batch
    num_rows = len(lengths) * per_prefix
    row_length = torch.tensor(lengths, device=device).repeat_interleave(per_prefix)  # (N,)
    row_sentence = torch.arange(batch, device=device).repeat(len(lengths) * num_rollouts)  # (N,)
    flat_uniforms = uniforms.reshape(num_rows, length) if uniforms is not None else None
    flat_states = tuple(component.flatten(0, 1) for component in states)  # ((T + 1) * B, ...)
    start = torch.full((batch, 1), policy.start_token, dtype=tokens.dtype, device=device)
    previous = torch.cat([start, tokens], dim=1)  # (B, T + 1): column t is the input after t tokens
    steps = sum(length - t for t in lengths) * num_rollouts * batch
    if steps > 4 * policy.vocab_size:  # each step's input work becomes a row lookup
        table = policy.input_table()
        step_inputs = table.__getitem__
    else:
        project = policy.input_projector()
        step_inputs = lambda ids: project(policy.embedding(ids))  # noqa: E731
    choose = greedy_choice if greedy else inverse_cdf_sample

    completions = torch.empty(num_rows, length, dtype=tokens.dtype, device=device)  # (N, T)
    for first in range(0, num_rows, sample_batch):
        rows = slice(first, min(first + sample_batch, num_rows))
        size = rows.stop - rows.start
        # Rows active at position s (prefix length <= s) form a leading part of the block: count on the host.
        active = [
            min(max(per_prefix * bisect.bisect_right(lengths, s) - first, 0), size)
            for s in range(lengths[first // per_prefix], length)
        ]
        block_uniforms = None
        if not greedy:
            block_uniforms = (
                flat_uniforms[rows]
                if flat_uniforms is not None
                else torch.rand(size, length, device=device, generator=generator)
            )
        completions[rows] = _complete_block(
            policy, tokens, flat_states, previous, row_length[rows], row_sentence[rows], active,
            block_uniforms, choose, step_inputs,
        )  # fmt: skip
    rewards, calls = score_rows(completions, score, max_batch, deduplicate, sentences=row_sentence)
    shape = (len(lengths), num_rollouts, batch)
    return RolloutResult(
        rewards=rewards.view(shape),
        completions=completions.view(*shape, length) if keep_completions else None,
        score_calls=calls,
    )


def _complete_block(
    policy: Generator,
    tokens: torch.Tensor,
    flat_states: State,
    previous: torch.Tensor,
    row_length: torch.Tensor,
    row_sentence: torch.Tensor,
    active: list[int],
    uniforms: torch.Tensor | None,
    choose: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    step_inputs: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Complete one block of rows; ``active[i]`` rows generate position ``T - len(active) + i``: (rows, T)."""
    batch, length = tokens.shape
    size = row_length.shape[0]
    state = tuple(component[row_length * batch + row_sentence] for component in flat_states)  # (rows, ...)
    inputs = previous[row_sentence, row_length]  # (rows,) the last prefix token (or the start token)
    completed = tokens[row_sentence]  # (rows, T): the prefix is kept, the rest is overwritten
    for position, count in zip(range(length - len(active), length), active, strict=True):
        projected = step_inputs(inputs[:count])  # the projected inputs (count, P)
        hidden, new_state = policy.cell(projected, tuple(component[:count] for component in state))
        token = choose(policy.output(hidden), uniforms[:count, position] if uniforms is not None else None)
        completed[:count, position] = token
        if count == size:
            state, inputs = new_state, token
        else:  # rows still inside their prefix keep their starting state and input
            state = tuple(torch.cat([new, old[count:]]) for new, old in zip(new_state, state, strict=True))
            inputs = torch.cat([token, inputs[count:]])
    return completed


def score_rows(
    rows: torch.Tensor,
    score: Scorer,
    max_batch: int,
    deduplicate: bool = True,
    sentences: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Score sentences (N, T) in chunks of ``max_batch``, identical rows once: rewards (N,), call count.

    ``score`` is a function of the tokens alone, ``(n, T) -> (n,)``, or a two-stage scorer with
    ``logits(tokens) -> (n, R)`` and ``rewards(logits, sentences) -> (n,)``, whose rewards may depend on the
    sampled sentence ``sentences[n]`` (N,) that row ``n`` belongs to. Either way the discriminator (or the
    function) sees each distinct row once.
    """
    if hasattr(score, "logits"):
        logits_of, rewards_of = score.logits, score.rewards
    else:

        def logits_of(chunk: torch.Tensor) -> torch.Tensor:
            return score(chunk).float().unsqueeze(-1)  # (n, 1)

        def rewards_of(values: torch.Tensor, sentences: torch.Tensor | None) -> torch.Tensor:
            return values[:, 0]

    inverse = None
    if deduplicate:
        rows, inverse = torch.unique(rows, dim=0, return_inverse=True)  # (U, T), (N,)
    chunks = rows.split(max_batch)
    logits = torch.cat([logits_of(chunk).float() for chunk in chunks])  # (U, R)
    if inverse is not None:
        logits = logits[inverse]  # (N, R)
    return rewards_of(logits, sentences).float(), len(chunks)


@torch.no_grad()
def rollout_rewards(
    policy: Generator,
    tokens: torch.Tensor,
    score: Scorer,
    num_rollouts: int = 16,
    *,
    states: State | None = None,
    uniforms: torch.Tensor | None = None,
    max_batch: int = 1024,
    sample_batch: int = 256,
    deduplicate: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, int]:
    """SeqGAN's rollout reward ``Q(b, t)`` for every token of ``tokens`` (B, T): (B, T) and the call count.

    ``Q(b, t) = mean_k score(complete(y_b[:t], k))`` for ``t = 1 .. T - 1`` and ``Q(b, T) = score(y_b)`` (one
    call for the whole batch). ``uniforms`` (T - 1, K, B, T) as in :func:`complete_prefixes`, prefix index
    ``t - 1``.
    """
    batch, length = tokens.shape
    if states is None:
        states = prefix_states(policy, tokens)
    final = score(tokens).float().unsqueeze(1)  # (B, 1): complete sentences, one call
    if length == 1:
        return final, 1
    result = complete_prefixes(
        policy, tokens, states, range(1, length), num_rollouts, score, uniforms=uniforms,
        max_batch=max_batch, sample_batch=sample_batch, deduplicate=deduplicate, generator=generator,
    )  # fmt: skip
    partial = result.rewards.mean(dim=1).t()  # (P, K, B) -> (B, T - 1)
    return torch.cat([partial, final], dim=1), result.score_calls + 1
