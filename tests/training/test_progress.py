"""The stage bars as a person sees them in a terminal: named from their first frame, log lines on lines of
their own, and a clock that counts training, not the evaluations run between its steps."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from textgan.evaluation.protocol import EvaluationResult
from textgan.training import callbacks
from textgan.training.callbacks import EvaluationCallback
from textgan.training.progress import StageProgressBar

EVALUATION_SECONDS = 0.5


def screen(output: str) -> list[str]:
    """The lines a terminal shows for ``output``: a carriage return moves back to the line's start and what
    follows overwrites it (how tqdm redraws a bar); a newline starts the next line."""
    lines, line, column = [], [], 0
    for char in output:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        else:
            line[column : column + 1] = [char] if column < len(line) else [" "] * (column - len(line)) + [char]
            column += 1
    return [*lines, "".join(line).rstrip()]


class Pretraining(L.LightningModule):
    """Stands in for the MLE module: epochs of batches, evaluated after each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = nn.Linear(2, 1)

    @property
    def phase_step(self) -> int:
        return self.current_epoch

    @property
    def log_step(self) -> int:
        return self.global_step

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        logging.getLogger("textgan.test").info("training step %d of epoch %d", batch_idx, self.current_epoch)
        return self.generator(batch).square().mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.ones(6, 2), batch_size=1)


class Adversarial(Pretraining):
    """Stands in for the adversarial module: ``iteration`` out of ``num_iterations``, evaluated every 2."""

    def __init__(self, num_iterations: int = 6) -> None:
        super().__init__()
        self.num_iterations, self.iteration = num_iterations, 0

    @property
    def phase_step(self) -> int:
        return self.iteration

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.iteration += 1
        if self.iteration >= self.num_iterations:
            self.trainer.should_stop = True
        return loss


@contextlib.contextmanager
def console_log() -> Iterator[None]:
    """The run's console log handler (``%(message)s``) on the stdout the bars write to, as under Hydra."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def slow_evaluation(monkeypatch):
    """Every evaluation takes EVALUATION_SECONDS and scores nothing."""

    def evaluate_generator(*args, **kwargs) -> EvaluationResult:
        time.sleep(EVALUATION_SECONDS)
        return EvaluationResult(metrics={"nll": 1.0}, samples=torch.zeros(1, 2, dtype=torch.long))

    monkeypatch.setattr(callbacks, "evaluate_generator", evaluate_generator)


class Texts:
    """Stands in for the DataModule: decodes a sample to a word."""

    def decode(self, rows: torch.Tensor) -> list[str]:
        return ["sample"] * len(rows)


def fit(module: L.LightningModule, every: int, **options) -> StageProgressBar:
    bar = StageProgressBar()
    evaluation = EvaluationCallback(Texts(), prefix="stage/eval", every=every, num_logged_samples=0)
    trainer = L.Trainer(
        callbacks=[bar, evaluation], logger=False, enable_checkpointing=False, enable_model_summary=False,
        accelerator="cpu", devices=1, **options,
    )  # fmt: skip
    with console_log():
        trainer.fit(module)
    return bar


def bar_frames(output: str) -> list[str]:
    """Every frame a bar drew (tqdm draws each after a carriage return), in order."""
    return [frame for line in output.split("\n") for frame in line.split("\r") if re.search(r"it/s|s/it", frame)]


def bar_lines(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{name}:")]


def test_the_mle_bar_is_named_by_epoch_from_its_first_frame_and_no_unnamed_bar_opens(capsys, slow_evaluation):
    fit(Pretraining(), every=1, max_epochs=2)
    output = capsys.readouterr().out
    frames = bar_frames(output)
    assert frames and all(frame.startswith(("pretrain epoch 1/2:", "pretrain epoch 2/2:")) for frame in frames)
    assert "Training" not in output and "0/?" not in output
    assert bar_lines(screen(output), "pretrain epoch 2/2")[-1].split("|")[0].strip().endswith("100%")


def test_the_adversarial_bar_counts_iterations_out_of_the_total_from_its_first_frame(capsys, slow_evaluation):
    fit(Adversarial(num_iterations=4), every=2, max_epochs=-1)
    output = capsys.readouterr().out
    assert all(frame.startswith("adversarial:") for frame in bar_frames(output)) and "Training" not in output
    assert bar_frames(output)[0].startswith("adversarial:   0%") and "0/4" in bar_frames(output)[0]
    assert "4/4" in bar_lines(screen(output), "adversarial")[-1]


def test_log_lines_print_on_lines_of_their_own_above_the_bar(capsys, slow_evaluation):
    fit(Pretraining(), every=1, max_epochs=2)
    lines = screen(capsys.readouterr().out)
    messages = [f"training step {batch} of epoch {epoch}" for epoch in range(2) for batch in range(6)]
    messages += ["stage/eval at step 1: scoring 10000 samples ...", "`Trainer.fit` stopped: `max_epochs=2` reached."]
    for message in messages:
        assert message in lines, (message, [line for line in lines if message in line])
    for line in lines:  # a bar's line holds the bar alone
        assert not (line.startswith("pretrain epoch") and ("training step" in line or "stage/eval" in line)), line


@pytest.mark.parametrize("module, every, options", [
    (Pretraining(), 1, {"max_epochs": 1}), (Adversarial(num_iterations=6), 2, {"max_epochs": -1}),
], ids=["mle", "adversarial"])  # fmt: skip
def test_evaluations_do_not_count_into_the_bar_s_time_and_rate(capsys, slow_evaluation, module, every, options):
    """Each evaluation sleeps 0.5 s; six fast steps counted with it would run at most 6 / 0.5 = 12 it/s."""
    fit(module, every=every, **options)
    lines = screen(capsys.readouterr().out)
    name = "adversarial" if isinstance(module, Adversarial) else "pretrain epoch 1/1"
    last = bar_lines(lines, name)[-1]
    rate = re.search(r"([\d.]+)(it/s|s/it)", last)
    assert rate and rate.group(2) == "it/s" and float(rate.group(1)) > 30, last
