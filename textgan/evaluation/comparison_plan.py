"""The runs a comparison protocol stands for, their folders and the ``textgan-train`` overrides that start them.

``plan_runs`` turns a protocol (``textgan.evaluation.comparison``) into ``PlannedRun``s, one per arm x schedule x
seed: a relaxed arm runs once under each of its schedules, by overriding ``estimator.schedule.*``, so that every
relaxed estimator trains at the same temperatures; other arms run once. Each run has its folder
``OUT/<arm>[-<schedule>]/seed<S>``; ``run_state`` says whether a folder is new, unfinished (resume it) or finished
(skip it), and ``launch_words`` what to pass ``textgan-train``. ``plan_pilot`` does the same for the pilot's
candidates, ``OUT/pilot/<arm>/<value>/seed<S>``, and ``pilot_choices`` reads what the pilot chose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgan.evaluation.comparison import Arm, Protocol, ProtocolError

PILOT_FOLDER = "pilot"
PILOT_CHOICE = "choice.json"


@dataclass(frozen=True)
class PlannedRun:
    """One run of the comparison: arm, schedule (None without one), seed, its folder and its overrides."""

    arm: str
    schedule: str | None
    seed: int
    folder: Path
    overrides: tuple[str, ...] = field(default=(), compare=False)

    @property
    def group(self) -> str:
        """The row it belongs to: ``<arm>`` or ``<arm>-<schedule>`` (its folder's parent's name)."""
        return self.folder.parent.name


# ------------------------------------------------------------------------------------------------ planning
def override_value(value: Any) -> str:
    """A value as a Hydra override writes it: ``null``, ``true``, numbers, plain words as they are (``exp``,
    ``no``), any other string quoted (one that would read as a bool, null or number, or holds punctuation)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in ("true", "false", "null", "nan", "inf"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def choice_override(key: str, value: Any) -> str:
    """``key=value`` for a pilot candidate; a config group (``estimator/baseline``) takes its choice unquoted."""
    return f"{key}={value}" if "/" in key else f"{key}={override_value(value)}"


def candidate_folder(value: Any) -> str:
    """A pilot candidate's folder name: its value, made a safe file name."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(value))


def pilot_choices(protocol: Protocol, out: str | Path) -> dict[str, str]:
    """arm -> the override the pilot chose (``OUT/pilot/choice.json``); raises when the protocol has a pilot for
    arms the file does not cover yet (run ``textgan-compare pilot`` first)."""
    if protocol.pilot is None or not protocol.pilot.candidates:
        return {}
    file = Path(out) / PILOT_FOLDER / PILOT_CHOICE
    chosen = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
    missing = [arm for arm in protocol.pilot.candidates if arm not in chosen]
    if missing:
        raise ProtocolError(
            f"{protocol.path}: the pilot chooses settings of {', '.join(missing)}, and {file} has no choice for "
            "them yet: run `textgan-compare pilot` first"
        )
    return {arm: str(chosen[arm]["override"]) for arm in protocol.pilot.candidates}


def _common(protocol: Protocol, seed: int, folder: Path) -> list[str]:
    pretrained = Path(protocol.pretrained).resolve() if protocol.pretrained else "<pretrained>"
    return [
        f"generator.pretrained={pretrained}",
        f"seed={seed}",
        f"evaluation.num_samples={protocol.num_samples}",
        f"threads={protocol.threads}",
        "logger=csv",
        f"hydra.run.dir={folder}",
    ]


def adversarial_overrides(
    protocol: Protocol, arm: Arm, schedule: str | None, seed: int, folder: Path, steps: int, eval_every: int,
    extra: Sequence[str] = (),
) -> list[str]:  # fmt: skip
    """The ``textgan-train`` overrides of one GAN run (a new one; an unfinished one is resumed instead)."""
    words = [*protocol.overrides, f"estimator={arm.estimator}", *arm.overrides]
    if schedule is not None:
        words += [f"estimator.schedule.{k}={override_value(v)}" for k, v in protocol.schedules[schedule].items()]
    words += [*extra, *_common(protocol, seed, folder)]
    return words + [f"adversarial.steps={steps}", f"adversarial.eval_every={eval_every}"]


def mle_overrides(protocol: Protocol, arm: Arm, seed: int, folder: Path, epochs: int) -> list[str]:
    """The overrides of one MLE-continued run: ``epochs`` more MLE epochs from the pretrained generator."""
    words = [*protocol.overrides, *arm.overrides, *_common(protocol, seed, folder)]
    return words + [
        "pretrain.continue_from_pretrained=true",
        f"pretrain.epochs={epochs}",
        f"pretrain.eval_every={epochs}",
        "adversarial.steps=0",
    ]


def plan_runs(
    protocol: Protocol, out: str | Path, choices: Mapping[str, str] | None = None, mle_epochs: int | None = None
) -> list[PlannedRun]:
    """Every run of the comparison, GAN arms first (in the file's order, schedule by schedule, seed by seed),
    then the MLE arms (whose ``auto`` epochs need the GAN arms' wall time: ``mle_epochs``, or a placeholder
    ``<auto>`` in their overrides until it is known). ``choices``: the pilot's (``pilot_choices``)."""
    out = Path(out).resolve()
    choices = choices or {}
    runs, mle_runs = [], []
    for arm in protocol.arms.values():
        for schedule in arm.schedules or (None,):
            group = arm.name if schedule is None else f"{arm.name}-{schedule}"
            for seed in protocol.seeds:
                folder = out / group / f"seed{seed}"
                if arm.is_mle:
                    epochs = arm.mle_epochs if arm.mle_epochs != "auto" else mle_epochs
                    words = mle_overrides(protocol, arm, seed, folder, epochs if epochs is not None else "<auto>")
                    mle_runs.append(PlannedRun(arm.name, None, seed, folder, tuple(words)))
                    continue
                extra = [choices[arm.name]] if arm.name in choices else []
                words = adversarial_overrides(
                    protocol, arm, schedule, seed, folder, protocol.steps, protocol.eval_every, extra
                )
                runs.append(PlannedRun(arm.name, schedule, seed, folder, tuple(words)))
    return runs + mle_runs


def plan_pilot(protocol: Protocol, out: str | Path) -> list[PlannedRun]:
    """The pilot's runs: per arm with candidates, per value and pilot seed, ``pilot.steps`` iterations with
    gradient diagnostics every ``pilot.diagnostics_every`` (the first schedule for a relaxed arm)."""
    if protocol.pilot is None:
        return []
    pilot, out = protocol.pilot, Path(out).resolve()
    runs = []
    for name, (key, values) in pilot.candidates.items():
        arm = protocol.arms[name]
        schedule = arm.schedules[0] if arm.schedules else None
        for value in values:
            for seed in pilot.seeds:
                folder = out / PILOT_FOLDER / name / candidate_folder(value) / f"seed{seed}"
                extra = [choice_override(key, value), f"diagnostics.every={pilot.diagnostics_every}"]
                words = adversarial_overrides(protocol, arm, schedule, seed, folder, pilot.steps, pilot.steps, extra)
                runs.append(PlannedRun(name, schedule, seed, folder, tuple(words)))
    return runs


def run_state(folder: str | Path) -> str:
    """``finished`` (its summary says so), ``unfinished`` (started: it has a ``config.yaml``) or ``new``."""
    folder = Path(folder)
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            if json.loads(summary.read_text(encoding="utf-8")).get("finished"):
                return "finished"
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            pass
    return "unfinished" if (folder / "config.yaml").is_file() else "new"


def launch_words(run: PlannedRun) -> list[str] | None:
    """What to pass ``textgan-train`` for a run: its overrides when new, ``resume=FOLDER`` when unfinished,
    None when finished (nothing to do)."""
    state = run_state(run.folder)
    if state == "finished":
        return None
    return [f"resume={run.folder}"] if state == "unfinished" else list(run.overrides)
