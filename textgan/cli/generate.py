"""Write sentences sampled from a generator file or from a training run's Lightning checkpoint.

``--checkpoint`` takes a generator file (``generator.pt``, ``pretrained_generator.pt``: ``save_generator``'s
format) or a run's ``checkpoints/{pretrain,adversarial}/*.ckpt``: the generator is then rebuilt from the run
folder's own generator file (its ``build``) and given the checkpoint's ``generator.*`` weights. Tokens are
drawn from ``softmax(logits / temperature)``, truncated to the ``--top-k`` most probable tokens and / or the
``--top-p`` nucleus (``textgan.sampling.filter_logits``), and decoded by the data's tokenizer (word level or
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
import inspect
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
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
from textgan.models.generator import Generator
from textgan.models.io import TRUST_HELP
from textgan.sampling import categorical_sample, filter_logits

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
@dataclass
class Samples:
    """Sampled sequences and the log-probabilities of their tokens.

    ``lengths[n]``: how many leading tokens of ``tokens[n]`` make the sentence (through its first ``<eos>``;
    without one, the row less its trailing padding). ``log_prob`` / ``model_log_prob``: sums over those
    tokens under the distribution sampled from (tempered, truncated) and under the untempered model; None
    when not asked for.
    """

    tokens: torch.Tensor  # (N, T) long
    lengths: torch.Tensor  # (N,) long
    log_prob: torch.Tensor | None = None  # (N,) float32
    model_log_prob: torch.Tensor | None = None  # (N,) float32


def sentence_lengths(tokens: torch.Tensor, eos_token: int | None, pad_token: int | None) -> torch.Tensor:
    """Tokens (N, T) -> (N,) lengths: through the first ``eos_token``, else without the trailing ``pad_token``s.

    Tokens the model chose before the end stay, so that the ids are exactly the sampled prefix (their
    teacher-forced log-probability is the sentence's); decoding drops a ``<pad>`` chosen mid-sentence.
    """
    num_rows, length = tokens.shape
    lengths = torch.full((num_rows,), length, dtype=torch.long, device=tokens.device)
    if pad_token is not None:  # 1 + the position of the last non-pad token (0 for an all-pad row)
        real = (tokens != pad_token).flip(dims=[1])  # (N, T), last position first
        lengths = torch.where(real.any(dim=1), length - real.int().argmax(dim=1), 0)
    if eos_token is not None:
        is_eos = tokens == eos_token
        lengths = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, lengths)
    return lengths


@torch.no_grad()
def sample_sentences(
    generator: Generator,
    num_samples: int,
    length: int | None = None,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    eos_token: int | None = None,
    pad_token: int | None = None,
    keep_log_probs: bool = False,
    progress: Any = None,
    labels: torch.Tensor | None = None,
) -> Samples:
    """Draw ``num_samples`` sequences of ``length`` tokens through ``generator.unroll``: (N, T) in a ``Samples``.

    Each step samples from ``softmax(filter_logits(logits / temperature, top_k, top_p))`` with one
    ``torch.Generator`` seeded by ``seed`` for the whole run; without truncation the draws are those of
    ``generator.sample`` (and ``textgan-evaluate``) at the same seed, temperature and batch size.
    ``keep_log_probs`` also records each chosen token's log-probability under the sampled and the model's
    distribution, as tensors filled step by step. ``progress``: a tqdm bar advanced by each batch's size.
    ``labels`` (num_samples,): the class of each sentence, for a class-conditional generator (through its
    ``unroll(..., labels=)`` when it has one, else its ``sample(..., labels=)``, which samples untruncated).
    """
    length = length or generator.max_length
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    table = generator.input_table() if num_samples * length > 4 * generator.vocab_size else None  # as sample()

    def chooser(sampled: torch.Tensor | None, model: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``choose`` for one batch, writing the chosen tokens' log-probabilities into (B, T) buffers."""
        step = itertools.count()

        def choose(logits: torch.Tensor) -> torch.Tensor:  # (B, V) -> (B,)
            scaled = logits.float() if temperature == 1.0 else logits.float() / temperature
            truncated = filter_logits(scaled, top_k, top_p)  # -inf outside the kept tokens
            token = categorical_sample(truncated, generator=rng)
            if sampled is not None:
                t, chosen = next(step), token.unsqueeze(-1)
                sampled[:, t] = torch.log_softmax(truncated, dim=-1).gather(-1, chosen).squeeze(-1)
                model[:, t] = torch.log_softmax(logits.float(), dim=-1).gather(-1, chosen).squeeze(-1)
            return token

        return choose

    tokens, sampled, model = [], [], []
    for start in range(0, num_samples, batch_size):
        size = min(batch_size, num_samples - start)
        if keep_log_probs:
            sampled.append(torch.empty(size, length, device=generator.device))  # (B, T)
            model.append(torch.empty(size, length, device=generator.device))  # (B, T)
        choose = chooser(sampled[-1], model[-1]) if keep_log_probs else chooser(None, None)
        if labels is None:
            tokens.append(generator.unroll(size, length, choose, input_table=table)[0])
        else:
            plain = temperature if top_k is None and top_p is None and not keep_log_probs else None
            batch_labels = labels[start : start + size]
            tokens.append(conditional_batch(generator, size, length, choose, batch_labels, rng, plain))
        if progress is not None:
            progress.update(size)
    all_tokens = torch.cat(tokens)
    lengths = sentence_lengths(all_tokens, eos_token, pad_token)
    if not keep_log_probs:
        return Samples(all_tokens, lengths)
    within = torch.arange(length, device=all_tokens.device) < lengths.unsqueeze(1)  # (N, T)
    return Samples(
        all_tokens,
        lengths,
        torch.cat(sampled).masked_fill(~within, 0.0).sum(dim=1),
        torch.cat(model).masked_fill(~within, 0.0).sum(dim=1),
    )


def conditional_batch(
    generator: Generator,
    size: int,
    length: int,
    choose: Callable,
    labels: torch.Tensor,
    rng: torch.Generator,
    plain_temperature: float | None,
) -> torch.Tensor:
    """One batch of a class-conditional generator: its ``unroll`` with the labels when it takes them (top-k /
    top-p / log-probabilities as for an unconditional one), else its ``sample`` at ``plain_temperature`` (given
    only when sampling is plain: no truncation, no log-probabilities)."""
    labels = labels.to(generator.device)
    unroll = getattr(generator, "unroll", None)
    if unroll is not None and "labels" in inspect.signature(unroll).parameters:
        return unroll(size, length, choose, labels=labels)[0]
    if plain_temperature is None:
        raise ValueError(
            f"{type(generator).__name__} samples a class only through sample(..., labels=): drop --top-k, --top-p "
            "and --format jsonl"
        )
    return generator.sample(size, length, temperature=plain_temperature, generator=rng, labels=labels)


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
