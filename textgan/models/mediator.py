"""CoT's mediator: a language model of the generator's own class, the discriminator-like module of CoT.

Lu, Yu, Feng, Zhu, Zhang, Yu, *CoT: Cooperative Training for Generative Modeling of Discrete Data* (ICML 2019,
arXiv 1804.03782). The mediator ``M_phi(y_t | y_<t)`` is an autoregressive model trained by maximum likelihood
on the balanced mixture ``(P + G) / 2`` of real and generated sentences, so that it estimates the mixture
density the Jensen-Shannon divergence is defined through; the generator then minimises ``KL(G || M)`` along
its own samples (:mod:`textgan.estimators.cot`).

Here it is another instance of a generator class (``textgan.models.rmc`` or ``lstm``), built from the
generator's own config (``conf/discriminator/mediator.yaml`` interpolates ``${generator}``) with the data's
facts, and ``changes`` for the constructor arguments that differ (CoT's released code: a mediator twice as
wide as its LSTM generator). It never generates; it scores token ids teacher-forced, so its first input is the
constant ``start_token`` 0 whatever the generator's is. It takes token ids (B, T), not relaxed rows: it serves
``estimator=cot`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from textgan.models.generator import Generator
from textgan.models.io import build_from_config

#: keys of a generator's config node that are not constructor arguments (train.py reads them)
NOT_ARGUMENTS = ("pretrained",)


class Mediator(nn.Module):
    """A language model ``M(y_t | y_<t)`` of a generator class, built from the generator's config.

    Args:
        generator: the generator's config node (``_target_`` and sizes; ``pretrained`` is ignored): the
            mediator has the generator's architecture.
        vocab_size, max_length: from the data, as every discriminator gets them.
        changes: constructor arguments that differ from the generator's (e.g. ``{hidden_dim: 64}``).
    """

    def __init__(
        self, generator: Mapping[str, Any], vocab_size: int, max_length: int, changes: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        build = {key: generator[key] for key in generator if key not in NOT_ARGUMENTS}
        build.update({key: changes[key] for key in changes or {}})
        build.update(vocab_size=vocab_size, max_length=max_length)
        self.language_model: Generator = build_from_config(build)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of ``M(. | y_<t)``: (B, T) token ids -> (B, T, V)."""
        if tokens.dim() != 2 or tokens.is_floating_point():
            raise ValueError(
                f"the mediator scores token ids (B, T), got a {tuple(tokens.shape)} {tokens.dtype} tensor: "
                "discriminator=mediator is CoT's language model, for estimator=cot"
            )
        return self.language_model(tokens)

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-token ``log M(y_t | y_<t)``: (B, T) -> (B, T) float32."""
        return self.language_model.log_prob(tokens)

    def nll(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean per-token negative log-likelihood in nats (scalar)."""
        return self.language_model.nll(tokens)


def language_model(discriminator: nn.Module) -> Generator | None:
    """The generator-class model inside ``discriminator`` (a :class:`Mediator`, or a generator itself), or None."""
    if isinstance(discriminator, Mediator):
        return discriminator.language_model
    return discriminator if isinstance(discriminator, Generator) else None
