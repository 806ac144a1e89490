"""Speed and memory of textgan, at the paper's oracle and COCO sizes, on CPU and on CUDA when present.

Sections (all by default):

* ``models``: time per MLE step, per adversarial iteration (1 generator + 5 discriminator updates through the
  real ``AdversarialModule`` under a Lightning Trainer), sampling throughput (10,000 sentences), peak memory;
  in fp32 and bf16 mixed precision (`bf16-emulated`: bf16-mixed with its products in float32 arithmetic, as
  textgan-train runs it on CPUs without bf16 kernels, see textgan/kernels/bf16_products.py);
* ``bleu``: BLEU-2..5 and Self-BLEU-2..5 on 10k x 10k COCO sentences against nltk (``scripts/bench_metrics.py``);
* ``reinforce``: the rollout reward with K = 16 Monte-Carlo rollouts, vectorised vs the per-prefix loop, and
  REINFORCE generator steps with the SeqGAN preset's reward and the default one (minus the GAN generator loss)
  (``scripts/bench_reinforce.py``).
* ``schemes``: seconds per adversarial iteration of every scheme of the model zoo beside RelGAN's and SeqGAN's, on
  one generator (:mod:`textgan.benchmarks.schemes`).
* ``processes``: 1 process against 2 DDP processes, and 2 runs side by side against one after another, on the
  default CPU experiment (``scripts/bench_processes.py``; needs hydra-core, so not on a bare GPU machine).

Each model measurement runs in a fresh subprocess so that its peak resident memory (CPU) or peak allocated
memory (CUDA) is its own. Needs torch and lightning only (no Hydra, datasets or wandb), so it runs on a bare
GPU machine. Example::

    python scripts/benchmark.py --section models --size coco --precision fp32 bf16
    python scripts/benchmark.py --section models --size oracle --compare-with HEAD~3   # old and new, one run
    python scripts/benchmark.py --section models reinforce --size debug   # smoke run: does every row still run?
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from textgan.benchmarks.command_line import device_argument, markdown_table, positive_int
from textgan.benchmarks.models import MEASUREMENTS, SIZES, benchmark_models, count_model_flops
from textgan.kernels.numerics import flush_denormals
from textgan.training.host_memory import CPU_HEAP_SETTINGS

ROOT = Path(__file__).resolve().parents[2]  # the checkout: ../shared/data beside it is the default data
SECTIONS = ("models", "bleu", "reinforce", "schemes", "processes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--size", nargs="+", default=["oracle", "coco"], choices=sorted(SIZES))
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "bf16-emulated"])
    parser.add_argument(
        "--device", nargs="+", type=device_argument, help="cpu, cuda or cuda:N (default: cpu, plus cuda when available)"
    )
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--json", default=None, help="also write all rows to this JSON file")
    parser.add_argument(
        "--compare-with", metavar="REF", help="also benchmark commit REF's code (models section) and give ratios"
    )
    parser.add_argument(
        "--keep-denormals", action="store_true", help="keep subnormal floats (as textgan-train flush_denormal=false)"
    )
    parser.add_argument(
        "--runs", type=positive_int, default=1,
        help="measure each model row in this many fresh processes and report the median (with --compare-with: "
        "this many rounds, each one run of the new code, then one of the reference)",
    )  # fmt: skip
    parser.add_argument(
        "--cpu-heap", choices=CPU_HEAP_SETTINGS, default="reuse",
        help="what the C heap does with freed memory (as textgan-train cpu_heap=; textgan/training/host_memory.py)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if {"bleu", "processes"} & set(args.section) and not Path(args.shared_data).is_dir():
        parser.error(f"--shared-data {args.shared_data}: no such folder (the bleu and processes sections read it)")
    flush_denormals(not args.keep_denormals)
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    torch.set_float32_matmul_precision("highest")
    results: dict[str, list[dict]] = {}
    if "models" in args.section:
        flops = count_model_flops(args.size, next((d for d in devices if d.startswith("cuda")), "cpu"))  # faster
        results["model_flops"] = [
            {"size": size, **{name.removesuffix("_s") + "_gflop": count / 1e9 for name, count in counts.items()}}
            for size, counts in flops.items()
        ]

        def measure(runs: int) -> list[dict]:
            return benchmark_models(
                args.size, devices, args.precision, flops, not args.keep_denormals, args.cpu_heap, runs
            )

        if args.compare_with:  # new and old alternate, one run each per round (the reference measures what
            from textgan.benchmarks.compare import interleaved_models  # this run measured: no skipped rows)

            results["models"] = interleaved_models(
                lambda: measure(1), args.compare_with, args.size, devices, args.runs, MEASUREMENTS
            )
        else:
            results["models"] = measure(args.runs)
    if "bleu" in args.section:
        from textgan.benchmarks.bleu import benchmark_bleu

        results["bleu"] = benchmark_bleu(args.shared_data)
    if "reinforce" in args.section:
        from textgan.benchmarks.reinforce import benchmark_rollout

        results["reinforce"] = benchmark_rollout(device=devices[-1], sizes=tuple(args.size))
    if "schemes" in args.section:
        from textgan.benchmarks.schemes import benchmark_schemes

        results["schemes"] = [
            row
            for precision in args.precision
            for row in benchmark_schemes(tuple(args.size), device=devices[-1], precision=precision)
        ]
    if "processes" in args.section:  # needs hydra-core: textgan-train processes side by side and under DDP
        from textgan.benchmarks.processes import benchmark_processes

        results.update(benchmark_processes(2, args.shared_data))
    for section, rows in results.items():
        print(f"\n### {section} ({torch.get_num_threads()} threads, torch {torch.__version__})\n")
        print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0
