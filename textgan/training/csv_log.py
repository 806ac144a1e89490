"""A CSV metrics logger that keeps one ``metrics.csv`` per run, continued (not replaced) by a resumed run.

Lightning's ``CSVLogger`` starts a new ``version_N`` folder per process, or with a fixed version deletes the
existing file. :class:`RunCSVLogger` writes ``{save_dir}/{name}/version_0/metrics.csv`` and appends to it;
:meth:`RunCSVLogger.drop_after` first removes the rows a killed process logged after its last checkpoint,
so a resumed run's file equals an uninterrupted run's row for row. :func:`with_run_csv` gives every run one,
whatever ``logger=`` chose: the per-step adversarial losses are then in plain text beside wandb's binary files.
"""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from textgan.atomic_files import atomic_write


def _write_rows(path: str, fields: list[str], rows: list[dict]) -> None:
    """Replace ``path`` by a CSV of ``rows`` under ``fields``, atomically: a process killed while writing
    leaves the previous file whole (Lightning's writer appends, or rewrites the file in place when a new
    column appears, and a kill there lost rows that a checkpoint had already counted)."""

    def write(tmp) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def _read_rows(path: str) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


class _ContinuingWriter(ExperimentWriter):
    """Continues an existing ``metrics.csv`` (keeping its columns) instead of deleting it; every flush replaces
    the file atomically."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                header = next(csv.reader(handle), [])
            self.metrics_keys = sorted(set(header))

    def save(self) -> None:
        if not self.metrics:
            return
        self._record_new_keys()
        rows = _read_rows(self.metrics_file_path)[1] if os.path.isfile(self.metrics_file_path) else []
        _write_rows(self.metrics_file_path, self.metrics_keys, rows + self.metrics)
        self.metrics = []


class RunCSVLogger(CSVLogger):
    """``CSVLogger`` with one continued file per run (see the module docstring)."""

    def __init__(self, save_dir: str, name: str = "csv", flush_logs_every_n_steps: int = 100) -> None:
        super().__init__(save_dir, name=name, version=0, flush_logs_every_n_steps=flush_logs_every_n_steps)

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment

    def drop_after(self, step: int) -> int:
        """Remove the rows logged at a global step after ``step``; returns how many were removed."""
        path = os.path.join(self.log_dir, ExperimentWriter.NAME_METRICS_FILE)
        if not os.path.isfile(path):
            return 0
        fields, rows = _read_rows(path)
        kept = [row for row in rows if int(float(row["step"])) <= step]
        if len(kept) < len(rows):
            _write_rows(path, fields, kept)
        return len(rows) - len(kept)


def with_run_csv(loggers: list[Logger], save_dir: str) -> list[Logger]:
    """``loggers`` plus a :class:`RunCSVLogger` in ``{save_dir}/csv`` unless one of them writes CSV already
    (``logger=csv`` / ``wandb_csv``): every run keeps its metrics in ``csv/version_0/metrics.csv``, once."""
    if any(isinstance(logger, CSVLogger) for logger in loggers):
        return loggers
    return [*loggers, RunCSVLogger(save_dir)]
