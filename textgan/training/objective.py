"""The number ``textgan-train`` returns to a Hydra sweeper (Optuna): one metric of the finished run's summary.

``optimized_metric`` names it as it is logged: ``adversarial/eval/NAME`` is the last adversarial evaluation's
``NAME`` (``summary["after_adversarial"]``), ``pretrain/eval/NAME`` the last MLE evaluation's. ``NAME`` is a metric
the evaluation reports (``textgan.evaluation.protocol.evaluate_generator``): ``nll_oracle`` and ``nll_gen`` on the
synthetic oracle; ``bleuN``, ``self_bleuN`` (N in ``data.bleu_orders``) and ``nll_gen`` on text; ``copy_rate`` and
``unique_rate`` on both, ``mean_length`` and ``unterminated_rate`` on text; or one of the derived metrics below,
computed from those.

Which metric to optimise (the presets in ``conf/hparams_search/``):

- **oracle**: ``adversarial/eval/nll_oracle`` (minimise). The oracle's NLL of the generated samples is the
  benchmark's measure, the number RelGAN's oracle table compares; since the oracle is the true data
  distribution it is exact, where BLEU on text is a proxy. Like BLEU it measures quality only and does not see
  mode collapse: check the best trials' ``nll_gen`` in their ``summary.json``.
- **text**: ``adversarial/eval/log_bleu5_minus_nll_gen`` (maximise), see :func:`log_bleu5_minus_nll_gen`.
  BLEU-5 alone measures quality only: a generator that repeats a few fluent sentences (mode collapse, which a
  large ``beta_max`` invites) scores best, and so does any lower sampling temperature (Caccia et al.,
  "Language GANs Falling Short", ICLR 2020). NLL_gen alone measures coverage only: the MLE generator is its
  optimum and adversarial training only raises it, so a search on it finds the settings under which the GAN
  changes the generator least. The two together are the trade-off the RelGAN paper reports (BLEU-2..5 beside
  NLL_gen). Self-BLEU is not used: it rewards samples that differ from one another, not samples that cover
  the real data, which NLL_gen (the held-out test sentences under the generator) measures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

STAGES = {"adversarial/eval/": "after_adversarial", "pretrain/eval/": "after_pretraining"}

BLEU_FLOOR = 1e-6  # log(BLEU) of a run without a single matching 5-gram: -13.8 rather than -inf


def log_bleu5_minus_nll_gen(scores: Mapping[str, float]) -> float:
    """``log(BLEU-5) - NLL_gen`` = ``log(BLEU-5 * exp(-NLL_gen))``: quality times coverage, higher is better.

    ``exp(-NLL_gen)`` is the geometric-mean probability the generator gives a token of the real test sentences
    (one over the per-token perplexity), so the metric is the product of a precision (BLEU-5) and a recall
    (how likely the real data is), compared in nats. Working with ``log(BLEU-5)`` makes the weight between them
    independent of a corpus' BLEU level: BLEU-5 times ``e`` is worth NLL_gen lower by one nat per token, a 10 %
    BLEU-5 gain is worth 0.095 nats. What adversarial training is meant to do (BLEU-5 up by tens of percent,
    NLL_gen up by a few hundredths of a nat) scores as an improvement, while mode collapse, whose NLL_gen grows
    without bound as the real sentences become improbable, loses however high its BLEU-5. NLL_gen is as the evaluation
    reports it (every position of the fixed-length rows, pads included, as RelGAN and Texygen score it).

    One number cannot replace a quality-diversity curve: compare final models over a temperature sweep
    (``textgan-quality-diversity``); this metric is for ranking the trials of a hyperparameter search.
    BLEU-5 below ``BLEU_FLOOR`` counts as ``BLEU_FLOOR``, so the value stays finite for the sweeper.
    """
    return math.log(max(float(scores["bleu5"]), BLEU_FLOOR)) - float(scores["nll_gen"])


# derived metric -> (the reported metrics it needs, how it is computed from one evaluation's scores)
DERIVED: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, float]], float]]] = {
    "log_bleu5_minus_nll_gen": (("bleu5", "nll_gen"), log_bleu5_minus_nll_gen),
}


def optimized_value(summary: dict[str, Any], metric: str) -> float:
    """The value of ``metric`` in a run summary; a ``ValueError`` names what is available when it is absent."""
    for prefix, key in STAGES.items():
        if metric.startswith(prefix):
            scores = summary.get(key) or {}
            name = metric.removeprefix(prefix)
            if name in scores:
                return float(scores[name])
            if name in DERIVED:
                needed, compute = DERIVED[name]
                if all(n in scores for n in needed):
                    return float(compute(scores))
                missing = ", ".join(prefix + n for n in needed if n not in scores)
                raise ValueError(f"optimized_metric={metric}: needs {missing}, not in this run's {key}"
                                 f"{_available(prefix, scores)}")  # fmt: skip
            raise ValueError(f"optimized_metric={metric}: not in this run's {key}{_available(prefix, scores)}")
    raise ValueError(f"optimized_metric={metric}: must start with {' or '.join(STAGES)}")


def _available(prefix: str, scores: Mapping[str, Any]) -> str:
    names = [prefix + n for n in scores if n != "step"]
    names += [prefix + n for n, (needed, _) in DERIVED.items() if all(m in scores for m in needed)]
    return f"; available: {', '.join(names) or 'none (the stage did not run)'}"


def sqlite_url(path: str) -> str:
    """``sqlite:////ABSOLUTE/PATH`` of a study file, its folder made (SQLite makes the file, not its folder).

    The config resolver ``${textgan_sqlite:PATH}`` (registered by ``textgan.training.config_resolvers``) in
    ``conf/hparams_search/``: ``hydra.sweeper.storage``, so that the study's file sits at a stable PATH, relative
    to the working directory, that the next sweep with the same study name continues.
    """
    file = Path(path).expanduser().resolve()
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file}"

