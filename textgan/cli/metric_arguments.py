"""Command-line options of the distribution metrics, shared by textgan-evaluate and textgan-quality-diversity."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from textgan.evaluation.distribution import DISTRIBUTION_METRICS, distribution_metrics, parse_metrics
from textgan.evaluation.encoders import ENCODER_HELP, POOLINGS, check_encoder_spec
from textgan.evaluation.language_model import LanguageModelSettings


def add_metric_arguments(parser: argparse.ArgumentParser, default: str, choices: Sequence[str]) -> None:
    """``--metrics`` (comma-separated ``choices`` or ``all``), ``--encoder``, the LM cache and LM size."""
    group = parser.add_argument_group("metrics")
    group.add_argument(
        "--metrics", default=default, help=f"comma-separated: {', '.join(choices)}, or all (default: {default})"
    )
    group.add_argument("--encoder", default="lm", help=f"features for mauve and fed: {ENCODER_HELP}")
    group.add_argument(
        "--encoder-pooling", choices=POOLINGS, default="auto", help="hf: last token, mean of tokens, or auto"
    )
    group.add_argument("--lm-cache", help="folder of cached reference LMs (default: <dataset_dir>/language_models)")
    defaults = LanguageModelSettings()
    sizes = (
        ("--lm-hidden", defaults.hidden_dim, "LM hidden size"),
        ("--lm-embedding", defaults.embedding_dim, "LM embedding size"),
        ("--lm-epochs", defaults.max_epochs, "LM training epochs at most"),
    )
    for option, value, text in sizes:
        group.add_argument(option, type=int, default=value, help=f"{text} (default {value}; changes the scores)")


def check_metric_arguments(args: argparse.Namespace, choices: Sequence[str]) -> list[str]:
    """The chosen metric names; refuses (ValueError) unknown ones, a bad encoder or LM size, before any work."""
    names = parse_metrics(args.metrics, choices)
    check_encoder_spec(args.encoder)
    for option in ("lm_hidden", "lm_embedding", "lm_epochs"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    return names


def language_model_settings(args: argparse.Namespace) -> LanguageModelSettings:
    return LanguageModelSettings(embedding_dim=args.lm_embedding, hidden_dim=args.lm_hidden, max_epochs=args.lm_epochs)


def distribution_settings(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """What the scores depend on, for results files."""
    settings: dict[str, Any] = {"language_model": dataclasses.asdict(language_model_settings(args))}
    if "mauve" in names or "fed" in names:
        settings["encoder"] = {"name": args.encoder, "pooling": args.encoder_pooling}
    return settings


def score_distribution(
    args: argparse.Namespace, datamodule: Any, names: Sequence[str], rows: torch.Tensor, texts: Sequence[str]
) -> dict[str, float]:
    """``distribution_metrics`` of the requested ``names`` (the others are ignored) under the options."""
    wanted = [name for name in names if name in DISTRIBUTION_METRICS]
    if not wanted:
        return {}
    return distribution_metrics(
        datamodule,
        rows,
        texts,
        wanted,
        settings=language_model_settings(args),
        encoder=args.encoder,
        pooling=args.encoder_pooling,
        cache_dir=args.lm_cache,
        device=args.device,
    )
