"""Distribution metrics of generated text against a corpus: LM, reverse-LM, MAUVE and FED.

``distribution_metrics`` scores one sample set on a ``TextDataModule``:

- ``lm``: ``lm_score``, the samples' per-token NLL under the corpus's reference LM (trained on its training
  split, cached beside the split: ``<dataset_dir>/language_models/``, so repeated evaluations reuse it);
- ``reverse_lm``: ``reverse_lm_score``, the test split's per-token NLL under an LM trained on the samples;
- ``mauve``: ``mauve`` (and ``mauve_frontier_integral``) of the test split (P) against the samples (Q);
- ``fed``: ``fed``, the Fréchet distance between the two sets' sentence embeddings.

MAUVE and FED compare equal-sized sets: the first N test sentences against the N samples (N at most the test
split's size), since both depend on the sizes of the sets.

The LM's size and budget are ``LanguageModelSettings``' (``textgan.evaluation.language_model``), the encoder for
MAUVE and FED is ``textgan.evaluation.encoders``'. Generated rows (checkpoints) are scored as sampled, cut at
their first ``<eos>``; sentences read from a file are encoded with the corpus's tokenizer, cut to the row length
T with the ``<eos>`` kept, as the stored splits are.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textgan.atomic_files import atomic_write, atomic_write_text
from textgan.data.token_rows import TokenRows
from textgan.data.tokenizer import encode_lines
from textgan.evaluation.encoders import make_encoder
from textgan.evaluation.language_model import (
    LanguageModel,
    LanguageModelSettings,
    end_at_eos,
    lm_nll,
    train_language_model,
)
from textgan.metrics.frechet import frechet_distance
from textgan.metrics.mauve import mauve_score

log = logging.getLogger(__name__)

DISTRIBUTION_METRICS = ("lm", "reverse_lm", "mauve", "fed")


def rows_from_samples(datamodule: Any, samples: torch.Tensor) -> torch.Tensor:
    """Generated ids (N, T) -> rows in the stored layout (pads after the first ``<eos>``)."""
    return end_at_eos(samples.long().cpu(), datamodule.eos_token, datamodule.pad_token)


def rows_from_texts(datamodule: Any, texts: Sequence[str]) -> torch.Tensor:
    """Sentences -> rows (N, T) as the stored splits hold them: ids, ``<eos>``, pads; longer ones cut, eos kept."""
    length = datamodule.max_length
    rows = torch.full((len(texts), length), datamodule.pad_token, dtype=torch.long)
    for index, ids in enumerate(encode_lines(datamodule.tokenizer, list(texts))):
        if len(ids) > length:
            ids = ids[: length - 1] + [datamodule.eos_token]
        rows[index, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return rows


def rows_sha256(rows: torch.Tensor | TokenRows) -> str:
    """A hash of (N, T) ids in row order as int32 bytes, whether in memory or ``TokenRows``."""
    if isinstance(rows, TokenRows):
        return rows.sha256()
    return hashlib.sha256(rows.to(torch.int32).contiguous().numpy().tobytes()).hexdigest()


def reference_lm_path(datamodule: Any, settings: LanguageModelSettings, cache_dir: str | Path | None = None) -> Path:
    """Where the corpus's reference LM is cached: keyed by the training rows, the vocabulary and the settings."""
    digest = hashlib.sha256(rows_sha256(datamodule.train_tokens).encode())
    digest.update(datamodule.vocab_fingerprint.encode())
    folder = Path(cache_dir) if cache_dir else Path(datamodule.dataset_dir) / "language_models"
    return folder / f"lm-{settings.key()}-{digest.hexdigest()[:12]}.pt"


def reference_language_model(
    datamodule: Any,
    settings: LanguageModelSettings | None = None,
    *,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
) -> LanguageModel:
    """The LM trained on ``datamodule``'s training split: loaded from the cache, or trained and cached."""
    settings = settings or LanguageModelSettings()
    path = reference_lm_path(datamodule, settings, cache_dir)
    if path.exists():
        try:
            lm = LanguageModel.from_state(torch.load(path, map_location=device, weights_only=True))
        except Exception as error:  # a damaged cache file is rebuilt, not trusted
            log.warning("reference LM cache %s is unreadable (%s): training it again", path, error)
        else:
            log.info("reference LM: %s (cached)", path)
            return lm
    log.info("training the reference LM on %d training rows (settings %s) ...", len(datamodule.train_tokens), settings)
    rows = datamodule.train_tokens
    lm = _train(datamodule, rows.to_tensor() if isinstance(rows, TokenRows) else rows, settings, device)
    atomic_write(path, lambda tmp: torch.save(lm.state(), tmp))
    info = {"settings": lm.state()["settings"], "history": lm.history, "train_rows": len(datamodule.train_tokens)}
    atomic_write_text(path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    log.info("reference LM cached in %s (best epoch %d)", path, lm.best_epoch)
    return lm


def _train(datamodule: Any, rows: torch.Tensor, settings: LanguageModelSettings, device: str) -> LanguageModel:
    return train_language_model(
        rows,
        datamodule.vocab_size,
        pad_token=datamodule.pad_token,
        start_token=datamodule.start_token,
        settings=settings,
        device=device,
    )


def parse_metrics(spec: str, allowed: Sequence[str]) -> list[str]:
    """``"lm,mauve"`` or ``"all"`` -> the metric names, each checked against ``allowed`` (ValueError)."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if names == ["all"]:
        return list(allowed)
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(f"--metrics {spec!r}: unknown metric(s) {unknown}; choose from {', '.join(allowed)} or all")
    return names


def distribution_metrics(
    datamodule: Any,
    rows: torch.Tensor,
    texts: Sequence[str],
    metrics: Sequence[str] = DISTRIBUTION_METRICS,
    *,
    settings: LanguageModelSettings | None = None,
    encoder: str = "lm",
    pooling: str = "auto",
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    seed: int = 25,
) -> dict[str, float]:
    """The requested distribution metrics of generated ``rows`` (N, T) / ``texts`` against the test split."""
    settings = settings or LanguageModelSettings()
    unknown = sorted(set(metrics) - set(DISTRIBUTION_METRICS))
    if unknown:
        raise ValueError(f"unknown distribution metric(s) {unknown}; choose from {', '.join(DISTRIBUTION_METRICS)}")
    reference: list[LanguageModel] = []

    def reference_lm() -> LanguageModel:
        if not reference:
            reference.append(reference_language_model(datamodule, settings, cache_dir=cache_dir, device=device))
        return reference[0]

    scores: dict[str, float] = {}
    if "lm" in metrics:
        scores["lm_score"] = lm_nll(reference_lm(), rows)
    if "reverse_lm" in metrics:
        log.info("training the reverse LM on %d generated rows ...", len(rows))
        reverse = _train(datamodule, rows, settings, device)
        scores["reverse_lm_score"] = lm_nll(reverse, datamodule.test_tokens)
    if "mauve" in metrics or "fed" in metrics:
        features = make_encoder(encoder, reference_lm, device=device, pooling=pooling)
        count = min(len(rows), len(datamodule.test_tokens))  # equal-sized sets, as MAUVE's authors advise
        real = features.features(datamodule.test_texts[:count], datamodule.test_tokens[:count])
        generated = features.features(list(texts), rows)
        if "mauve" in metrics:
            result = mauve_score(real, generated, seed=seed)
            scores["mauve"] = result["mauve"]
            scores["mauve_frontier_integral"] = result["frontier_integral"]
        if "fed" in metrics:
            scores["fed"] = frechet_distance(real, generated)
    return scores
