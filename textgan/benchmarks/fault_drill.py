"""Fault drill: SIGKILL a training run at random moments, resume it each time, and check that the result equals
an uninterrupted run's exactly.

The drill first trains a reference run to completion, then starts the same run again and kills it ``--kills`` times
with SIGKILL: mostly at a random moment once training is under way (during a step, a checkpoint write or an
evaluation, whatever is running then), sometimes during start-up; if none of the kills so far landed in the
adversarial stage, the last three wait for it to start (on a busy machine every kill could land in MLE). A kill
during training comes a random ``U(0, 2 T / (kills + 3))`` seconds after the process starts (or resumes) a stage, T
being the reference run's time from its first stage to its end: the time windows scale with the machine's speed,
so neither a fast, idle machine (where the run would finish before every kill is delivered) nor a busy one (where
every kill would land in MLE) changes what is drilled much; should a run still finish before every kill is
delivered (the machine got faster after the reference was timed), it is compared with the reference and the
remaining kills go to a fresh run of the same settings. After every
kill it continues with ``textgan-train resume=RUN_DIR`` alone (a fresh start when the killed process had not written
``config.yaml`` yet), and after the last kill lets the run finish. Then it compares, with ``torch.equal`` and
``==``: the generator after each stage, the final checkpoint's parameters and optimiser states, every sample file,
every metric row and the summary's evaluation histories. Any difference, or a resume that fails, fails the drill.

Runs on the debug preset by default (seconds per process); it needs no shared data. Example::

    python scripts/fault_drill.py --kills 20 --seed 0 --workdir /tmp/drill

Prints one line per kill (where it landed, read from the run's log) and a JSON report; exit status 1 when the
drilled run differs from the reference.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the runs start in it
RUN = ("debug=default", "pretrain.epochs=3", "pretrain.checkpoint_every=1", "adversarial.steps=80",
       "adversarial.checkpoint_every=3", "adversarial.eval_every=10", "trainer.log_every_n_steps=1",
       "logger.csv.flush_logs_every_n_steps=1")  # fmt: skip
STAGES = ("pretrain", "adversarial")


def train_command(run_dir: Path, overrides: list[str]) -> list[str]:
    if (run_dir / "config.yaml").is_file():
        return [sys.executable, "-m", "textgan.train", f"resume={run_dir}"]
    return [sys.executable, "-m", "textgan.train", *overrides, f"hydra.run.dir={run_dir}"]


def landing(run_dir: Path, size_at_start: int) -> str:
    """Where a kill landed, from what the process added to the run's log: start-up (no stage begun yet), or the
    stage (and whether it was evaluating)."""
    lines = new_log_text(run_dir / "train.log", size_at_start).strip().splitlines()
    stage = next((n for line in reversed(lines) for n in reversed(STAGES) if f"[INFO] - {n}: " in line), "")
    if stage and "scoring" in lines[-1]:
        return f"{stage} evaluation"
    return f"{stage} training" if stage else "start-up"


def start(run_dir: Path, overrides: list[str], output: Path) -> subprocess.Popen:
    with output.open("w") as handle:
        return subprocess.Popen(train_command(run_dir, overrides), cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def kill_at_random(
    process: subprocess.Popen, run_dir: Path, rng: random.Random, window: float = 1.2, in_adversarial: bool = False
) -> str | None:
    """SIGKILL ``process`` at a random moment; returns where it landed, or None when it finished first.

    ``window``: the longest a kill waits after the process starts a stage (or its adversarial stage).
    ``in_adversarial``: only once this process has started the adversarial stage (so that a slow, busy machine,
    whose kills would otherwise all land in MLE, still drills the adversarial stage).
    """
    log = run_dir / "train.log"
    size_at_start = log.stat().st_size if log.is_file() else 0

    def logged_nothing_yet() -> bool:
        return (log.stat().st_size if log.is_file() else 0) <= size_at_start

    def started(stages: tuple[str, ...]) -> bool:
        text = new_log_text(log, size_at_start)
        return any(f"[INFO] - {stage}: " in text for stage in stages)

    if in_adversarial or rng.random() >= 0.2:  # once this process is training (in the adversarial stage)
        stages = ("adversarial",) if in_adversarial else STAGES
        while process.poll() is None and not started(stages):
            time.sleep(0.02)
        deadline = time.monotonic() + rng.uniform(0.0, window)
    else:  # during start-up (imports, data, config): before this process logs anything
        deadline = time.monotonic() + rng.uniform(0.2, 3.0)
        while process.poll() is None and time.monotonic() < deadline and logged_nothing_yet():
            time.sleep(0.01)
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if process.poll() is not None:
        return None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return landing(run_dir, size_at_start)


def new_log_text(log: Path, offset: int) -> str:
    """What the run's log gained past ``offset`` bytes."""
    if not log.is_file():
        return ""
    with log.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def run_to_end(run_dir: Path, overrides: list[str], output: Path) -> None:
    process = start(run_dir, overrides, output)
    if process.wait() != 0:
        raise RuntimeError(f"the run in {run_dir} failed (exit {process.returncode}); its output: {output}")


def training_seconds(log: Path) -> float:
    """Seconds from a run's first stage line to its last line, from the timestamps of its ``train.log``."""
    lines = [line for line in log.read_text().splitlines() if line.startswith("[20")]
    first = next((i for i, line in enumerate(lines) for stage in STAGES if f"[INFO] - {stage}: " in line), None)
    if first is None:
        raise RuntimeError(f"{log} shows no training stage: cannot time the reference run")
    start, end = (datetime.strptime(lines[i][1:24], "%Y-%m-%d %H:%M:%S,%f") for i in (first, -1))
    return (end - start).total_seconds()


def metric_rows(run_dir: Path) -> list[dict]:
    rows = []
    for path in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with path.open(newline="") as handle:
            rows += [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
    return rows


def run_result(run_dir: Path) -> dict:
    from textgan.models.io import load_generator

    checkpoint = torch.load(run_dir / "checkpoints" / "adversarial" / "last.ckpt", weights_only=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        "generator.pt": load_generator(run_dir / "generator.pt")[0].state_dict(),
        "pretrained_generator.pt": load_generator(run_dir / "pretrained_generator.pt")[0].state_dict(),
        "checkpoint parameters": checkpoint["state_dict"],
        "checkpoint optimiser states": checkpoint["optimizer_states"],
        "samples": {p.name: p.read_bytes() for p in sorted((run_dir / "samples").iterdir())},
        "metric rows": metric_rows(run_dir),
        "evaluation histories": {
            k: summary.get(k) for k in ("pretrain_history", "adversarial_history", "after_adversarial")
        },
    }


def differences(expected, actual, where: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected`` (tensors by ``torch.equal``, the rest by ``==``)."""
    if isinstance(expected, torch.Tensor):
        same = isinstance(actual, torch.Tensor) and torch.equal(expected, actual)
        return [] if same else [where]
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or list(expected) != list(actual):
            return [f"{where} (keys)"]
        return [d for key in expected for d in differences(expected[key], actual[key], f"{where}/{key}")]
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list | tuple) or len(expected) != len(actual):
            return [f"{where} (length)"]
        return [
            d for i, (a, b) in enumerate(zip(expected, actual, strict=True)) for d in differences(a, b, f"{where}[{i}]")
        ]
    return [] if expected == actual else [where]


def drill(kills: int, seed: int, workdir: Path, overrides: list[str]) -> dict:
    rng = random.Random(seed)
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    run_to_end(workdir / "reference", overrides, logs / "reference.log")
    window = 2 * training_seconds(workdir / "reference" / "train.log") / (kills + 3)
    expected = run_result(workdir / "reference")
    landed: list[str] = []
    found: list[str] = []
    drilled_runs = [workdir / "drilled"]
    while len(landed) < kills:
        drilled = drilled_runs[-1]
        process = start(drilled, overrides, logs / f"process_{len(landed):03d}.log")
        adversarial_due = len(landed) >= kills - 3 and not any(w.startswith("adversarial") for w in landed)
        where = kill_at_random(process, drilled, rng, window, in_adversarial=adversarial_due)
        if where is None:  # it ran to the end before the kill: compare it, then drill a fresh run
            if process.returncode != 0:
                raise RuntimeError(f"a resumed process failed (exit {process.returncode}): see {process.args}")
            found += [f"{drilled.name}: {d}" for d in differences(expected, run_result(drilled))]
            drilled_runs.append(workdir / f"drilled_{len(drilled_runs) + 1}")
            continue
        landed.append(where)
        print(f"kill {len(landed):2d}: {where}", flush=True)
    run_to_end(drilled_runs[-1], overrides, logs / "final.log")
    found += [f"{drilled_runs[-1].name}: {d}" for d in differences(expected, run_result(drilled_runs[-1]))]
    return {
        "kills": len(landed),
        "identical": not found,
        "differences": found[:20],
        "landed": {where: landed.count(where) for where in sorted(set(landed))},
        "drilled runs": len(drilled_runs),
        "kill window seconds": round(window, 3),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to deliver (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--workdir", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--report", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("overrides", nargs="*", help="textgan-train overrides replacing the drill's run settings")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error(f"--kills must be at least 1, got {args.kills}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="textgan-fault-drill-"))
    if workdir.exists() and any(workdir.iterdir()):
        parser.error(f"--workdir {workdir} is not empty: the drill needs a fresh folder")
    os.environ.setdefault("WANDB_MODE", "offline")
    report = drill(args.kills, args.seed, workdir, list(RUN) + args.overrides)
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    if args.workdir is None and report["identical"]:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report["identical"] and report["kills"] == args.kills else 1
