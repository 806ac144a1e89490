"""Tokenise a text corpus (one sentence per line) into a dataset folder for ``TextDataModule``.

The folder holds ``tokenizer.json``, the encoded ``train/`` and ``test/`` splits (Arrow) and ``manifest.json``
(sources with sha256, line counts, blank, dropped and cut lines, the length cap, vocabulary size and fingerprint,
special token ids);
the format and the row layout (``w_1 .. w_n <eos> <pad> ..``, pad 0 / bos 1 / eos 2 / unk 3) are described in
``textgan/data/tokenization.py``. By default (``--max-length auto``) a training line longer than twice the 99th
percentile of the training lines' lengths is dropped, counted and warned about, so that one overlong line does not
pad every row (``textgan/data/row_length.py``). A failed run leaves an existing folder untouched. Examples::

    textgan-tokenize --train ../shared/data/coco/train.txt \\
        --test ../shared/data/coco/test.txt --pre-tokenizer words --out .cache/text/coco
    textgan-tokenize --train big.txt --test small.txt --tokenizer bpe --vocab-size 8000 --out d
    textgan-tokenize --train zh_train.txt --test zh_test.txt --tokenizer char --out d   # any language
    textgan-tokenize --train zh_train.txt --test zh_test.txt --tokenizer byte_bpe --vocab-size 2000 --out d
    textgan-tokenize --hub-dataset NAME --train-split train --test-split test --out d
    textgan-tokenize --train news_5M.txt --test news_test.txt --num-proc 2 --out d   # larger than memory

Run it as ``textgan-tokenize`` or ``python -m textgan.cli.tokenize``, not as ``python textgan/cli/tokenize.py``:
run by path, this file would shadow Python's own ``tokenize`` module and break ``import torch``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

from textgan.data.build import build_dataset
from textgan.data.corpus_files import read_hub_dataset
from textgan.data.row_length import AUTO, MAX_LENGTH_HELP, max_length_argument
from textgan.data.tokenization import (
    TOKENIZER_MODELS,
    TokenizerOptions,
    build_dataset_from_lines,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="textgan-tokenize", description=__doc__.split("\n\n")[0])
    source = parser.add_argument_group("corpus (local files, or a hub dataset when online)")
    source.add_argument("--train", help="training split: a text file, one sentence per line")
    source.add_argument("--test", help="test split (BLEU references, NLL_gen)")
    source.add_argument(
        "--test-as-train", action="store_true", help="no training file: use the test file for both splits"
    )
    source.add_argument("--hub-dataset", help="a datasets hub name instead of files (needs network)")
    source.add_argument("--hub-config", help="the hub dataset's configuration name")
    source.add_argument("--train-split", default="train", help="hub split read as training data")
    source.add_argument("--test-split", default="test", help="hub split read as test data")
    source.add_argument("--text-column", default="text", help="hub column holding the sentences")
    vocab = parser.add_argument_group("vocabulary")
    vocab.add_argument(
        "--tokenizer",
        "--model",
        dest="model",
        choices=TOKENIZER_MODELS,
        default="word_level",
        help="word_level: one id per word; bpe: subwords; char: one id per character, spaces included; "
        "byte_bpe: byte-level BPE. char and byte_bpe need no spaces between words (Chinese, Japanese)",
    )
    vocab.add_argument(
        "--vocab-size", type=int, help="ids in all, specials included (required for bpe and byte_bpe)"
    )
    vocab.add_argument("--min-frequency", type=int, default=1)
    vocab.add_argument(
        "--pre-tokenizer",
        choices=["whitespace", "words"],
        default="whitespace",
        help="whitespace: split on spaces only; words: also split punctuation off words",
    )
    vocab.add_argument("--lowercase", action="store_true")
    vocab.add_argument("--vocab-from", choices=["train", "train+test"], default="train")
    parser.add_argument(
        "--max-length", type=max_length_argument, default=AUTO, metavar="{auto,none,N}", help=MAX_LENGTH_HELP
    )
    parser.add_argument("--out", required=True, help="the dataset folder to write (replaced atomically)")
    parser.add_argument(
        "--num-proc",
        type=int,
        default=1,
        help="worker processes for tokenising (> 1, or files over 256 MiB: built streamed through memory-mapped "
        "Arrow, never in memory at once; the same folder either way)",
    )
    return parser.parse_args(argv)


def tokenize_corpus(args: argparse.Namespace) -> dict:
    """Build the dataset folder the arguments describe; returns its manifest."""
    options = TokenizerOptions(
        args.model, args.vocab_size, args.min_frequency, args.pre_tokenizer, args.lowercase, args.vocab_from
    )
    if args.hub_dataset:
        if args.train or args.test:
            raise ValueError("give either --hub-dataset or --train/--test files, not both")
        splits = {"train": args.train_split, "test": args.test_split}
        lines, sources = read_hub_dataset(args.hub_dataset, splits, args.text_column, args.hub_config)
        build_options = {"tokenizer": asdict(options), "max_length": args.max_length}
        return build_dataset_from_lines(args.out, lines, sources, options, args.max_length, build_options)
    if args.num_proc < 1:
        raise ValueError(f"--num-proc must be at least 1, got {args.num_proc}")
    if not args.test:
        raise ValueError("--test is required (the test split: BLEU references and NLL_gen)")
    if not args.train and not args.test_as_train:
        raise ValueError("--train is required; to train on the test file itself pass --test-as-train")
    return build_dataset(args.out, args.train or args.test, args.test, options, args.max_length, args.num_proc)


def summary(manifest: dict, out: str) -> str:
    lines = [
        f"dataset folder: {Path(out).resolve()}",
        f"vocabulary: {manifest['vocab_size']} ids ({manifest['tokenizer']['model']}), "
        f"{manifest['vocab_fingerprint'][:23]}..., max_length {manifest['max_length']} "
        f"({_length_source(manifest)})",
    ]
    for split, facts in manifest["splits"].items():
        lines.append(
            f"{split}: {facts['lines']} lines, {facts['blank_lines_skipped']} blank skipped, "
            f"{facts['dropped_long_lines']} dropped as too long, {facts['cut_lines']} cut, "
            f"{facts['unk_tokens']} <unk> tokens"
        )
    return "\n".join(lines)


def _length_source(manifest: dict) -> str:
    """Where the row length came from: ``auto: cap 44 = twice the 99th percentile 22``, ``data``, ``argument``."""
    cap = manifest.get("length_cap")
    if not cap:
        return manifest["max_length_from"]
    return f"auto: cap {cap['cap']} = twice the {cap['percentile']}th percentile {cap['percentile_tokens']}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            manifest = tokenize_corpus(args)
        except (FileNotFoundError, FileExistsError, ValueError) as error:
            print(f"textgan-tokenize: error: {error}", file=sys.stderr)
            return 2
        finally:
            for warning in caught:
                print(f"textgan-tokenize: warning: {warning.message}", file=sys.stderr)
    print(summary(manifest, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
