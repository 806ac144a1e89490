"""Speed of textgan's BLEU / Self-BLEU against nltk on 10k x 10k COCO sentences; the Texygen samples' scores.

``benchmark_bleu`` times BLEU-2..5 of the 10,000 COCO test sentences (hypotheses) against the 10,000 COCO
training sentences (references), and Self-BLEU-2..5 of the 10,000 test sentences, with ``textgan.metrics``
(each order alone, then all four sharing one pass). nltk (``sentence_bleu`` with method1, one call per
hypothesis and order, as Texygen does) is timed on the first ``nltk_subset`` hypotheses only, against all the
references, and its time is EXTRAPOLATED linearly to all hypotheses (nltk's cost per hypothesis is about
proportional to the number of references, whichever the hypothesis). The same subset checks that both agree
sentence by sentence.

``sample_scores`` gives BLEU-2..5 and Self-BLEU-2..5 of the Texygen COCO samples (SeqGAN, LeakGAN, MLE)
against the COCO test split, under the full protocol (all samples, all references) and under Texygen's default
"fast" protocol (the first 500 references; Self-BLEU of the first 500 samples). Lines are split on whitespace,
or (``tokenize="treebank"``) with nltk's Treebank word tokenizer on the whole line, which is Texygen's
``nltk.word_tokenize`` without its punkt sentence splitting (e.g. "night." -> "night", "."). With the Treebank
split the full protocol reproduces Texygen's published COCO tables (docs/evaluation.md) to about 1e-3.

    python scripts/bench_metrics.py [--shared-data ../shared/data] [--nltk-subset 100] [--samples]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textgan import metrics
from textgan.benchmarks.command_line import markdown_table, positive_int

ROOT = Path(__file__).resolve().parents[2]  # the checkout: ../shared/data beside it is the default data

ORDERS = (2, 3, 4, 5)
SAMPLE_MODELS = ("seq", "leakgan", "mle")


def read_sentences(path: str | Path, tokenize: str = "whitespace") -> list[list[str]]:
    """One sentence per line (a final newline does not make an empty sentence), split on whitespace or with
    nltk's Treebank word tokenizer (``tokenize="treebank"``, needs nltk)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if tokenize == "treebank":
        from nltk.tokenize import NLTKWordTokenizer

        return [NLTKWordTokenizer().tokenize(line) for line in lines]
    if tokenize != "whitespace":
        raise ValueError(f"tokenize must be 'whitespace' or 'treebank', got {tokenize!r}")
    return [line.split() for line in lines]


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _nltk_time(score_one: Callable[[int, int], float], orders, count: int) -> tuple[dict[int, float], dict]:
    """Seconds nltk takes per order for ``count`` hypotheses, and its scores ``{n: [scores]}``."""
    seconds, scores = {}, {}
    for n in orders:
        start = time.perf_counter()
        scores[n] = [score_one(i, n) for i in range(count)]
        seconds[n] = time.perf_counter() - start
    return seconds, scores


def benchmark_bleu(shared_data_dir: str | Path, nltk_subset: int = 100) -> list[dict]:
    """Rows ``{metric, hypotheses, references, ours_s, nltk_s_extrapolated, speedup, nltk_measured_on,
    max_abs_diff}``: BLEU-n (COCO test vs COCO train) and Self-BLEU-n (COCO test), n = 2..5 and all four."""
    shared = Path(shared_data_dir)
    hypotheses = read_sentences(shared / "coco" / "test.txt")
    references = read_sentences(shared / "coco" / "train.txt")
    subset = min(nltk_subset, len(hypotheses))
    try:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    except ImportError:  # nltk is a dev dependency: without it, only our times
        sentence_bleu = None

    def nltk_bleu(refs, hyp, n):
        smoothing = SmoothingFunction().method1
        return sentence_bleu(refs, hyp, (1 / n,) * n, smoothing_function=smoothing)

    jobs = {
        "BLEU": (
            lambda orders: metrics.bleu_scores(hypotheses, references, orders),
            lambda i, n: nltk_bleu(references, hypotheses[i], n),
            lambda: metrics.sentence_bleu_scores(hypotheses[:subset], references, ORDERS),
            len(references),
        ),
        "Self-BLEU": (
            lambda orders: metrics.self_bleu_scores(hypotheses, orders),
            lambda i, n: nltk_bleu(hypotheses[:i] + hypotheses[i + 1 :], hypotheses[i], n),
            lambda: metrics.sentence_self_bleu_scores(hypotheses, ORDERS, max_hypotheses=subset),
            len(hypotheses) - 1,
        ),
    }
    rows = []
    for name, (ours, nltk_one, ours_subset, num_refs) in jobs.items():
        ours_s = {n: best_time(lambda n=n, ours=ours: ours((n,))) for n in ORDERS}
        ours_all = best_time(lambda ours=ours: ours(ORDERS))
        if sentence_bleu is not None:
            print(f"  nltk {name} on {subset} hypotheses x {num_refs} references ...", file=sys.stderr)
            nltk_s, nltk_scores = _nltk_time(nltk_one, ORDERS, subset)
            mine = ours_subset()
            diffs = {n: max(abs(a - b) for a, b in zip(mine[n], nltk_scores[n], strict=True)) for n in ORDERS}
        for n in [*ORDERS, None]:
            label = f"{name}-{n}" if n else f"{name}-2..5 (shared pass)"
            seconds = ours_s[n] if n else ours_all
            row = {"metric": label, "hypotheses": len(hypotheses), "references": num_refs, "ours_s": seconds}
            if sentence_bleu is not None:
                extrapolated = (nltk_s[n] if n else sum(nltk_s.values())) * len(hypotheses) / subset
                row["nltk_s_extrapolated"] = extrapolated
                row["speedup"] = extrapolated / seconds
                row["nltk_measured_on"] = f"{subset} hypotheses"
                row["max_abs_diff"] = f"{(diffs[n] if n else max(diffs.values())):.1e}"
            rows.append(row)
    return rows


def sample_scores(shared_data_dir: str | Path, tokenize: str = "whitespace") -> list[dict]:
    """BLEU-2..5 and Self-BLEU-2..5 of the Texygen COCO samples against the COCO test split, two protocols."""
    shared = Path(shared_data_dir)
    references = read_sentences(shared / "coco" / "test.txt", tokenize)
    rows = []
    for model in SAMPLE_MODELS:
        samples = read_sentences(shared / "samples" / f"texygen_coco_{model}.txt", tokenize)
        for protocol, max_refs, max_samples in (("full", None, None), ("texygen-fast-500", 500, 500)):
            bleu = metrics.bleu_scores(samples, references, ORDERS, max_references=max_refs)
            self_bleu = metrics.self_bleu_scores(samples, ORDERS, max_samples=max_samples)
            row = {"samples": model, "tokens": tokenize, "protocol": protocol, "num_samples": len(samples)}
            row.update({f"bleu{n}": bleu[n] for n in ORDERS})
            row.update({f"self_bleu{n}": self_bleu[n] for n in ORDERS})
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--nltk-subset", type=positive_int, default=100, help="hypotheses nltk is timed on")
    parser.add_argument("--samples", action="store_true", help="also score the Texygen COCO samples")
    parser.add_argument(
        "--tokenize",
        nargs="+",
        choices=["whitespace", "treebank"],
        help="how --samples splits lines (default: whitespace)",
    )
    parser.add_argument("--json", default=None, help="also write all rows to this JSON file")
    args = parser.parse_args(argv)
    if args.tokenize and not args.samples:
        parser.error("--tokenize applies to --samples only (how the Texygen samples are split); add --samples")
    if not Path(args.shared_data).is_dir():
        parser.error(f"--shared-data {args.shared_data}: no such folder (COCO is read from it)")

    results = {"bleu": benchmark_bleu(args.shared_data, args.nltk_subset)}
    print("\n### BLEU / Self-BLEU speed (nltk seconds EXTRAPOLATED linearly from the subset)\n")
    print(markdown_table(results["bleu"]))
    if args.samples:
        ways = args.tokenize or ["whitespace"]
        results["samples"] = [row for way in ways for row in sample_scores(args.shared_data, way)]
        print("\n### Texygen COCO samples against the COCO test split\n")
        print(markdown_table(results["samples"], digits=4))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0
