"""Run a fair estimator comparison from a protocol file, and write its table, curves and frontier in one folder.

``textgan-compare pilot PROTOCOL --out OUT`` runs the pilot (a few short runs per candidate setting of the arms
it tunes: REBAR / RELAX's learning rate, REINFORCE's baseline) and writes ``OUT/pilot/choice.json`` and
``pilot.md``; ``run`` starts every arm x schedule x seed as a ``textgan-train`` process (``threads`` threads,
``logger=csv``) in ``OUT/<arm>[-<schedule>]/seed<S>``, resuming unfinished runs and skipping finished ones, so a
comparison continues across sittings (``--jobs N``: N side by side; ``--dry-run``: print the commands);
``report`` writes ``OUT/report/``: ``comparison.md`` / ``.csv`` / ``.json`` (mean, std, 95 % interval, n,
complete or partial per row), ``nll_oracle.png`` / ``.md`` / ``.json`` (the curves) and ``frontier.json`` /
``frontier.png`` (quality against diversity over the sampling temperatures, the pretrained generator among
them). PROTOCOL is a file or a name in ``conf/comparison/`` (``fair_oracle``). Example::

    textgan-compare pilot fair_oracle --out results/fair --pretrained pre/pretrained_generator.pt --jobs 2
    textgan-compare run fair_oracle --out results/fair --pretrained pre/pretrained_generator.pt --jobs 2
    textgan-compare report fair_oracle --out results/fair --pretrained pre/pretrained_generator.pt
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from textgan.atomic_files import atomic_write_text
from textgan.evaluation.comparison import Protocol, ProtocolError, load_protocol
from textgan.evaluation.comparison_plan import (
    PILOT_CHOICE,
    PILOT_FOLDER,
    PlannedRun,
    launch_words,
    pilot_choices,
    plan_pilot,
    plan_runs,
)
from textgan.evaluation.comparison_report import (
    comparison_rows,
    csv_table,
    json_rows,
    markdown_table,
    matched_mle_epochs,
    pilot_choice,
    pilot_markdown,
)

MLE_EPOCHS_FILE = "mle_epochs.json"  # how `epochs: auto` was resolved, kept so that a resumed comparison reuses it


def train_command() -> list[str]:
    """``textgan-train`` beside this interpreter, else ``python -m textgan.train``."""
    beside = Path(sys.executable).with_name("textgan-train")
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "textgan.train"]


def launch(runs: Sequence[PlannedRun], protocol: Protocol, out: Path, jobs: int, dry_run: bool) -> int:
    """Start the runs that are new or unfinished (``jobs`` at a time); the number that failed."""
    todo = [(run, words) for run in runs if (words := launch_words(run)) is not None]
    skipped = len(runs) - len(todo)
    print(f"textgan-compare: {len(todo)} run(s) to start or resume, {skipped} finished", file=sys.stderr)
    if dry_run:
        for _run, words in todo:
            print(f"OMP_NUM_THREADS={protocol.threads} {shlex.join(['textgan-train', *words])}")
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(protocol.threads)}
    (out / "logs").mkdir(parents=True, exist_ok=True)

    def start(item: tuple[PlannedRun, list[str]]) -> int:
        run, words = item
        log = out / "logs" / f"{'-'.join(run.folder.relative_to(out).parts)}.log"
        how = "resumed" if words[0].startswith("resume=") else "started"
        print(f"textgan-compare: {run.folder.relative_to(out)}: {how} (log: {log})", file=sys.stderr)
        with log.open("a", encoding="utf-8") as handle:
            code = subprocess.run(
                [*train_command(), *words], stdout=handle, stderr=subprocess.STDOUT, env=env
            ).returncode
        if code:
            print(f"textgan-compare: {run.folder.relative_to(out)} failed (exit {code}; see {log})", file=sys.stderr)
        return code

    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        codes = list(pool.map(start, todo))
    return sum(1 for code in codes if code)


def mle_epochs(protocol: Protocol, out: Path, dry_run: bool) -> int | None:
    """The MLE arms' ``epochs: auto``, computed once from the GAN arms' wall time and kept in OUT."""
    if not any(arm.is_mle and arm.mle_epochs == "auto" for arm in protocol.arms.values()):
        return None
    file = out / MLE_EPOCHS_FILE
    if file.is_file():
        return int(json.loads(file.read_text(encoding="utf-8"))["epochs"])
    try:
        epochs, how = matched_mle_epochs(protocol, out)
    except ValueError as error:
        if dry_run:
            print(f"textgan-compare: MLE epochs are not known yet ({error})", file=sys.stderr)
            return None
        raise
    if not dry_run:
        atomic_write_text(file, json.dumps(how, indent=2) + "\n")
    print(f"textgan-compare: MLE continued for {epochs} epoch(s): {json.dumps(how)}", file=sys.stderr)
    return epochs


def command_run(protocol: Protocol, out: Path, jobs: int, dry_run: bool) -> int:
    try:
        choices = pilot_choices(protocol, out)
    except ProtocolError:
        if not dry_run:
            raise
        candidates = protocol.pilot.candidates if protocol.pilot else {}
        choices = {arm: f"<the pilot's {key}>" for arm, (key, _) in candidates.items()}
    gan = [run for run in plan_runs(protocol, out, choices) if not protocol.arms[run.arm].is_mle]
    failed = launch(gan, protocol, out, jobs, dry_run)
    if any(arm.is_mle for arm in protocol.arms.values()):
        epochs = mle_epochs(protocol, out, dry_run)
        mle = [run for run in plan_runs(protocol, out, choices, epochs) if protocol.arms[run.arm].is_mle]
        failed += launch(mle, protocol, out, jobs, dry_run)
    return 1 if failed else 0


def command_pilot(protocol: Protocol, out: Path, jobs: int, dry_run: bool) -> int:
    runs = plan_pilot(protocol, out)
    if not runs:
        print(f"textgan-compare: {protocol.path} has no pilot", file=sys.stderr)
        return 0
    if launch(runs, protocol, out, jobs, dry_run) or dry_run:
        return 0 if dry_run else 1
    choices = pilot_choice(protocol, out)
    folder = out / PILOT_FOLDER
    atomic_write_text(folder / PILOT_CHOICE, json.dumps(choices, indent=2) + "\n")
    atomic_write_text(folder / "pilot.md", pilot_markdown(choices, protocol))
    print(pilot_markdown(choices, protocol))
    return 0


def command_report(protocol: Protocol, out: Path, with_frontier: bool, device: str) -> int:
    folder = out / "report"
    choices = {}
    try:
        choices = pilot_choices(protocol, out)
    except ProtocolError:
        pass  # the rows' folders do not depend on the pilot's choice
    plan = plan_runs(protocol, out, choices)
    rows = comparison_rows(protocol, out, plan)
    extra = {}
    if (out / MLE_EPOCHS_FILE).is_file():
        extra["mle_epochs"] = json.loads((out / MLE_EPOCHS_FILE).read_text(encoding="utf-8"))
    if (out / PILOT_FOLDER / PILOT_CHOICE).is_file():
        extra["pilot"] = json.loads((out / PILOT_FOLDER / PILOT_CHOICE).read_text(encoding="utf-8"))
    atomic_write_text(folder / "comparison.md", markdown_table(rows, protocol) + _notes(extra))
    atomic_write_text(folder / "comparison.csv", csv_table(rows))
    document = {"protocol": str(protocol.path), "rows": json_rows(rows, protocol), **extra}
    atomic_write_text(folder / "comparison.json", json.dumps(document, indent=2) + "\n")
    draw_curves(protocol, plan, folder / "nll_oracle")
    if with_frontier:
        from textgan.cli.quality_diversity import plot
        from textgan.evaluation.comparison_frontier import frontier

        report = frontier(protocol, plan, folder / "frontier_points", device,
                          log=lambda line: print(f"textgan-compare: {line}", file=sys.stderr))  # fmt: skip
        atomic_write_text(folder / "frontier.json", json.dumps(report, indent=2) + "\n")
        plot(report, folder / "frontier.png")
    print(markdown_table(rows, protocol))
    print(f"textgan-compare: report in {folder.resolve()}", file=sys.stderr)
    return 0


def _notes(extra: dict) -> str:
    lines = []
    if "mle_epochs" in extra:
        how = extra["mle_epochs"]
        lines.append(
            f"MLE continued: {how['epochs']} epoch(s), the GAN runs' mean wall time "
            f"{how['gan_mean_wall_seconds']:.1f} s over {how['mle_seconds_per_epoch']:.2f} s per MLE epoch "
            f"({how['from']})."
        )
    for arm, choice in (extra.get("pilot") or {}).items():
        lines.append(f"Pilot: {arm} runs with `{choice['override']}` (lowest {choice['criterion']}).")
    return ("\n" + "\n".join(lines) + "\n") if lines else ""


def draw_curves(protocol: Protocol, plan: Sequence[PlannedRun], prefix: Path, metric: str = "nll_oracle") -> None:
    """``PREFIX.png`` / ``.md`` / ``.json``: each GAN row's mean curve with a ±1 std band (textgan-plot-runs')."""
    from textgan.cli.plot_runs import grouped_markdown_table, plot_stage
    from textgan.evaluation.comparison_frontier import curve_models

    models = curve_models(protocol, plan, metric)
    if not models:
        return
    atomic_write_text(prefix.with_suffix(".json"), json.dumps(models, indent=2) + "\n")
    atomic_write_text(prefix.with_suffix(".md"), grouped_markdown_table(models, metric))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    plot_stage(axes, {}, models, "adversarial", metric)
    figure.tight_layout()
    figure.savefig(prefix.with_suffix(".png"), dpi=120)
    plt.close(figure)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="textgan-compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("pilot", "run", "report"))
    parser.add_argument("protocol", help="a protocol file, or a name in conf/comparison (fair_oracle)")
    parser.add_argument("--out", required=True, help="the comparison's folder (runs, pilot/, report/)")
    parser.add_argument("--pretrained", help="the MLE generator every run starts from (default: the protocol's)")
    parser.add_argument("--jobs", type=int, default=1, help="pilot, run: runs side by side (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="pilot, run: print the commands, start nothing")
    parser.add_argument("--no-frontier", action="store_true", help="report: skip the temperature sweeps")
    parser.add_argument("--device", default="cpu", help="report: where the frontier's generators sample")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        protocol = load_protocol(args.protocol, args.pretrained)
        if args.command != "report" and not protocol.pretrained:
            raise ProtocolError(f"{protocol.path}: no pretrained generator: set `pretrained:` or pass --pretrained")
        if protocol.pretrained and not Path(protocol.pretrained).is_file():
            raise FileNotFoundError(f"{protocol.pretrained}: no such pretrained generator file")
        out = Path(args.out).resolve()
        if args.command == "run":
            return command_run(protocol, out, args.jobs, args.dry_run)
        if args.command == "pilot":
            return command_pilot(protocol, out, args.jobs, args.dry_run)
        return command_report(protocol, out, not args.no_frontier, args.device)
    except (ProtocolError, FileNotFoundError, ValueError) as error:
        print(f"textgan-compare: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
