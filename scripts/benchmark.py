"""Speed and memory of textgan, at the paper's oracle and COCO sizes, on CPU and on CUDA when present.

Sections (all by default):

* ``models``: time per MLE step, per adversarial iteration (1 generator + 5 discriminator updates through the
  real ``AdversarialModule`` under a Lightning Trainer), sampling throughput (10,000 sentences), peak memory;
  in fp32 and bf16 mixed precision (`bf16-emulated`: bf16-mixed with its products in float32 arithmetic, as
  textgan-train runs it on CPUs without bf16 kernels, see textgan/bf16_products.py);
* ``bleu``: BLEU-2..5 and Self-BLEU-2..5 on 10k x 10k COCO sentences against nltk (``scripts/bench_metrics.py``);
* ``reinforce``: the rollout reward with K = 16 Monte-Carlo rollouts, vectorised vs the per-prefix loop, and
  REINFORCE generator steps with the SeqGAN preset's reward and the default one (minus the GAN generator loss)
  (``scripts/bench_reinforce.py``).
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
import contextlib
import json
import multiprocessing as mp
import queue as queue_module
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_flops import count_flops, disable_native_kernels, gemm_flops_per_second, utilisation  # noqa: E402

from textgan.bf16_products import EmulatedBF16Products  # noqa: E402
from textgan.numerics import flush_denormals, slow_bf16_warning  # noqa: E402
from textgan.training.host_memory import CPU_HEAP_SETTINGS, configure_cpu_heap  # noqa: E402

# The paper's settings: RelGAN oracle (length 20, vocabulary 5,000) and COCO (vocabulary 4,683, length 37), with
# RelGAN's models; "debug" (bench_reinforce.py's debug size, with the models of textgan-train's debug=default,
# conf/debug_models/) only checks that every measurement still runs: its numbers mean nothing.
SIZES = {
    "oracle": {"vocab_size": 5000, "max_length": 20},
    "coco": {"vocab_size": 4683, "max_length": 37},
    "debug": {"vocab_size": 500, "max_length": 8},
}
MODELS = {  # size -> (RMCGenerator options, RelGANDiscriminator options)
    "paper": (
        {"embedding_dim": 32, "mem_slots": 1, "head_size": 256, "num_heads": 2},
        {"embedding_dim": 64, "num_rep": 64},
    ),
    "debug": (
        {"embedding_dim": 8, "mem_slots": 1, "head_size": 8, "num_heads": 2},
        {"embedding_dim": 8, "num_rep": 2, "num_filters": [8, 8, 8, 8], "hidden_size": 8},
    ),
}
BATCH = 64
SECTIONS = ("models", "bleu", "reinforce", "processes")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count of 0 would divide by zero or silently mean "default")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def device_argument(text: str) -> str:
    """argparse type: ``cpu``, or ``cuda`` / ``cuda:N`` when that CUDA device exists."""
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    usable = device is not None and (
        device.type == "cpu"
        or (device.type == "cuda" and torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count())
    )
    if not usable:
        found = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA"
        raise argparse.ArgumentTypeError(f"{text!r}: expected cpu or cuda[:N] (this machine has {found})")
    return text


RELEASE_MEMORY = True  # whether adversarial phases trim the heap; each measuring process sets it (_child)


def _models(size: str, device: str):
    from textgan.models.relgan_discriminator import RelGANDiscriminator
    from textgan.models.rmc import RMCGenerator

    facts = SIZES[size]
    generator_options, discriminator_options = MODELS["debug" if size == "debug" else "paper"]
    torch.manual_seed(0)
    generator = RMCGenerator(**generator_options, **facts).to(device)
    discriminator = RelGANDiscriminator(**discriminator_options, **facts).to(device)
    return generator, discriminator, facts


def _autocast(device: str, precision: str):
    """Autocast as Lightning's bf16-mixed sets it (no weight-cast cache), so a step costs what training pays."""
    bf16 = precision.startswith("bf16")  # bf16-emulated: the same autocast, its products emulated (see _child)
    kind = device.split(":")[0]
    return torch.autocast(device_type=kind, dtype=torch.bfloat16 if bf16 else torch.float32, enabled=bf16,
                          cache_enabled=False)  # fmt: skip


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, device: str, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def measure_mle_step(size: str, device: str, precision: str, repeats: int = 20, count: bool = False) -> float:
    from textgan.training.optimizers import FusedAdam

    generator, _, facts = _models(size, device)
    optimizer = FusedAdam(generator.parameters(), lr=1e-2)  # as conf/pretrain/mle.yaml
    tokens = torch.randint(0, facts["vocab_size"], (BATCH, facts["max_length"]), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, precision):
            loss = generator.nll(tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(generator.parameters(), 5.0)
        optimizer.step()

    return count_flops(step) if count else _time(step, device, repeats, warmup=3)  # steps vary by ~10 %


def measure_sampling(size: str, device: str, precision: str, num: int = 10_000, count: bool = False) -> float:
    generator, _, _ = _models(size, device)
    with _autocast(device, precision):
        if count:
            return count_flops(lambda: generator.sample(num))
        generator.sample(256)  # warms up the kernels (oneDNN compiles bf16 ones on first use)
        return _time(lambda: generator.sample(num), device, repeats=1, warmup=0)


def measure_adversarial_iteration(
    size: str, device: str, precision: str, iterations: int = 4, count: bool = False
) -> float:
    """Seconds per iteration (the mean of iterations 2 ..), or with ``count`` the FLOPs of iteration 2."""
    if count:
        iterations = 2  # only the second is counted
    import lightning as L

    from textgan.estimators import GumbelSoftmaxEstimator, InverseTemperatureSchedule
    from textgan.losses.gan import RSGANLoss
    from textgan.training.adversarial import AdversarialModule

    generator, discriminator, facts = _models(size, device)
    estimator = GumbelSoftmaxEstimator(InverseTemperatureSchedule(100, "exp", 5000))
    module = AdversarialModule(
        generator, discriminator, estimator, RSGANLoss(), num_iterations=iterations + 1, release_memory=RELEASE_MEMORY
    )
    data = torch.randint(0, facts["vocab_size"], ((iterations + 2) * 6 * BATCH, facts["max_length"]))
    loader = torch.utils.data.DataLoader(data, batch_size=6 * BATCH)
    times: list[float] = []
    counted: list[int] = []

    class Timer(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if count and batch_idx == 1:
                from torch.utils.flop_counter import FlopCounterMode

                self.counter = FlopCounterMode(display=False)
                self.counter.__enter__()
            _sync(device)
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            _sync(device)
            times.append(time.perf_counter() - self.start)
            if count and batch_idx == 1:
                self.counter.__exit__(None, None, None)
                counted.append(int(self.counter.get_total_flops()))

    trainer = L.Trainer(
        accelerator="gpu" if device.startswith("cuda") else "cpu",
        devices=1,
        precision="bf16-mixed" if precision.startswith("bf16") else "32-true",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Timer()],
    )
    trainer.fit(module, train_dataloaders=loader)
    if count:
        return counted[0]
    return sum(times[1 : iterations + 1]) / len(times[1 : iterations + 1])  # the first iteration is warm-up


MEASUREMENTS = {
    "mle_step_s": measure_mle_step,
    "adversarial_iteration_s": measure_adversarial_iteration,
    "sample_10k_s": measure_sampling,
}


def _child(
    name: str, size: str, device: str, precision: str, flush: bool, queue, count: bool = False, heap: str = "reuse"
) -> None:
    global RELEASE_MEMORY
    flush_denormals(flush)  # first, so that the thread pool inherits it (as textgan-train does)
    RELEASE_MEMORY = configure_cpu_heap(heap)  # as textgan-train's cpu_heap does
    torch.manual_seed(0)
    if count:  # FLOPs of one step (bench_flops.py: the torch formulation of every product, so all are counted)
        disable_native_kernels()
        queue.put({"flops": MEASUREMENTS[name](size, device, precision, count=True)})
        return
    if name == "gemm":  # the peak this row's MFU is measured against (emulated bf16 products run in float32)
        queue.put({"flops_per_second": gemm_flops_per_second(device, precision.replace("bf16-emulated", "fp32"))})
        return
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with EmulatedBF16Products() if precision == "bf16-emulated" else contextlib.nullcontext():
        seconds = MEASUREMENTS[name](size, device, precision)
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    queue.put({"seconds": seconds, "peak_mb": peak_mb})


def run_isolated(
    name: str, size: str, device: str, precision: str, flush: bool = True, count: bool = False, heap: str = "reuse"
) -> dict:
    """One measurement in a fresh process: its time and its own peak memory (``count``: its FLOPs instead;
    ``name="gemm"``: the machine's GEMM FLOP/s at ``precision``).

    Raises RuntimeError when the process ends without a result (its traceback is on stderr) rather than waiting
    for that result forever.
    """
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, size, device, precision, flush, queue, count, heap))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if process.is_alive():
                continue
            try:  # it may have put its result just before exiting
                result = queue.get(timeout=1.0)
                break
            except queue_module.Empty:
                raise RuntimeError(
                    f"{name} ({size}, {device}, {precision}) failed in its subprocess (exit code "
                    f"{process.exitcode}); its error is above"
                ) from None
    process.join()
    return result


def count_model_flops(sizes, device: str = "cpu") -> dict[str, dict[str, int]]:
    """FLOPs of each measured step per size (shapes only: one count serves every device and precision)."""
    counts: dict[str, dict[str, int]] = {}
    for size in sizes:
        counts[size] = {name: run_isolated(name, size, device, "fp32", count=True)["flops"] for name in MEASUREMENTS}
        print(
            f"  {size} GFLOP per step: " + ", ".join(f"{k} {v / 1e9:.2f}" for k, v in counts[size].items()),
            file=sys.stderr,
        )
    return counts


def benchmark_models(
    sizes, devices, precisions, flops, flush: bool = True, heap: str = "reuse", runs: int = 1
) -> list[dict]:
    """One row per device x size x precision: seconds and MFU of each measurement, the GEMM peak, peak memory.

    ``flops``: :func:`count_model_flops` of the same sizes. ``runs``: each measurement in that many fresh
    processes, the median seconds (and GEMM rate) and the largest peak reported: one process's timing can sit
    10-40 % off another's on a shared 2-core host."""
    rows = []
    for device in devices:
        for precision in precisions:
            slow = slow_bf16_warning("bf16-mixed" if precision == "bf16" else "32-true", device == "cpu")
            if slow:  # ~20x slower than fp32: an hour of measuring for rows nobody should train with
                print(f"  {device} {precision}: skipped (--precision bf16-emulated measures what textgan-train "
                      f"runs here). {slow}", file=sys.stderr)  # fmt: skip
                continue
            if precision == "bf16-emulated" and device != "cpu":
                print(f"  {device} {precision}: skipped (emulation is for CPUs without bf16 kernels)",
                      file=sys.stderr)  # fmt: skip
                continue
            peak = statistics.median(
                run_isolated("gemm", "", device, precision, flush, heap=heap)["flops_per_second"] for _ in range(runs)
            )
            print(f"  {device} {precision} GEMM peak: {peak / 1e9:.1f} GFLOP/s", file=sys.stderr)
            for size in sizes:
                row = {"device": device, "size": size, "precision": precision}
                peaks = []
                for name in MEASUREMENTS:
                    results = [run_isolated(name, size, device, precision, flush, heap=heap) for _ in range(runs)]
                    result = {"seconds": statistics.median(r["seconds"] for r in results),
                              "peak_mb": max(r["peak_mb"] for r in results)}  # fmt: skip
                    mfu = utilisation(flops[size][name], result["seconds"], peak)
                    row[name], row[name.removesuffix("_s") + "_mfu"] = result["seconds"], mfu
                    peaks.append(result["peak_mb"])
                    print(
                        f"  {device} {size} {precision} {name}: {result['seconds']:.3f} s, "
                        f"MFU {mfu:.3f}, peak {result['peak_mb']:.0f} MB",
                        file=sys.stderr,
                    )
                row["gemm_gflops"] = peak / 1e9
                row["peak_mb"] = max(peaks)
                rows.append(row)
    return rows


def markdown_table(rows: list[dict], digits: int = 3) -> str:
    """Benchmark rows (dicts with the same keys) -> a markdown table, floats with ``digits`` decimals."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{row[k]:.{digits}f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
            from bench_compare import interleaved_models  # this run measured: no skipped rows)

            results["models"] = interleaved_models(
                lambda: measure(1), args.compare_with, args.size, devices, args.runs, MEASUREMENTS
            )
        else:
            results["models"] = measure(args.runs)
    if "bleu" in args.section:
        from bench_metrics import benchmark_bleu

        results["bleu"] = benchmark_bleu(args.shared_data)
    if "reinforce" in args.section:
        from bench_reinforce import benchmark_rollout

        results["reinforce"] = benchmark_rollout(device=devices[-1], sizes=tuple(args.size))
    if "processes" in args.section:  # needs hydra-core: textgan-train processes side by side and under DDP
        from bench_processes import benchmark_processes

        results.update(benchmark_processes(2, args.shared_data))
    for section, rows in results.items():
        print(f"\n### {section} ({torch.get_num_threads()} threads, torch {torch.__version__})\n")
        print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
