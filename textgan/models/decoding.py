"""Decoding sentences from a generator: tempered, top-k / top-p truncated draws in batches, the sentence lengths
(through the first ``<eos>``) and, when asked for, each sentence's log-probability under the distribution sampled
from and under the model. The library side of ``textgan-generate``; a class-conditional generator samples the
class asked for in each row.

``sample_sentences(generator, n, temperature=..., top_k=..., top_p=..., seed=...)`` -> ``Samples``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from textgan.models.generator import Generator
from textgan.sampling import categorical_sample, filter_logits


@dataclass
class Samples:
    """Sampled sequences and the log-probabilities of their tokens.

    ``lengths[n]``: how many leading tokens of ``tokens[n]`` make the sentence (through its first ``<eos>``;
    without one, the row less its trailing padding). ``log_prob`` / ``model_log_prob``: sums over those
    tokens under the distribution sampled from (tempered, truncated) and under the untempered model; None
    when not asked for.
    """

    tokens: torch.Tensor  # (N, T) long
    lengths: torch.Tensor  # (N,) long
    log_prob: torch.Tensor | None = None  # (N,) float32
    model_log_prob: torch.Tensor | None = None  # (N,) float32


def sentence_lengths(tokens: torch.Tensor, eos_token: int | None, pad_token: int | None) -> torch.Tensor:
    """Tokens (N, T) -> (N,) lengths: through the first ``eos_token``, else without the trailing ``pad_token``s.

    Tokens the model chose before the end stay, so that the ids are exactly the sampled prefix (their
    teacher-forced log-probability is the sentence's); decoding drops a ``<pad>`` chosen mid-sentence.
    """
    num_rows, length = tokens.shape
    lengths = torch.full((num_rows,), length, dtype=torch.long, device=tokens.device)
    if pad_token is not None:  # 1 + the position of the last non-pad token (0 for an all-pad row)
        real = (tokens != pad_token).flip(dims=[1])  # (N, T), last position first
        lengths = torch.where(real.any(dim=1), length - real.int().argmax(dim=1), 0)
    if eos_token is not None:
        is_eos = tokens == eos_token
        lengths = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, lengths)
    return lengths


@torch.no_grad()
def sample_sentences(
    generator: Generator,
    num_samples: int,
    length: int | None = None,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    eos_token: int | None = None,
    pad_token: int | None = None,
    keep_log_probs: bool = False,
    progress: Any = None,
    labels: torch.Tensor | None = None,
) -> Samples:
    """Draw ``num_samples`` sequences of ``length`` tokens through ``generator.unroll``: (N, T) in a ``Samples``.

    Each step samples from ``softmax(filter_logits(logits / temperature, top_k, top_p))`` with one
    ``torch.Generator`` seeded by ``seed`` for the whole run; without truncation the draws are those of
    ``generator.sample`` (and ``textgan-evaluate``) at the same seed, temperature and batch size.
    ``keep_log_probs`` also records each chosen token's log-probability under the sampled and the model's
    distribution, as tensors filled step by step. ``progress``: a tqdm bar advanced by each batch's size.
    ``labels`` (num_samples,): the class of each sentence, for a class-conditional generator (through its
    ``unroll(..., labels=)`` when it has one, else its ``sample(..., labels=)``, which samples untruncated).
    """
    length = length or generator.max_length
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    many = num_samples * length > 4 * generator.vocab_size
    table = generator.input_table() if labels is None and many else None  # as sample(); conditional: per member

    def chooser(sampled: torch.Tensor | None, model: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``choose`` for one batch, writing the chosen tokens' log-probabilities into (B, T) buffers."""
        step = itertools.count()

        def choose(logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B,)
            scaled = logits.float() if temperature == 1.0 else logits.float() / temperature
            truncated = filter_logits(scaled, top_k, top_p)  # -inf outside the kept tokens
            token = categorical_sample(truncated, generator=rng)
            if sampled is not None:
                t, chosen = next(step), token.unsqueeze(-1)
                sampled[:, t] = torch.log_softmax(truncated, dim=-1).gather(-1, chosen).squeeze(-1)
                model[:, t] = torch.log_softmax(logits.float(), dim=-1).gather(-1, chosen).squeeze(-1)
            return token

        return choose

    tokens, sampled, model = [], [], []
    for start in range(0, num_samples, batch_size):
        size = min(batch_size, num_samples - start)
        if keep_log_probs:
            sampled.append(torch.empty(size, length, device=generator.device))  # (B, T)
            model.append(torch.empty(size, length, device=generator.device))  # (B, T)
        choose = chooser(sampled[-1], model[-1]) if keep_log_probs else chooser(None, None)
        if labels is None:
            tokens.append(generator.unroll(size, length, choose, input_table=table)[0])
        else:
            plain = temperature if top_k is None and top_p is None and not keep_log_probs else None
            batch_labels = labels[start : start + size]
            tokens.append(conditional_batch(generator, size, length, choose, batch_labels, rng, plain))
        if progress is not None:
            progress.update(size)
    all_tokens = torch.cat(tokens)
    lengths = sentence_lengths(all_tokens, eos_token, pad_token)
    if not keep_log_probs:
        return Samples(all_tokens, lengths)
    within = torch.arange(length, device=all_tokens.device) < lengths.unsqueeze(1)  # (N, T)
    return Samples(
        all_tokens,
        lengths,
        torch.cat(sampled).masked_fill(~within, 0.0).sum(dim=1),
        torch.cat(model).masked_fill(~within, 0.0).sum(dim=1),
    )


def conditional_batch(
    generator: Generator,
    size: int,
    length: int,
    choose: Callable,
    labels: torch.Tensor,
    rng: torch.Generator,
    plain_temperature: float | None,
) -> torch.Tensor:
    """One batch of a class-conditional generator: its ``unroll`` with the labels when it takes them (top-k /
    top-p / log-probabilities as for an unconditional one), else its ``sample`` at ``plain_temperature`` (given
    only when sampling is plain: no truncation, no log-probabilities)."""
    labels = labels.to(generator.device)
    unroll = getattr(generator, "unroll", None)
    if unroll is not None and "labels" in inspect.signature(unroll).parameters:
        return unroll(size, length, choose, labels=labels)[0]
    if plain_temperature is None:
        raise ValueError(
            f"{type(generator).__name__} samples a class only through sample(..., labels=): drop top_k, top_p and "
            "keep_log_probs (textgan-generate: --top-k, --top-p, --format jsonl)"
        )
    return generator.sample(size, length, temperature=plain_temperature, generator=rng, labels=labels)
