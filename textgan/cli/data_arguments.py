"""Command-line options shared by ``textgan-evaluate`` and ``textgan-quality-diversity``: the data and protocol.

``add_data_arguments`` declares them; ``datamodule_from_args`` turns the parsed options into the evaluation
DataModule through ``textgan.evaluation.data.load_datamodule``.
"""

from __future__ import annotations

import argparse
from typing import Any

from textgan.data.base import TokenDataModule
from textgan.evaluation.data import load_datamodule


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The evaluation commands' shared options: where the data come from, and the BLEU protocol."""
    data = parser.add_argument_group("data (one of)")
    data.add_argument("--dataset-dir", help="a dataset folder built by textgan-tokenize")
    data.add_argument(
        "--data", help="a data config: a name in conf/data (coco, emnlp_news, oracle) or a YAML file"
    )
    data.add_argument("--oracle", help="the oracle's .npz (synthetic benchmark: NLL_oracle)")
    data.add_argument(
        "--data-override", action="append", default=[], metavar="KEY=VALUE", help="set a --data config key"
    )
    data.add_argument("--data-seed", type=int, help="the data config's seed (default: conf/train.yaml's)")
    data.add_argument(
        "--cache-dir", help="where the oracle's sampled sets are cached (default: .cache/oracle)"
    )
    data.add_argument(
        "--oracle-sequences",
        type=int,
        default=10_000,
        help="size of the oracle's sampled train and test sets",
    )
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument("--max-hypotheses", type=int, help="BLEU scores the first k samples (default all)")
    protocol.add_argument(
        "--max-references", type=int, help="BLEU references: first m test lines (default all)"
    )
    protocol.add_argument(
        "--self-bleu-samples", type=int, help="Self-BLEU on the first s samples (default all)"
    )
    protocol.add_argument(
        "--nll-ignore-padding",
        action="store_true",
        help="NLL_gen over real tokens and <eos> only (default: all)",
    )
    protocol.add_argument(
        "--nll-gen-train",
        action="store_true",
        help="also nll_gen_train: NLL_gen of the training split (RelGAN's definition; nll_gen is the test split's)",
    )


def datamodule_from_args(args: argparse.Namespace, metadata: dict[str, Any] | None = None) -> TokenDataModule:
    """``load_datamodule`` from ``add_data_arguments``' options (default: a checkpoint's ``dataset_dir``)."""
    dataset_dir = args.dataset_dir
    if dataset_dir is None and args.data is None and args.oracle is None:
        dataset_dir = (metadata or {}).get("dataset_dir")
        if dataset_dir is None:
            raise ValueError("say where the data are: --dataset-dir DIR, --data NAME or --oracle PATH.npz")
    protocol = {
        "max_hypotheses": args.max_hypotheses,
        "max_references": args.max_references,
        "self_bleu_samples": args.self_bleu_samples,
    }
    return load_datamodule(
        dataset_dir,
        args.data,
        args.oracle,
        overrides=args.data_override,
        protocol=protocol,
        metadata=metadata,
        seed=args.data_seed,
        cache_dir=args.cache_dir,
        oracle_sequences=args.oracle_sequences,
    )
