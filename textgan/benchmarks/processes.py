"""Several training processes on one machine: data-parallel (DDP) throughput, and runs side by side.

Every row runs real ``textgan-train`` processes on the default CPU experiment (``relgan_oracle_cpu``: 10,000
oracle sentences, batch 64) and times one clean MLE epoch and a block of adversarial iterations from the
run's own ``train.log`` (the time between two consecutive checkpoint lines; no evaluation in between):

* ``ddp``: one process with all the cores against ``trainer=ddp_cpu`` (N processes, the cores shared, each
  with a per-process batch of 64 / N so that the global batch stays 64): MLE sentences per second and
  adversarial iterations per second of the whole job;
* ``side by side``: N independent runs at once, started by hand with ``threads`` left at its default (each
  takes every core), by hand with ``threads=cores/N``, and by Hydra's joblib launcher (``threads=auto``
  divides the cores by its ``n_jobs``), against the same N runs one after another: wall time for all N and
  the MLE epoch time of each (MLE only: 2 epochs).

Needs hydra-core and the shared oracle data (``--shared-data``); ``--debug`` runs every row on textgan-train's
``debug=default`` instead (a tiny oracle of its own, seconds per run: checks that the rows still run, the numbers
mean nothing; of the side-by-side rows only those whose commands differ). Example::

    python scripts/bench_processes.py --processes 2 --json rows.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textgan.benchmarks.command_line import markdown_table

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the runs start in it, ../shared/data beside it
RUN = [
    "experiment=relgan_oracle_cpu", "logger=csv", "evaluation.num_samples=200", "pretrain.epochs=2",
    "pretrain.eval_every=100", "pretrain.checkpoint_every=1", "adversarial.steps=20",
    "adversarial.eval_every=1000", "adversarial.checkpoint_every=10", "trainer.enable_progress_bar=false",
]  # fmt: skip
STAMP = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[[^\]]+\]\[INFO\] - checkpoint: .*/(pretrain|adversarial)/"
)


def checkpoint_times(log: Path) -> dict[str, list[float]]:
    """Seconds since the epoch of every checkpoint line in a run's log, by stage."""
    times: dict[str, list[float]] = {"pretrain": [], "adversarial": []}
    for line in log.read_text().splitlines():
        match = STAMP.match(line)
        if match:
            when = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            times[match.group(2)].append(when)
    return times


def start(run_dir: Path, overrides: list[str], env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "textgan.train", *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(process.args)} failed:\n{stderr[-2000:]}")


def run_config(run_dir: Path) -> dict:
    """The run's resolved config, from its ``summary.json``."""
    return json.loads((run_dir / "summary.json").read_text())["config"]


def epoch_seconds(run_dir: Path) -> tuple[float, float | None]:
    """(seconds of MLE epoch 2, seconds per adversarial iteration between the first two adversarial checkpoints
    (iterations 11..20 at full size), or None) from the run's log."""
    times = checkpoint_times(run_dir / "train.log")
    mle, adversarial = times["pretrain"], times["adversarial"]
    interval = run_config(run_dir)["adversarial"]["checkpoint_every"]
    return mle[1] - mle[0], (adversarial[1] - adversarial[0]) / interval if len(adversarial) > 1 else None


def environment(shared_data: str) -> dict[str, str]:
    env = {**os.environ, "WANDB_MODE": "offline", "TEXTGAN_SHARED_DATA": shared_data}
    env.pop("OMP_NUM_THREADS", None)
    return env


def benchmark_ddp(workdir: Path, processes: int, shared_data: str, run: list[str] = RUN) -> list[dict]:
    rows = []
    for label, overrides in (
        ("1 process, all cores", []),
        (
            f"DDP, {processes} processes",
            ["trainer=ddp_cpu", f"trainer.devices={processes}", f"data.batch_size={64 // processes}"],
        ),  # fmt: skip
    ):
        run_dir = workdir / f"ddp-{len(rows)}"
        finish(start(run_dir, [*run, *overrides], environment(shared_data)))
        epoch, iteration = epoch_seconds(run_dir)
        rows.append(
            {"setting": label, "mle_sentences_per_s": run_config(run_dir)["data"]["num_train"] / epoch,
             "adversarial_iterations_per_s": 1 / iteration}
        )  # fmt: skip
    return rows


def benchmark_side_by_side(
    workdir: Path, processes: int, shared_data: str, run: list[str] = RUN, debug: bool = False
) -> list[dict]:
    """The side-by-side rows; ``debug``: only the rows whose commands differ (N at once with threads=cores/N, and
    the joblib sweep), since the other two start the same command with other thread counts."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = max(cores // processes, 1)
    rows = []
    settings = (
        (f"{processes} one after another", [], False),
        (f"{processes} at once, threads default (each all {cores} cores)", ["threads=" + str(cores)], True),
        (f"{processes} at once, threads={share}", [f"threads={share}"], True),
    )
    for label, overrides, parallel in settings[2:] if debug else settings:
        env, started, dirs = environment(shared_data), time.perf_counter(), []
        running = []
        for job in range(processes):
            dirs.append(workdir / f"side-{len(rows)}-{job}")
            running.append(start(dirs[-1], [*run, *overrides, f"seed={job}", "adversarial.steps=0"], env))
            if not parallel:
                finish(running.pop())
        for process in running:
            finish(process)
        wall = time.perf_counter() - started
        epochs = [epoch_seconds(d)[0] for d in dirs]
        rows.append({"setting": label, "wall_s_all_runs": wall, "mle_epoch_s_mean": sum(epochs) / len(epochs)})
    sweep = workdir / "joblib"  # Hydra's joblib launcher: threads=auto divides the cores by n_jobs
    seeds = ",".join(str(s) for s in range(processes))
    command = [sys.executable, "-m", "textgan.train", "-m", *run, "adversarial.steps=0", "hydra/launcher=joblib",
               f"hydra.launcher.n_jobs={processes}", f"seed={seeds}", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=environment(shared_data), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"joblib sweep failed:\n{result.stderr[-2000:]}")
    wall = time.perf_counter() - started
    epochs = [epoch_seconds(d)[0] for d in sorted(p for p in sweep.iterdir() if (p / "train.log").is_file())]
    rows.append({"setting": f"{processes} by hydra/launcher=joblib, threads=auto", "wall_s_all_runs": wall,
                 "mle_epoch_s_mean": sum(epochs) / len(epochs)})  # fmt: skip
    return rows


def benchmark_processes(
    processes: int = 2, shared_data: str | None = None, workdir: Path | None = None, debug: bool = False
) -> dict:
    """The ``ddp`` and ``side_by_side`` rows; ``debug``: every run on ``debug=default`` (seconds each)."""
    shared_data = shared_data or str(ROOT.parent / "shared" / "data")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="textgan-bench-processes-"))
    run = [*RUN, "debug=default", "adversarial.steps=4", "adversarial.checkpoint_every=2"] if debug else RUN
    return {
        "ddp": benchmark_ddp(workdir, processes, shared_data, run),
        "side_by_side": benchmark_side_by_side(workdir, processes, shared_data, run, debug),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="N processes (default 2)")
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--debug", action="store_true", help="run on debug=default (seconds, no shared data): do the rows still run?"
    )
    args = parser.parse_args(argv)
    if args.processes < 2:
        parser.error(f"--processes must be at least 2, got {args.processes}")
    if not args.debug and not Path(args.shared_data).is_dir():
        parser.error(f"--shared-data {args.shared_data}: no such folder (the oracle's parameters are read from it)")
    results = benchmark_processes(args.processes, args.shared_data, args.workdir, args.debug)
    for name, rows in results.items():
        print(f"\n### {name}\n")
        print(markdown_table(rows, digits=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0
