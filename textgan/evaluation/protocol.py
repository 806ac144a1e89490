"""The evaluation protocol, shared by the training callback, ``textgan-evaluate`` and ``textgan-quality-diversity``.

``evaluate_generator`` samples N sentences from a generator and scores them with the data's sample metrics
(``textgan.evaluation.sample_metrics``: NLL_oracle on the synthetic benchmark; BLEU / Self-BLEU on text), plus
NLL_gen: the mean per-token NLL of the test split under the generator (teacher forcing); with ``nll_gen_train``
also ``nll_gen_train``, the same on the training split: RelGAN's code logs that one as NLL_gen (its MLE loss on
the training sentences, the definition behind the paper's Table 2), a measure of fit, where the test split's
measures generalisation. Padding counts as in RelGAN / Texygen: every position of the fixed-length rows is
scored, the pads after ``<eos>`` included (the generator is trained to emit them); ``nll_ignore_padding=True``
scores only the real tokens and the ``<eos>`` instead.

Temperature ``tau`` means the model ``softmax(logits / tau)`` throughout: samples are drawn from it and
NLL_gen is the NLL under it, so a temperature sweep traces Caccia et al.'s quality-diversity curves
("Language GANs Falling Short", ICLR 2020): on text BLEU-5 (quality) against Self-BLEU-5 (diversity, lower is
more diverse), on the oracle NLL_oracle (quality) against NLL_test = NLL_gen (coverage of the real data).

A class-conditional generator (``num_classes`` > 0) on labelled data is asked for an equal number of samples
per class (``balanced_labels``: ``num_samples // k`` each, class 0's first), scored per class as well
(``textgan.evaluation.class_metrics``), and NLL_gen scores each test sentence given its own class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from textgan.data.base import TokenDataModule
from textgan.data.token_rows import TokenRows
from textgan.evaluation.sample_metrics import SampleMetrics
from textgan.models.generator import Generator

DEFAULT_TEMPERATURES = tuple(round(0.5 + 0.1 * i, 1) for i in range(11))  # 0.5, 0.6, ..., 1.5


@dataclass
class EvaluationResult:
    """The metrics of one evaluation (name -> value) and the samples they were computed on."""

    metrics: dict[str, float] = field(default_factory=dict)
    samples: torch.Tensor | None = None  # (N, T)
    labels: torch.Tensor | None = None  # (N,): the classes the samples were generated for (conditional)


def generator_classes(generator: Generator) -> int:
    """How many classes a generator is conditioned on (0: unconditional)."""
    return int(getattr(generator, "num_classes", 0) or 0)


def balanced_labels(num_samples: int, num_classes: int) -> torch.Tensor:
    """Class ids for ``num_samples`` samples, ``num_samples // num_classes`` (at least 1) per class, in class order."""
    if num_classes < 1:
        raise ValueError(f"balanced_labels needs at least one class, got {num_classes}")
    return torch.arange(num_classes).repeat_interleave(max(1, num_samples // num_classes))


def check_classes(generator: Generator, datamodule: TokenDataModule) -> int:
    """The number of classes to sample per class (0: sample unconditionally); refuses a mismatch.

    A conditional generator needs labelled data of as many classes; an unconditional one on labelled data is
    scored as on unlabelled data (there are no intended classes to check).
    """
    k = generator_classes(generator)
    if k and datamodule.num_classes != k:
        have = f"{datamodule.num_classes} classes" if datamodule.num_classes else "no class labels"
        raise ValueError(f"the generator is conditioned on {k} classes, but the data hold {have}")
    return k


@torch.no_grad()
def nll_gen(
    generator: Generator,
    tokens: torch.Tensor | TokenRows,
    batch_size: int = 256,
    *,
    temperature: float = 1.0,
    pad_token: int | None = None,
    labels: torch.Tensor | None = None,
) -> float:
    """Mean per-token NLL (nats) of ``tokens`` (N, T) under ``generator`` with teacher forcing (a Tensor, or a
    text corpus's memory-mapped ``TokenRows``, read a chunk at a time).

    ``labels`` (N,): a conditional generator scores each sentence given its class (``log_prob(tokens, labels)``;
    at a temperature other than 1, ``generator(tokens, labels)``'s logits).

    Scored ``batch_size`` sentences at a time, which bounds the peak memory: each chunk's (batch, T, V)
    logits and log-probabilities.

    Every position counts (RelGAN / Texygen), unless ``pad_token`` is given: positions holding it are then
    left out. ``temperature`` scores under ``softmax(logits / temperature)``.
    """
    total, count = 0.0, 0
    device = generator.device
    for start in range(0, len(tokens), batch_size):  # slices: a Tensor or a memory-mapped TokenRows
        chunk = tokens[start : start + batch_size].to(device)
        given = () if labels is None else (labels[start : start + batch_size].to(device),)
        if temperature == 1.0:
            log_prob = generator.log_prob(chunk, *given)
        else:
            log_probs = torch.log_softmax(generator(chunk, *given).float() / temperature, dim=-1)
            log_prob = log_probs.gather(-1, chunk.unsqueeze(-1)).squeeze(-1)
        if pad_token is None:
            total += float(-log_prob.double().sum())
            count += chunk.numel()
        else:
            mask = chunk != pad_token
            total += float(-(log_prob.double() * mask).sum())
            count += int(mask.sum())
    return total / max(count, 1)


@torch.no_grad()
def draw_samples(
    generator: Generator,
    num_samples: int,
    seed: int,
    temperature: float = 1.0,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """``num_samples`` sequences from ``generator`` in eval mode with its own seeded random stream.

    ``labels`` (num_samples,): the class of each sample, for a conditional generator.
    """
    was_training = generator.training
    generator.eval()
    try:
        rng = torch.Generator(device=generator.device).manual_seed(seed)
        if labels is not None:
            labels = labels.to(generator.device)
            return generator.sample(num_samples, temperature=temperature, generator=rng, labels=labels)
        return generator.sample(num_samples, temperature=temperature, generator=rng)
    finally:
        generator.train(was_training)


@torch.no_grad()
def evaluate_generator(
    generator: Generator,
    datamodule: TokenDataModule,
    num_samples: int = 10_000,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    with_nll_gen: bool = True,
    nll_ignore_padding: bool = False,
    samples: torch.Tensor | None = None,
    sample_metrics: SampleMetrics | None = None,
    labels: torch.Tensor | None = None,
    nll_gen_train: bool = False,
) -> EvaluationResult:
    """Sample ``num_samples`` sequences and compute the data's sample metrics, plus NLL_gen (of the test split;
    ``nll_gen_train``: also ``nll_gen_train``, of the training split, RelGAN's definition).

    A conditional generator on labelled data: ``num_samples // k`` samples per class (``balanced_labels``),
    or the classes ``labels`` (N,) given; the per-class metrics are added.
    ``samples``: score these (N, T) instead of sampling (e.g. gathered from data-parallel ranks; with ``labels``,
    their classes, for a conditional generator).
    ``sample_metrics``: the ``SampleMetrics`` of ``datamodule`` to score with; pass the same one to every
    evaluation of a run, so that its BLEU reference tables are built once (default: a new one).
    """
    was_training = generator.training
    generator.eval()
    try:
        num_classes = check_classes(generator, datamodule)
        if num_classes and labels is None:
            if samples is not None:
                raise ValueError("samples of a conditional generator need their labels (the classes asked for)")
            labels = balanced_labels(num_samples, num_classes)
        if not num_classes:
            labels = None
        if samples is None:
            samples = draw_samples(generator, len(labels) if labels is not None else num_samples, seed, temperature,
                                   labels=labels)  # fmt: skip
        scorer = sample_metrics or SampleMetrics(datamodule)
        metrics = dict(scorer(samples.cpu(), labels.cpu()) if labels is not None else scorer(samples.cpu()))
        if with_nll_gen and datamodule.test_tokens is not None:
            pad = datamodule.pad_token if nll_ignore_padding else None
            test_labels = datamodule.test_labels if num_classes else None
            metrics["nll_gen"] = nll_gen(
                generator, datamodule.test_tokens, temperature=temperature, pad_token=pad, labels=test_labels
            )
        if with_nll_gen and nll_gen_train and datamodule.train_tokens is not None:
            pad = datamodule.pad_token if nll_ignore_padding else None
            train_labels = datamodule.train_labels if num_classes else None
            metrics["nll_gen_train"] = nll_gen(
                generator, datamodule.train_tokens, temperature=temperature, pad_token=pad, labels=train_labels
            )
    finally:
        generator.train(was_training)
    return EvaluationResult(metrics=metrics, samples=samples.cpu(), labels=None if labels is None else labels.cpu())


@torch.no_grad()
def sample_entropy(
    generator: Generator, samples: torch.Tensor, temperature: float = 1.0, batch_size: int = 256
) -> float:
    """Mean entropy (nats) of the next-token distributions ``softmax(logits / temperature)`` on ``samples``.

    For fixed logits the entropy grows with the temperature; a sweep shows how much diversity each
    temperature buys.
    """
    total, count = 0.0, 0
    for chunk in torch.split(samples, batch_size):
        log_probs = torch.log_softmax(generator(chunk.to(generator.device)).float() / temperature, dim=-1)
        total += float(-(log_probs.exp() * log_probs).sum(-1).double().sum())
        count += chunk.numel()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------- sweeps
LM_AXES = ("lm_score", "reverse_lm_score")  # Caccia et al.'s own axes: both NLLs, lower is better


def quality_diversity_axes(metrics: dict[str, float], axes: str = "auto") -> tuple[str, str]:
    """(quality, diversity) metric names: (bleu5, self_bleu5) on text, (nll_oracle, nll_gen) on the oracle;
    ``axes="lm"``: (lm_score, reverse_lm_score)."""
    if axes == "lm":
        return LM_AXES
    if "nll_oracle" in metrics:
        return "nll_oracle", "nll_gen"
    return "bleu5", "self_bleu5"


def temperature_sweep(
    generator: Generator,
    datamodule: TokenDataModule,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    num_samples: int = 10_000,
    *,
    seed: int = 0,
    nll_ignore_padding: bool = False,
    score_samples: Callable[[torch.Tensor], dict[str, float]] | None = None,
    axes: str = "auto",
    nll_gen_train: bool = False,
) -> list[dict[str, float]]:
    """One point per temperature: every metric of ``evaluate_generator`` plus ``entropy`` and the axes.

    Each temperature samples with the same seed (common random numbers), so the curve is smooth in tau.
    Points carry ``quality`` and ``diversity`` (see ``quality_diversity_axes``). ``score_samples``: more
    metrics of each point's samples (N, T), e.g. the distribution metrics. ``nll_gen_train``: each point also
    carries the training split's NLL_gen (``evaluate_generator``).
    """
    points, sample_metrics = [], SampleMetrics(datamodule)
    for temperature in temperatures:
        result = evaluate_generator(
            generator,
            datamodule,
            num_samples,
            temperature=float(temperature),
            seed=seed,
            nll_ignore_padding=nll_ignore_padding,
            sample_metrics=sample_metrics,
            nll_gen_train=nll_gen_train,
        )
        point = {"temperature": float(temperature), **result.metrics}
        point["entropy"] = sample_entropy(generator, result.samples, float(temperature))
        if score_samples is not None:
            point.update(score_samples(result.samples))
        quality, diversity = quality_diversity_axes(point, axes)
        point["quality"], point["diversity"] = point.get(quality), point.get(diversity)
        points.append(point)
    return points
