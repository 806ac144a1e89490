"""One evaluation protocol for training callbacks, ``scripts/evaluate.py`` and quality-diversity sweeps.

``evaluate_generator`` samples N sentences from a generator and scores them with the DataModule's sample
metrics (NLL_oracle on the synthetic benchmark; BLEU / Self-BLEU on text), plus NLL_gen: the mean per-token
NLL of the test split under the generator (teacher forcing, padding positions included as in RelGAN/Texygen).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from textgan.data.base import TokenDataModule
from textgan.models.generator import Generator


@dataclass
class EvaluationResult:
    metrics: dict[str, float] = field(default_factory=dict)
    samples: torch.Tensor | None = None  # (N, T)


@torch.no_grad()
def nll_gen(generator: Generator, tokens: torch.Tensor, batch_size: int = 512) -> float:
    """Mean per-token NLL (nats) of ``tokens`` (N, T) under ``generator`` with teacher forcing."""
    total, count = 0.0, 0
    device = generator.device
    for chunk in torch.split(tokens, batch_size):
        chunk = chunk.to(device)
        total += float(-generator.log_prob(chunk).double().sum())
        count += chunk.numel()
    return total / max(count, 1)


@torch.no_grad()
def evaluate_generator(
    generator: Generator,
    datamodule: TokenDataModule,
    num_samples: int = 10_000,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    with_nll_gen: bool = True,
) -> EvaluationResult:
    """Sample ``num_samples`` sequences and compute every metric the DataModule defines, plus NLL_gen."""
    was_training = generator.training
    generator.eval()
    try:
        rng = torch.Generator(device=generator.device).manual_seed(seed)
        samples = generator.sample(num_samples, temperature=temperature, generator=rng)
        metrics = dict(datamodule.sample_metrics(samples.cpu()))
        if with_nll_gen and datamodule.test_tokens is not None:
            metrics["nll_gen"] = nll_gen(generator, datamodule.test_tokens)
    finally:
        generator.train(was_training)
    return EvaluationResult(metrics=metrics, samples=samples.cpu())
