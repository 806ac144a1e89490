"""A fake class-conditional generator for the evaluation tests: it hands back given rows of the asked class."""

from __future__ import annotations

import torch
from torch import nn


class FakeConditionalGenerator(nn.Module):
    """The contract's conditional API: ``num_classes``, ``sample(num, labels=...)``, ``log_prob(tokens, labels)``.

    ``sample`` returns, for the i-th sample asked of class c, row ``i mod n_c`` of ``rows[c]`` (so the samples of
    a class are known exactly); ``log_prob`` gives every token of a class-c sentence log-probability ``-(c + 1)``.
    """

    def __init__(self, rows: dict[int, torch.Tensor], num_classes: int | None = None, vocab_size: int = 10**6) -> None:
        super().__init__()
        self.rows, self.vocab_size = rows, vocab_size
        self.max_length = next(iter(rows.values())).shape[1]
        self.num_classes = num_classes if num_classes is not None else len(rows)
        self.anchor = nn.Parameter(torch.zeros(1))
        self.asked: list[torch.Tensor] = []

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def sample(self, num_samples, length=None, *, temperature=1.0, generator=None, labels=None):
        assert labels is not None and len(labels) == num_samples
        self.asked.append(labels.cpu())
        seen = {c: 0 for c in self.rows}
        out = []
        for c in labels.tolist():
            out.append(self.rows[c][seen[c] % len(self.rows[c])])
            seen[c] += 1
        return torch.stack(out)[:, : length or self.max_length]

    def log_prob(self, tokens, labels):
        return -(labels.to(torch.float32) + 1).unsqueeze(1).expand(tokens.shape).clone()
