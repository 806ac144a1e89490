"""Write sentences sampled from a generator file or from a training run's Lightning checkpoint.

``--checkpoint`` takes a generator file (``generator.pt``, ``pretrained_generator.pt``: ``save_generator``'s
format) or a run's ``checkpoints/{pretrain,adversarial}/*.ckpt``: the generator is then rebuilt from the run
folder's own generator file (its ``build``) and given the checkpoint's ``generator.*`` weights. Tokens are
drawn from ``softmax(logits / temperature)``, truncated to the ``--top-k`` most probable tokens and / or the
``--top-p`` nucleus (``textgan.models.decoding.sample_sentences``), and decoded by the data's tokenizer (word level or
BPE): everything up to the first ``<eos>``, padding removed, and with byte-level BPE any byte sequence that is
not UTF-8 (a character left unfinished) left out and counted in a warning; the synthetic oracle's sequences (no
text) are written as token ids joined by spaces. The data are found from the checkpoint's metadata, as
``textgan-evaluate`` finds them, or given with the same options. A generator file loads safely (tensors and
plain values only); ``--trust`` loads an older or foreign one in full, only for files you made yourself or
trust: loading may run code. Examples::

    textgan-generate --checkpoint outputs/.../generator.pt --num-samples 1000 --top-p 0.9 --out samples.txt
    textgan-generate --checkpoint outputs/.../checkpoints/adversarial/last.ckpt --format jsonl --out s.jsonl
    textgan-generate --checkpoint outputs/.../generator.pt --label positive --num-samples 100   # conditional

A class-conditional generator (trained on labelled data) needs ``--label``: a class name of the data
(``labels.json``), a class id, or ``all`` for ``--num-samples`` split equally over the classes, each line then
starting with its class name and a tab (jsonl: a ``label`` field). An unconditional generator refuses ``--label``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from textgan.atomic_files import atomic_write_text
from textgan.cli.data_arguments import add_data_arguments, datamodule_from_args
from textgan.data.base import TokenDataModule
from textgan.data.tokenizer import describe_invalid_utf8
from textgan.evaluation.data import check_generator
from textgan.kernels.numerics import flush_denormals
from textgan.models.checkpoints import load_checkpoint
from textgan.models.decoding import Samples, sample_sentences
from textgan.models.generator import Generator
from textgan.models.io import TRUST_HELP

PROG = "textgan-generate"
PROTOCOL_OPTIONS = ("max_hypotheses", "max_references", "self_bleu_samples", "nll_ignore_padding", "nll_gen_train")

JSONL_HELP = (
    "jsonl: one object per sentence with 'text', 'token_ids' (up to and including <eos>, padding removed), "
    "'log_prob' (sum of the log-probabilities of the chosen tokens under the distribution actually sampled "
    "from: tempered and truncated by --top-k / --top-p) and 'model_log_prob' (the same under the untempered, "
    "untruncated model)"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="generator.pt / pretrained_generator.pt, or a run's checkpoints/{pretrain,adversarial}/last.ckpt",
    )
    parser.add_argument(
        "--trust", action="store_true", help=f"load a generator file that is not plain data, {TRUST_HELP}"
    )
    add_data_arguments(parser)
    for action in parser._actions:  # the shared BLEU / NLL protocol options mean nothing here
        if action.dest in PROTOCOL_OPTIONS:
            action.help = argparse.SUPPRESS
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--num-samples", type=int, default=1000, help="sentences to write (default 1000)")
    sampling.add_argument("--temperature", type=float, default=1.0, help="sample from softmax(logits / t), t > 0")
    sampling.add_argument("--top-k", type=int, help="keep only the k most probable tokens at each step (k >= 1)")
    sampling.add_argument(
        "--top-p",
        type=float,
        help="nucleus sampling: keep the smallest set of most probable tokens whose probability reaches p, "
        "p in (0, 1] (after --top-k when both are given)",
    )
    sampling.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    sampling.add_argument(
        "--label",
        help="class-conditional generator: the class to sample (a name of the data's classes, an id), or all",
    )
    sampling.add_argument(
        "--batch-size",
        type=int,
        default=1024,
        help="sentences sampled at once (default 1024; the draws depend on seed, batch size and device)",
    )
    sampling.add_argument(
        "--max-length", type=int, help="tokens per sentence, <eos> included (default: the generator's)"
    )
    sampling.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda if available, else cpu"
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format", choices=("text", "jsonl"), default="text", help="text: one sentence per line; " + JSONL_HELP
    )
    output.add_argument("--out", help="output file, written atomically (default: standard output)")
    output.add_argument("--quiet", action="store_true", help="no progress bar (it is off when stderr is no TTY)")
    return parser.parse_args(argv)


def check_options(args: argparse.Namespace) -> None:
    """Refuse (ValueError) sampling options outside their range, before anything is loaded or written."""
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    if args.top_p is not None and not 0.0 < args.top_p <= 1.0:
        raise ValueError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_length is not None and args.max_length < 1:
        raise ValueError(f"--max-length must be at least 1, got {args.max_length}")


# ---------------------------------------------------------------------------------------------- loading
def find_data(args: argparse.Namespace, generator: Generator, metadata: dict[str, Any]) -> TokenDataModule | None:
    """The checked DataModule to decode with, or None for a generator of token ids whose data are not recorded.

    A run on a fresh oracle (``oracle_path=null``) records no data source; its samples are token ids either
    way, so they are written as ids. A text vocabulary (or an unknown one) always needs its data.
    """
    given = any(value is not None for value in (args.dataset_dir, args.data, args.oracle))
    recorded = any(metadata.get(key) for key in ("dataset_dir", "oracle_path"))
    if not given and not recorded and str(metadata.get("vocab_fingerprint", "")).startswith("ids:"):
        if int(metadata.get("vocab_size", generator.vocab_size)) != generator.vocab_size:
            raise ValueError(
                f"checkpoint {args.checkpoint} records {metadata['vocab_size']} ids but its generator has "
                f"{generator.vocab_size}"
            )
        return None
    datamodule = datamodule_from_args(args, metadata)
    check_generator(generator, metadata, datamodule, args.checkpoint)
    return datamodule


# ---------------------------------------------------------------------------------------------- sampling
def resolve_labels(
    args: argparse.Namespace, generator: Generator, datamodule: TokenDataModule | None
) -> tuple[torch.Tensor | None, list[str] | None]:
    """The class of each sentence to sample (None: an unconditional generator) and the classes' names."""
    k = int(getattr(generator, "num_classes", 0) or 0)
    classes = None if datamodule is None else datamodule.class_labels
    if not k:
        if args.label is not None:
            raise ValueError(
                f"--label {args.label}: the generator in {args.checkpoint} is unconditional (it was not trained on "
                "class labels); only a class-conditional generator samples a class"
            )
        return None, None
    names = list(classes.names) if classes is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"the generator is conditioned on {k} classes, but the data hold {len(names)}")
    listing = ", ".join(f"{i} = {name}" for i, name in enumerate(names))
    if args.label is None:
        raise ValueError(f"the generator is class-conditional: choose --label (a class, or all); classes: {listing}")
    if args.label == "all":
        per_class = -(-args.num_samples // k)
        return torch.arange(k).repeat_interleave(per_class)[: args.num_samples], names
    if args.label in names:
        return torch.full((args.num_samples,), names.index(args.label), dtype=torch.long), names
    if args.label.isdigit() and int(args.label) < k:
        return torch.full((args.num_samples,), int(args.label), dtype=torch.long), names
    raise ValueError(f"--label {args.label}: unknown class; the classes are {listing} (or all)")


# ---------------------------------------------------------------------------------------------- output
def decode(samples: Samples, datamodule: TokenDataModule | None) -> list[str]:
    """Sentences of the samples: the data's ``decode`` (text, or ids), or ids joined by spaces without data.

    Byte-level BPE text leaves out byte sequences that are not UTF-8; a warning on stderr counts them.
    """
    if datamodule is None:
        return [
            " ".join(map(str, row[:n]))
            for row, n in zip(samples.tokens.tolist(), samples.lengths.tolist(), strict=True)
        ]
    texts, invalid = datamodule.decode_and_count_invalid(samples.tokens)
    warning = describe_invalid_utf8(invalid)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    return texts


def format_lines(samples: Samples, texts: list[str], output_format: str) -> list[str]:
    """One line per sentence: the text, or its jsonl object (see ``--format``)."""
    if output_format == "text":
        return texts
    rows = zip(
        texts,
        samples.tokens.tolist(),
        samples.lengths.tolist(),
        samples.log_prob.tolist(),
        samples.model_log_prob.tolist(),
        strict=True,
    )
    return [
        json.dumps(
            {"text": text, "token_ids": ids[:n], "log_prob": log_prob, "model_log_prob": model_log_prob},
            ensure_ascii=False,
        )
        for text, ids, n, log_prob, model_log_prob in rows
    ]


def generate(args: argparse.Namespace) -> list[str]:
    """The output lines: options checked, generator loaded and checked against its data, sentences sampled."""
    check_options(args)
    generator, metadata = load_checkpoint(args.checkpoint, args.device, trust=args.trust)
    generator.eval()
    datamodule = find_data(args, generator, metadata)
    labels, names = resolve_labels(args, generator, datamodule)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm.auto import tqdm

        progress = tqdm(total=args.num_samples, desc=PROG, unit="sentence", file=sys.stderr)
    try:
        samples = sample_sentences(
            generator,
            args.num_samples,
            args.max_length,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            batch_size=args.batch_size,
            eos_token=getattr(datamodule, "eos_token", None),
            pad_token=None if datamodule is None else datamodule.pad_token,
            keep_log_probs=args.format == "jsonl",
            progress=progress,
            labels=labels,
        )
    finally:
        if progress is not None:
            progress.close()
    lines = format_lines(samples, decode(samples, datamodule), args.format)
    if labels is None or (args.label != "all" and args.format == "text"):
        return lines
    classes = [names[c] for c in labels.tolist()]
    if args.format == "text":
        return [f"{name}\t{line}" for name, line in zip(classes, lines, strict=True)]
    return [
        json.dumps({"label": name, **json.loads(line)}, ensure_ascii=False)
        for name, line in zip(classes, lines, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flush_denormals()  # as textgan-train does (textgan/kernels/numerics.py)
    try:
        lines = generate(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    text = "".join(line + "\n" for line in lines)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"{PROG}: {len(lines)} sentences in {Path(args.out).resolve()}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
