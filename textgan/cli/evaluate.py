"""Score a generator checkpoint, or a file of generated sentences, with the paper's metrics.

Real text: BLEU-2..5 against the test split, Self-BLEU-2..5 and (checkpoints) NLL_gen of the test split. Synthetic
oracle (``--oracle PATH.npz`` or ``--data oracle``): NLL_oracle of the samples and NLL_gen of the oracle's test
set. Both: ``copy_rate`` (samples that are a training sentence) and ``unique_rate`` (distinct samples); text
generated here, also ``mean_length`` and ``unterminated_rate`` (samples without ``<eos>``). The protocol is
``textgan.evaluation.protocol``'s, the same the training callback uses. Writes ``metrics.json``, ``metrics.md`` and
(checkpoints) ``samples.txt`` to ``--out``; ``--wandb`` also logs them (offline unless ``WANDB_MODE`` says
otherwise). ``--checkpoint`` takes what ``textgan-generate`` takes: a generator file or a run's
``checkpoints/{pretrain,adversarial}/*.ckpt``. ``--trust`` loads a generator file that is not plain data (an older
or foreign one): only for files you made yourself or trust, since loading may run code. Input it cannot use (a
damaged or foreign checkpoint, a samples file without two samples, with only blank lines or with more than
``--max-unknown`` (0.5) of its tokens unknown to the vocabulary, an option out of range) exits with status 2 and
one line naming the problem; more than ``--warn-unknown`` (0.05) unknown is warned about. ``--samples-file`` is
scored with every metric but NLL_gen, which needs the generator, and the copy and unique rates, which compare
generated token ids. Examples::

    textgan-evaluate --checkpoint outputs/.../generator.pt --data coco --out results/relgan
    textgan-evaluate --samples-file ../shared/data/samples/texygen_coco_mle.txt \\
        --dataset-dir .cache/text/coco --out results/texygen_mle
    textgan-evaluate --checkpoint gen.pt --oracle ../shared/data/oracle/seqgan_oracle_lstm.npz \\
        --out results/oracle

``--metrics`` adds the distribution metrics (``textgan.evaluation.distribution``; text data only): ``lm`` (LM
score: the samples' per-token NLL under an LSTM LM trained on the training split, cached beside the split),
``reverse_lm`` (the test split's NLL under an LSTM LM trained on the samples), ``mauve`` and ``fed`` (Fréchet
distance) between the test split and the samples, on features of ``--encoder``: ``lm`` (that LM, offline) or
``hf:NAME`` (a Hugging Face model or local folder; ``pip install 'textgan[hf]'``). ``standard`` is the BLEU /
Self-BLEU / NLL_gen set above; ``all`` is every one::

    textgan-evaluate --samples-file ../shared/data/samples/texygen_coco_seq.txt --data coco \
        --metrics all --out results/texygen_seqgan

Labelled data (``textgan-tokenize --label-column``, ``--data movie_reviews``, ``--data k_oracle``): a
class-conditional generator is sampled equally per class and scored per class as well (``class_accuracy`` by the
data's classifier, whose own test accuracy is ``classifier_accuracy``; ``bleu{n}/<class>``, ``self_bleu{n}/<class>``;
the conditional ``nll_oracle`` on the k-oracle; ``textgan.evaluation.class_metrics``), ``samples.txt`` lines are
``<class><TAB><sentence>`` and ``metrics.md`` has a table per class. A ``--samples-file`` on labelled data whose
lines are ``<class><TAB><sentence>`` (what ``textgan-generate --label all`` writes) is scored per class too.

``--runs`` aggregates finished training runs instead (run folders or multirun folders of runs): from each run's
``summary.json``, per model (``--group-by``, default the estimator) and metric, the mean ± sample standard
deviation (ddof=1) over its seeds, n, min and max, written as ``report.md`` and ``report.csv``
(``textgan.evaluation.report``). Unfinished runs are skipped with a warning::

    textgan-evaluate --runs multirun/cmp_gumbel multirun/cmp_reinforce --group-by estimator,loss \\
        --out results/estimators
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import torch

from textgan.cli.data_arguments import add_data_arguments, datamodule_from_args
from textgan.cli.metric_arguments import (
    add_metric_arguments,
    check_metric_arguments,
    distribution_settings,
    score_distribution,
)
from textgan.data.corpus_files import check_text_file
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import describe_invalid_utf8
from textgan.evaluation.class_metrics import ClassMetrics, split_labelled_lines
from textgan.evaluation.data import check_generator, describe_data
from textgan.evaluation.distribution import DISTRIBUTION_METRICS, rows_from_samples, rows_from_texts
from textgan.evaluation.protocol import balanced_labels, check_classes, draw_samples, evaluate_generator
from textgan.evaluation.report import aggregate, markdown_report, write_report
from textgan.evaluation.runs import STAGES, find_runs, group_runs, parse_group_by, select_runs
from textgan.evaluation.sample_metrics import SampleMetrics
from textgan.kernels.numerics import flush_denormals
from textgan.models.checkpoints import load_checkpoint
from textgan.models.io import TRUST_HELP

METRIC_CHOICES = ("standard", *DISTRIBUTION_METRICS)
WARN_UNKNOWN, MAX_UNKNOWN = 0.05, 0.5  # fractions of a samples file's tokens unknown to the vocabulary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="textgan-evaluate", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint",
        help="a generator file (generator.pt, pretrained_generator.pt) or a run's checkpoints/*/last.ckpt",
    )
    source.add_argument(
        "--samples-file",
        help="generated sentences, one per line, scored with every --metrics choice but NLL_gen (that needs the "
        "generator): standard = BLEU and Self-BLEU, and lm, reverse_lm, mauve, fed",
    )
    source.add_argument(
        "--runs",
        nargs="+",
        metavar="DIR",
        help="training run folders or multirun folders: a seed-aggregated report (report.md, report.csv)",
    )
    parser.add_argument(
        "--trust", action="store_true", help=f"load a generator file that is not plain data, {TRUST_HELP}"
    )
    add_data_arguments(parser)
    parser.add_argument("--num-samples", type=int, default=10_000, help="sentences to sample (or read)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sample from softmax(logits / t)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", help="output folder (default: evaluation/<checkpoint or file name>)")
    samples = parser.add_argument_group("--samples-file checks")
    samples.add_argument(
        "--warn-unknown",
        type=float,
        default=WARN_UNKNOWN,
        metavar="FRACTION",
        help=f"warn when more of the samples' tokens than this are unknown to the vocabulary (default {WARN_UNKNOWN})",
    )
    samples.add_argument(
        "--max-unknown",
        type=float,
        default=MAX_UNKNOWN,
        metavar="FRACTION",
        help="refuse the file when more of its tokens than this are unknown: samples of another corpus or language "
        f"(default {MAX_UNKNOWN})",
    )
    parser.add_argument("--wandb", action="store_true", help="also log to wandb (offline unless WANDB_MODE is set)")
    parser.add_argument("--wandb-project", default="textgan")
    parser.add_argument("--wandb-name", help="wandb run name (default: evaluate-<name>)")
    add_metric_arguments(parser, "standard", METRIC_CHOICES)
    runs = parser.add_argument_group("--runs reports")
    runs.add_argument(
        "--group-by",
        default="estimator",
        help="comma-separated config keys that tell models apart: estimator, loss, or a dotted path "
        "(default: estimator)",
    )
    runs.add_argument("--stage", choices=STAGES, default="after_adversarial", help="whose final metrics")
    return parser.parse_args(argv)


def read_samples_file(path: str, limit: int) -> list[str]:
    """The first ``limit`` lines of a UTF-8 file (checked); blank lines stay, as empty samples (scored 0).

    Refuses (ValueError naming the file) a file whose lines are all blank, and one with fewer than 2 lines
    (Self-BLEU scores each sample against the others).
    """
    check_text_file(path)
    text = Path(path).read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = lines[:limit]
    if not any(line.strip() for line in lines):
        raise ValueError(
            f"{path}: no usable lines ({len(lines)} line(s), all blank); expected generated sentences, one per line"
        )
    if len(lines) < 2:
        raise ValueError(
            f"{path}: {len(lines)} sample(s) read; expected at least 2 sentences, one per line (Self-BLEU scores "
            "each sample against the others)"
        )
    return lines


def check_options(args: argparse.Namespace) -> None:
    """Refuse (ValueError) options outside their range, before anything is loaded or written."""
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    for option in ("warn_unknown", "max_unknown"):
        if not 0.0 <= getattr(args, option) <= 1.0:
            raise ValueError(f"--{option.replace('_', '-')} must be a fraction in [0, 1], got {getattr(args, option)}")
    args.metric_names = check_metric_arguments(args, METRIC_CHOICES)


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Everything ``metrics.json`` holds: metrics, what was scored, on what data, under which protocol."""
    settings = {"num_samples": args.num_samples, "temperature": args.temperature, "seed": args.seed}
    settings["nll_ignore_padding"] = args.nll_ignore_padding
    settings["nll_gen_train"] = args.nll_gen_train
    check_options(args)
    names = args.metric_names
    distribution = [name for name in names if name in DISTRIBUTION_METRICS]
    metrics: dict[str, float] = {}
    sample_labels: list[str] | None = None
    if args.checkpoint:
        generator, metadata = load_checkpoint(args.checkpoint, args.device, trust=args.trust)
        datamodule = datamodule_from_args(args, metadata)
        check_distribution_data(datamodule, distribution)
        check_generator(generator, metadata, datamodule, args.checkpoint)
        if "standard" in names:
            result = evaluate_generator(
                generator,
                datamodule,
                args.num_samples,
                temperature=args.temperature,
                seed=args.seed,
                nll_ignore_padding=args.nll_ignore_padding,
                nll_gen_train=args.nll_gen_train,
            )
            metrics, samples, labels = result.metrics, result.samples, result.labels
        else:
            num_classes = check_classes(generator, datamodule)
            labels = balanced_labels(args.num_samples, num_classes) if num_classes else None
            count = args.num_samples if labels is None else len(labels)
            samples = draw_samples(generator, count, args.seed, args.temperature, labels=labels).cpu()
        texts, invalid = datamodule.decode_and_count_invalid(samples)
        if labels is not None:
            sample_labels = [datamodule.class_labels.name(int(c)) for c in labels]
        warning = describe_invalid_utf8(invalid)
        if warning:  # of samples.txt; BLEU still scores each dropped sequence, as a unit matching no reference
            print(f"textgan-evaluate: warning: {warning}", file=sys.stderr)
        rows = rows_from_samples(datamodule, samples) if distribution else None
        source = {"checkpoint": str(Path(args.checkpoint).resolve()), "metadata": metadata}
        source["invalid_utf8_sentences"] = sum(1 for count in invalid if count)
    else:
        texts = read_samples_file(args.samples_file, args.num_samples)
        datamodule = datamodule_from_args(args)
        if not isinstance(datamodule, TextDataModule):
            raise ValueError(f"--samples-file needs text data with a vocabulary, not {describe_data(datamodule)}")
        texts, labels = split_labelled_lines(args.samples_file, texts, datamodule)
        unknown, tokens = check_unknown_tokens(args, datamodule, texts)
        if "standard" in names:
            metrics = SampleMetrics(datamodule).text(datamodule.text_words(texts))
            if labels is not None:
                metrics.update(ClassMetrics(datamodule).of_texts(texts, labels))
                sample_labels = [datamodule.class_labels.name(int(c)) for c in labels]
        rows = rows_from_texts(datamodule, texts) if distribution else None
        source = {"samples_file": check_text_file(args.samples_file), "empty_samples": texts.count("")}
        source.update(tokens=tokens, unknown_tokens=unknown)
        settings.update(num_samples=len(texts), temperature=None, seed=None)
    if distribution:
        metrics.update(score_distribution(args, datamodule, distribution, rows, texts))
        settings.update(distribution_settings(args, distribution))
    protocol = datamodule.protocol() if hasattr(datamodule, "protocol") else {}
    data = {
        "description": describe_data(datamodule),
        "vocab_fingerprint": datamodule.vocab_fingerprint,
        **protocol,
    }
    settings["metrics"] = names
    if datamodule.class_labels is not None:
        data["classes"] = list(datamodule.class_labels.names)
    report = {"metrics": metrics, "source": source, "data": data, "settings": settings, "samples": texts}
    return {**report, "sample_labels": sample_labels}


def check_unknown_tokens(args: argparse.Namespace, datamodule: Any, texts: list[str]) -> tuple[int, int]:
    """Count the samples' tokens unknown to the data's vocabulary: (unknown, tokens), eos not counted.

    Samples of another corpus or language would score BLEU 0 without a word of explanation, so more than
    ``--warn-unknown`` of them unknown is warned about (stderr) and more than ``--max-unknown`` refused
    (ValueError naming the file and the count).
    """
    unknown, tokens = datamodule.count_unknown_tokens(texts)
    fraction = unknown / tokens if tokens else 0.0
    if fraction <= min(args.warn_unknown, args.max_unknown):
        return unknown, tokens
    what = (
        "byte-level tokens no training line holds"
        if datamodule.manifest["tokenizer"]["model"] == "byte_bpe"
        else "<unk>"
    )
    counted = (
        f"{args.samples_file}: {unknown:,} of {tokens:,} tokens ({fraction:.1%}) are unknown to the vocabulary of "
        f"{datamodule.dataset_dir} ({what})"
    )
    if fraction > args.max_unknown:
        raise ValueError(
            f"{counted}, more than --max-unknown {args.max_unknown}: samples of another corpus or language? "
            "expected sentences in the language and tokenisation of that dataset"
        )
    print(f"textgan-evaluate: warning: {counted}: a generator trained on it never saw them", file=sys.stderr)
    return unknown, tokens


def check_distribution_data(datamodule: Any, distribution: list[str]) -> None:
    """Refuse (ValueError) distribution metrics on data without text (the oracle has exact ones instead)."""
    if distribution and not isinstance(datamodule, TextDataModule):
        raise ValueError(
            f"--metrics {','.join(distribution)} needs text data, not {describe_data(datamodule)}: on the synthetic "
            "oracle NLL_oracle is the exact LM score and NLL_gen the exact reverse one (--metrics standard)"
        )


def markdown_table(report: dict[str, Any]) -> str:
    source = report["source"].get("checkpoint") or report["source"]["samples_file"]["path"]
    lines = [
        f"Evaluation of `{source}` on {report['data']['description']}",
        f"({report['settings']['num_samples']} samples"
        + (f", temperature {report['settings']['temperature']})" if "checkpoint" in report["source"] else ")"),
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    overall = {name: value for name, value in report["metrics"].items() if "/" not in name}
    lines += [f"| {name} | {value:.4f} |" for name, value in overall.items()]
    classes = report["data"].get("classes") or []
    per_class = sorted({name.split("/", 1)[0] for name in report["metrics"] if "/" in name})
    if classes and per_class:
        lines += ["", "| per class | " + " | ".join(classes) + " |", "| --- |" + " --- |" * len(classes)]
        for metric in per_class:
            values = [report["metrics"].get(f"{metric}/{name}") for name in classes]
            lines.append(f"| {metric} | " + " | ".join("-" if v is None else f"{v:.4f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def log_to_wandb(report: dict[str, Any], out: Path, args: argparse.Namespace) -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    import wandb

    name = args.wandb_name or f"evaluate-{out.name}"
    config = {"source": report["source"], "data": report["data"], "settings": report["settings"]}
    run = wandb.init(project=args.wandb_project, name=name, dir=str(out), job_type="evaluate", config=config)
    run.log({f"eval/{key}": value for key, value in report["metrics"].items()})
    labels = report.get("sample_labels")
    if labels is None:
        table = wandb.Table(columns=["sample"], data=[[t] for t in report["samples"][:100]])
    else:
        rows = [[label, text] for label, text in zip(labels, report["samples"], strict=True)][:100]
        table = wandb.Table(columns=["label", "sample"], data=rows)
    run.log({"eval/samples": table})
    run.summary.update({f"eval/{key}": value for key, value in report["metrics"].items()})
    run.finish()


def report_runs(args: argparse.Namespace) -> int:
    """``--runs``: the seed-aggregated report of the finished runs, printed and written to ``--out``."""
    out = Path(args.out or Path("evaluation") / f"{Path(args.runs[0]).resolve().name}-report")
    try:
        keys = parse_group_by(args.group_by)
        selection = select_runs(find_runs(args.runs), stage=args.stage)
        summaries = aggregate(group_runs(selection.runs, keys), args.stage)
        warning = selection.warning()
        if warning:
            print(f"textgan-evaluate: warning: {warning}", file=sys.stderr)
        write_report(out, summaries, keys, args.stage, args.runs, warning)
    except (OSError, ValueError) as error:  # FileNotFoundError included
        print(f"textgan-evaluate: error: {error}", file=sys.stderr)
        return 2
    print(markdown_report(summaries, keys, args.stage, args.runs, warning))
    if args.wandb:
        log_report_to_wandb(out, args)
    print(f"textgan-evaluate: results in {out.resolve()} (report.md, report.csv)")
    return 0


def log_report_to_wandb(out: Path, args: argparse.Namespace) -> None:
    """The seed-aggregated report (``report.csv``) as a wandb table, in a run of its own."""
    import csv

    os.environ.setdefault("WANDB_MODE", "offline")
    import wandb

    with (out / "report.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    config = {"runs": [str(Path(path).resolve()) for path in args.runs], "group_by": args.group_by}
    name = args.wandb_name or f"report-{out.name}"
    run = wandb.init(project=args.wandb_project, name=name, dir=str(out), job_type="report", config=config)
    run.log({"report": wandb.Table(columns=rows[0], data=rows[1:])})
    run.finish()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.runs:
        return report_runs(args)
    flush_denormals()  # as textgan-train does (textgan/kernels/numerics.py)
    logging.basicConfig(format="textgan-evaluate: %(message)s")
    logging.getLogger("textgan").setLevel(logging.INFO)  # the LMs' training takes minutes: say what happens
    name = Path(args.checkpoint or args.samples_file).stem
    out = Path(args.out or Path("evaluation") / name)
    try:
        report = evaluate(args)
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"textgan-evaluate: error: {error}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    samples, sample_labels = report.pop("samples"), report.pop("sample_labels")
    (out / "metrics.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "metrics.md").write_text(markdown_table(report))
    if args.checkpoint:
        lines = samples if sample_labels is None else [f"{c}\t{t}" for c, t in zip(sample_labels, samples, strict=True)]
        (out / "samples.txt").write_text("\n".join(lines) + "\n")
    if args.wandb:
        log_to_wandb({**report, "samples": samples, "sample_labels": sample_labels}, out, args)
    print(markdown_table(report))
    print(f"textgan-evaluate: results in {out.resolve()} (metrics.json, metrics.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
