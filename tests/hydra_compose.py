"""Helpers of the end-to-end tests: compose ``conf/train.yaml`` at debug size, read a run's CSV metrics."""

import csv
from pathlib import Path

from hydra import compose, initialize_config_dir

from textgan.train import CONF_DIR

# every choice of the config groups the preset tests combine
EXPERIMENTS = sorted(path.stem for path in (CONF_DIR / "experiment").glob("*.yaml"))
ESTIMATORS = sorted(path.stem for path in (CONF_DIR / "estimator").glob("*.yaml"))
BASELINES = sorted(path.stem for path in (CONF_DIR / "estimator" / "baseline").glob("*.yaml"))
LOGGERS = sorted(path.stem for path in (CONF_DIR / "logger").glob("*.yaml"))
LOSSES = sorted(path.stem for path in (CONF_DIR / "loss").glob("*.yaml"))
TRAINERS = sorted(path.stem for path in (CONF_DIR / "trainer").glob("*.yaml"))


def compose_train(tmp_path: Path, *overrides: str):
    """``conf/train.yaml`` composed with ``overrides``, its run and cache folders under ``tmp_path``."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            "train",
            overrides=[f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}", *overrides],
        )


def compose_config(tmp_path: Path, *overrides: str):
    """``compose_train`` at debug size (``debug=default``)."""
    return compose_train(tmp_path, "debug=default", *overrides)


def read_metrics(run_dir: Path) -> list[dict]:
    """The CSV logger's rows, where ``conf/logger/csv.yaml`` puts them: ``{run}/csv/version_N/metrics.csv``."""
    rows = []
    for path in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with path.open() as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def resume(run_dir: Path, *overrides: str, tmp_path: Path | None = None):
    """``textgan-train resume=RUN_DIR [overrides]`` as a user types it: the run's saved config is used."""
    from textgan.train import run

    command_line = [f"resume={run_dir}", *overrides]
    return run(compose_config(tmp_path or run_dir.parent, *command_line), command_line)
