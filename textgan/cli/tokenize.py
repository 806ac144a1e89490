"""Tokenise a text corpus (one sentence per line) into a dataset folder for ``TextDataModule``.

The folder holds ``tokenizer.json``, the encoded ``train/`` and ``test/`` splits (Arrow) and ``manifest.json``
(sources with sha256, line counts, blank, dropped and cut lines, the length cap, vocabulary size and fingerprint,
special token ids);
the format and the row layout (``w_1 .. w_n <eos> <pad> ..``, pad 0 / bos 1 / eos 2 / unk 3) are described in
``textgan/data/dataset_folder.py``. By default (``--max-length auto``) a training line longer than twice the 99th
percentile of the training lines' lengths is dropped, counted and warned about, so that one overlong line does not
pad every row (``textgan/data/row_length.py``). A failed run leaves an existing folder untouched. Examples::

    textgan-tokenize --train ../shared/data/coco/train.txt \\
        --test ../shared/data/coco/test.txt --pre-tokenizer words --out .cache/text/coco
    textgan-tokenize --train big.txt --test small.txt --tokenizer bpe --vocab-size 8000 --out d
    textgan-tokenize --train zh_train.txt --test zh_test.txt --tokenizer char --out d   # any language
    textgan-tokenize --train zh_train.txt --test zh_test.txt --tokenizer byte_bpe --vocab-size 2000 --out d
    textgan-tokenize --hub-dataset NAME --train-split train --test-split test --out d
    textgan-tokenize --train news_5M.txt --test news_test.txt --num-proc 2 --out d   # larger than memory
    textgan-tokenize --labelled ../shared/data/sentiment/movie_review_snippets.tsv --text-column 2 \
        --label-column 1 --label-thresholds 0 --label-names negative,positive --out d   # class labels
    textgan-tokenize --train reviews.csv --test reviews_test.csv --label-column stars --out d

A labelled corpus (``--label-column``) is a TSV, CSV or JSONL file (columns by header name or 0-based index), or a
dataset with a label field (``--hub-dataset``, ``--dataset-path``): labels become class ids, stored as a ``label``
column of each split, their names in ``labels.json`` (``textgan/data/labelled_corpus.py``). ``--label-thresholds``
cuts a numeric rating into classes (a rating equal to a threshold dropped, or see ``--label-ties``); a single
labelled file (``--labelled FILE``, or ``--train`` without ``--test``) gives both splits, ``--test-fraction`` of
its rows held out by a permutation seeded by ``--split-seed``.

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
from textgan.data.class_labels import ClassLabels
from textgan.data.corpus_files import read_hub_dataset
from textgan.data.dataset_folder import build_dataset_from_lines
from textgan.data.labelled_build import build_labelled_dataset, build_labelled_from_dataset
from textgan.data.labelled_corpus import TIES, LabelOptions
from textgan.data.row_length import AUTO, MAX_LENGTH_HELP, max_length_argument
from textgan.data.tokenizer import TOKENIZER_MODELS, TokenizerOptions


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
    source.add_argument(
        "--text-column", default="text", help="column holding the sentences (a name, or a 0-based index)"
    )
    source.add_argument("--dataset-path", help="a datasets dataset saved with save_to_disk (Dataset or DatasetDict)")
    labelled = parser.add_argument_group("class labels (a labelled corpus: TSV, CSV, JSONL or a dataset)")
    labelled.add_argument("--labelled", metavar="FILE", help="one labelled file: both splits, the test split held out")
    labelled.add_argument("--label-column", help="column holding the label (a name, or a 0-based index)")
    labelled.add_argument(
        "--label-thresholds",
        type=_numbers,
        help="cut a numeric label into classes at these values, e.g. 0 (two classes: below, above) or "
        "=-1,1 (three; write the = before a leading minus)",
    )
    labelled.add_argument(
        "--label-names", type=_names, help="class names in id order, e.g. negative,positive (lowest bin first)"
    )
    labelled.add_argument(
        "--label-ties", choices=TIES, default="drop", help="a rating equal to a threshold: drop it (default), "
        "or give it to the class above (upper) or below (lower)",
    )  # fmt: skip
    labelled.add_argument(
        "--header", choices=["yes", "no"], help="TSV / CSV: whether the first row names the columns (default: yes "
        "when a column is given by name)",
    )  # fmt: skip
    labelled.add_argument("--test-fraction", type=float, default=0.1, help="held out from one labelled source")
    labelled.add_argument("--split-seed", type=int, default=0, help="seed of the held-out test split")
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
    vocab.add_argument(
        "--drop-longer-than",
        type=int,
        metavar="N",
        help="drop the lines of more than N tokens (eos not counted) from both splits before the vocabulary is "
        "built (SentiGAN's MR: sentences of at most 15 words); counted in the manifest",
    )
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


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        message = f"expected numbers separated by commas, e.g. 0 or =-1,1; got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))


def label_options(args: argparse.Namespace) -> LabelOptions | None:
    """The labelling the arguments ask for (None: an unlabelled corpus)."""
    if args.label_column is None:
        if args.labelled or args.label_thresholds or args.label_names:
            raise ValueError("--labelled, --label-thresholds and --label-names need --label-column (the labels)")
        return None
    return LabelOptions(
        text_column=args.text_column,
        label_column=args.label_column,
        thresholds=args.label_thresholds,
        label_names=args.label_names,
        ties=args.label_ties,
        header=None if args.header is None else args.header == "yes",
        test_fraction=args.test_fraction,
        split_seed=args.split_seed,
    )


def tokenize_labelled(args: argparse.Namespace, options: TokenizerOptions, labelling: LabelOptions) -> dict:
    """A labelled dataset folder from a file, two files or a dataset (``textgan.data.labelled_build``)."""
    import datasets

    if args.dataset_path or args.hub_dataset:
        if args.dataset_path:
            loaded, source = datasets.load_from_disk(args.dataset_path), args.dataset_path
        else:
            loaded, source = datasets.load_dataset(args.hub_dataset, args.hub_config), args.hub_dataset
        if isinstance(loaded, datasets.Dataset):
            splits = {"train": loaded}
        else:
            wanted = {"train": args.train_split, "test": args.test_split}
            splits = {split: loaded[name] for split, name in wanted.items() if name in loaded}
            if "train" not in splits:
                raise ValueError(f"{source}: no split {args.train_split!r} (--train-split); splits: {list(loaded)}")
        return build_labelled_from_dataset(args.out, splits, source, labelling, options, args.max_length)
    train = args.labelled or args.train
    if not train:
        raise ValueError("a labelled corpus needs --labelled FILE (or --train FILE, with or without --test)")
    if args.labelled and args.train:
        raise ValueError("give either --labelled FILE or --train/--test files, not both")
    return build_labelled_dataset(args.out, train, args.test, labelling, options, args.max_length)


def tokenize_corpus(args: argparse.Namespace) -> dict:
    """Build the dataset folder the arguments describe; returns its manifest."""
    options = TokenizerOptions(
        args.model,
        args.vocab_size,
        args.min_frequency,
        args.pre_tokenizer,
        args.lowercase,
        args.vocab_from,
        args.drop_longer_than,
    )
    labelling = label_options(args)
    if labelling is not None:
        return tokenize_labelled(args, options, labelling)
    if args.dataset_path:
        raise ValueError("--dataset-path reads a labelled dataset: give --label-column too")
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
            + (f", classes {_class_counts(facts['class_counts'], out)}" if "class_counts" in facts else "")
            + (f", {facts['source']['rows_dropped_by_label']} dropped by their label" if _dropped(facts) else "")
        )
    return "\n".join(lines)


def _dropped(facts: dict) -> int:
    return int(facts["source"].get("rows_dropped_by_label") or 0)


def _class_counts(counts: list[int], out: str) -> str:
    """``negative 4,790 / positive 4,721``: the rows of each class, named from the folder's labels.json."""
    names = ClassLabels.load(out).names
    return " / ".join(f"{name} {count:,}" for name, count in zip(names, counts, strict=True))


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
