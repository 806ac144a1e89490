"""SentiGAN's k generators, one per class, behind the class-conditional generator API.

``GeneratorPerClass`` holds ``k`` unconditional generators of one architecture; sentence ``b`` of class
``labels[b]`` is generated and scored by member ``labels[b]`` alone. It answers the same calls as
:class:`textgan.models.conditional.ConditionalRMCGenerator` (``log_prob``, ``nll``, ``sample``, ``rsample``
with ``labels``; the uniform mixture without), so sampling and evaluation code treats both alike; a scheme
that needs one member (SentiGAN's rollouts) takes ``member(i)``, an ordinary
:class:`textgan.models.generator.Generator`. Conditional MLE on (tokens, labels) batches trains every member
on the sentences of its class. It is a :class:`Generator` by interface (saving, loading, config checks) but
has no cell of its own: ``unroll`` and the per-step methods belong to the members.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from textgan.config_ranges import integer
from textgan.models.conditional import check_labels, mixture_log_prob, uniform_labels
from textgan.models.generator import Generator, RelaxedSample
from textgan.models.io import build_from_config


class GeneratorPerClass(Generator):
    """``k`` generators of class ``member``, one per class.

    Args:
        num_classes: ``k`` (from the data).
        member: the dotted class of every member, e.g. ``textgan.models.lstm.LSTMGenerator`` (SentiGAN's).
        vocab_size, max_length, start_token: from the data, as for any generator.
        **member_options: the members' constructor arguments (``embedding_dim``, ``hidden_dim``, ...).
    """

    config_ranges = {"num_classes": integer(1)}

    def __init__(
        self, num_classes: int, member: str, vocab_size: int, max_length: int, start_token: int = 0, **member_options
    ) -> None:
        nn.Module.__init__(self)  # no embedding or output layer of its own: the members have theirs
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 for GeneratorPerClass, got {num_classes}")
        build = {"_target_": member, "vocab_size": vocab_size, "max_length": max_length, "start_token": start_token}
        self.members = nn.ModuleList(build_from_config({**build, **member_options}) for _ in range(num_classes))
        self.num_classes, self.vocab_size = num_classes, vocab_size
        self.max_length, self.start_token = max_length, start_token

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    def member(self, index: int) -> Generator:
        """The generator of class ``index``."""
        return self.members[index]

    def _by_class(self, labels: torch.Tensor, batch: int, run: Callable[[int, torch.Tensor], object]) -> tuple:
        """``run(c, rows)`` for every class present, ``rows`` the indices of its sentences; returns the per-class
        results in class order and the permutation that puts their concatenation back in batch order."""
        labels = check_labels(labels.to(self.device), batch, self.num_classes)
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=self.num_classes).tolist()
        results, start = [], 0
        for c, count in enumerate(counts):
            if count:
                results.append(run(c, order[start : start + count]))
            start += count
        return results, torch.argsort(order)

    def log_prob(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-token ``log p_c(y_t | y_<t)`` (B, T) under member ``labels[b]``; without labels, the mixture's."""
        if labels is None:
            return mixture_log_prob(self, tokens)
        parts, inverse = self._by_class(labels, tokens.shape[0], lambda c, rows: self.members[c].log_prob(tokens[rows]))
        return torch.cat(parts)[inverse]

    def nll(self, tokens: torch.Tensor, labels: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """Mean per-token negative log-likelihood (scalar), each sentence under its class's member."""
        token_nll = -self.log_prob(tokens, labels)
        if mask is None:
            return token_nll.mean()
        mask = mask.to(token_nll.dtype)
        return (token_nll * mask).sum() / mask.sum().clamp_min(1.0)

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        length: int | None = None,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        batch_size: int = 1024,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sentences (N, T), row ``b`` from member ``labels[b]``; without labels, classes drawn uniformly."""
        if labels is None:
            labels = uniform_labels(num_samples, self.num_classes, self.device, generator)

        def run(c: int, rows: torch.Tensor) -> torch.Tensor:
            return self.members[c].sample(
                rows.shape[0], length, temperature=temperature, batch_size=batch_size, generator=generator
            )

        parts, inverse = self._by_class(labels, num_samples, run)
        return torch.cat(parts)[inverse]

    def rsample(
        self, num_samples: int, inverse_temperature, length: int | None = None, *, labels=None, **options
    ) -> RelaxedSample:
        """Gumbel-Softmax sequences (:meth:`Generator.rsample`), row ``b`` from member ``labels[b]``."""
        if labels is None:
            labels = uniform_labels(num_samples, self.num_classes, self.device, options.get("generator"))

        def run(c: int, rows: torch.Tensor) -> RelaxedSample:
            return self.members[c].rsample(rows.shape[0], inverse_temperature, length, **options)

        parts, inverse = self._by_class(labels, num_samples, run)
        logits = None if parts[0].logits is None else torch.cat([p.logits for p in parts])[inverse]
        return RelaxedSample(
            tokens=torch.cat([p.tokens for p in parts])[inverse],
            relaxed=torch.cat([p.relaxed for p in parts])[inverse],
            logits=logits,
        )

    def unroll(self, *args, **kwargs):
        raise NotImplementedError("GeneratorPerClass has no loop of its own: unroll one of its members (member(i))")

    def load_unconditional(self, source: Generator) -> None:
        """Every member starts as ``source`` (an unconditional generator of the members' architecture)."""
        for member in self.members:
            member.load_state_dict(source.state_dict())
