"""RunCSVLogger: one metrics file per run, continued on resume, and never left half-written by a kill."""

import csv

import pytest

from textgan.training.csv_log import RunCSVLogger


def rows(logger: RunCSVLogger) -> list[dict]:
    with open(logger.experiment.metrics_file_path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_flushes_continue_the_file_and_widen_its_columns(tmp_path):
    logger = RunCSVLogger(str(tmp_path))
    logger.log_metrics({"a": 1.0}, step=0)
    logger.save()
    logger.log_metrics({"a": 2.0, "b": 3.0}, step=1)  # a new column: the file is rewritten with it
    logger.save()
    again = RunCSVLogger(str(tmp_path))  # a resumed process continues the same file
    again.log_metrics({"b": 4.0}, step=2)
    again.save()
    assert [(r["step"], r["a"], r["b"]) for r in rows(again)] == [
        ("0", "1.0", ""), ("1", "2.0", "3.0"), ("2", "", "4.0"),
    ]  # fmt: skip
    assert again.drop_after(1) == 1 and [r["step"] for r in rows(again)] == ["0", "1"]


def test_a_flush_interrupted_midway_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    logger = RunCSVLogger(str(tmp_path))
    for step in range(3):
        logger.log_metrics({"a": float(step)}, step=step)
    logger.save()
    before = rows(logger)
    logger.log_metrics({"a": 3.0, "new": 1.0}, step=3)  # Lightning rewrote the file in place for a new column

    def killed(self, rows):  # the process dies after writing part of the file
        self.writerow(next(iter(rows)))
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    with pytest.raises(KeyboardInterrupt):
        logger.save()
    monkeypatch.undo()
    assert rows(logger) == before
