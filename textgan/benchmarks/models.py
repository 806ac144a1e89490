"""The model rows of the benchmark: time per MLE step, per adversarial iteration and per 10,000 samples, their MFU
and peak memory, at the paper's oracle and COCO sizes (``scripts/benchmark.py --section models``).

* ``mle_step_s``: one MLE step of the RMC generator (Adam as ``conf/pretrain/mle.yaml``, gradients clipped);
* ``adversarial_iteration_s``: 1 generator + 5 discriminator updates through the real ``AdversarialModule`` under
  a Lightning Trainer (the mean of iterations 2 ..);
* ``sample_10k_s``: sampling 10,000 sentences.

Each in fp32 or bf16 mixed precision (``bf16-emulated``: bf16-mixed with its products in float32 arithmetic, as
textgan-train runs it on CPUs without bf16 kernels, see textgan/kernels/bf16_products.py). Each measurement runs
in a fresh subprocess (:func:`run_isolated`) so that its peak resident memory (CPU) or peak allocated memory (CUDA)
is its own; its MFU is its FLOPs (:mod:`textgan.benchmarks.flops`) over its seconds, over the machine's GEMM peak. Needs
torch and lightning only (no Hydra, datasets or wandb), so it runs on a bare GPU machine.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue as queue_module
import resource
import statistics
import sys
import time

import torch

from textgan.benchmarks.flops import count_flops, disable_native_kernels, gemm_flops_per_second, utilisation
from textgan.kernels.bf16_products import EmulatedBF16Products
from textgan.kernels.numerics import flush_denormals, slow_bf16_warning
from textgan.training.console import quiet_lightning
from textgan.training.host_memory import configure_cpu_heap

# The paper's settings: RelGAN oracle (length 20, vocabulary 5,000) and COCO (vocabulary 4,683, length 37), with
# RelGAN's models; "debug" (the REINFORCE rows' debug size, with the models of textgan-train's debug=default,
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
    from textgan.estimators import GumbelSoftmaxEstimator, InverseTemperatureSchedule
    from textgan.losses.gan import RSGANLoss
    from textgan.training.adversarial import AdversarialModule

    generator, discriminator, facts = _models(size, device)
    estimator = GumbelSoftmaxEstimator(InverseTemperatureSchedule(100, "exp", 5000))
    module = AdversarialModule(
        generator, discriminator, estimator, RSGANLoss(), num_iterations=iterations + 1, release_memory=RELEASE_MEMORY
    )
    return time_iterations(module, facts, device, precision, iterations, count)


def time_iterations(
    module, facts: dict, device: str, precision: str, iterations: int = 4, count: bool = False
) -> float:
    """Seconds per iteration of an ``AdversarialModule`` under a Lightning Trainer (the mean of iterations 2 ..,
    the first is warm-up), or with ``count`` the FLOPs of iteration 2. Random real batches of ``facts``' size."""
    import lightning as L

    rows = module.batches_per_step * BATCH
    data = torch.randint(0, facts["vocab_size"], ((iterations + 2) * rows, facts["max_length"]))
    loader = torch.utils.data.DataLoader(data, batch_size=rows)
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

    quiet_lightning()  # no litlogger advert, no LeafSpec warning per row (as textgan-train)
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
    return sum(times[1 : iterations + 1]) / len(times[1 : iterations + 1])


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
    if count:  # FLOPs of one step (flops.py: the torch formulation of every product, so all are counted)
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
