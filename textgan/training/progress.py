"""What a person watching a run sees: a progress bar per stage that says which stage and how far it has to go.

``pretrain epoch 3/150: 40/157`` during MLE; ``adversarial: 1320/3000`` during adversarial training (the
iteration count, resumed runs included). Each stage opens its bar named and sized (Lightning's own opens an
unnamed ``Training: 0/?`` bar first). While a bar is open, the console's log lines are written above it
(:class:`_AboveTheBar`), never glued onto its line. An evaluation or a checkpoint save pauses the bar
(:meth:`StageProgressBar.paused`): the bar says what is happening, and its clock and it/s count training only;
the evaluation reports itself in the run's log (see :class:`textgan.training.callbacks.EvaluationCallback`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm, convert_inf
from tqdm import tqdm


class _AboveTheBar:
    """A console stream whose writes clear the open bars, print, and redraw them (``tqdm.write``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        tqdm.write(text, file=self.stream, end="")

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, ...: the stream's own
        return getattr(self.stream, name)


@contextlib.contextmanager
def logging_above_bars(logger: logging.Logger | None = None) -> Iterator[None]:
    """Route ``logger``'s (default: root's) console handlers, those writing to stdout or stderr, through
    ``tqdm.write`` for the duration; their level, filters and format stay, file handlers are left alone."""
    consoles = [
        handler
        for handler in (logger or logging.getLogger()).handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and handler.stream in (sys.stdout, sys.stderr)
    ]
    originals = [handler.setStream(_AboveTheBar(handler.stream)) for handler in consoles]
    try:
        yield
    finally:
        for handler, stream in zip(consoles, originals, strict=True):
            handler.setStream(stream)


class StageProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, named by stage; the adversarial bar counts iterations out of the run's total.

    Put it first in the Trainer's callbacks: it then counts a batch before the evaluation of that batch runs,
    and closes before the stage's last evaluation and checkpoint report.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._console = contextlib.ExitStack()

    @staticmethod
    def _adversarial(pl_module: L.LightningModule) -> bool:
        return hasattr(pl_module, "num_iterations")

    @staticmethod
    def _stage(trainer: L.Trainer, pl_module: L.LightningModule) -> tuple[str, int | float | None, int]:
        """The bar's name, total and starting count for the stage ``trainer`` runs."""
        if StageProgressBar._adversarial(pl_module):
            return "adversarial", pl_module.num_iterations, pl_module.iteration
        return f"pretrain epoch {trainer.current_epoch + 1}/{trainer.max_epochs}", None, 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # no bar yet: the stage's bar opens at the epoch's start, when its name and total are known
        if self.is_enabled:
            self._console.enter_context(logging_above_bars())

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        # Lightning skips on_train_epoch_start when it resumes mid-epoch (every resumed adversarial stage)
        if self._train_progress_bar is None:
            self.on_train_epoch_start(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._train_progress_bar is None:  # an epoch resumed after its last batch: nothing was shown
            self.on_train_epoch_start(trainer)
        super().on_train_epoch_end(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        pl_module = trainer.lightning_module
        name, total, start = self._stage(trainer, pl_module)
        total = convert_inf(self.total_train_batches) if total is None else total
        bar = self._train_progress_bar
        if bar is None or self._leave:
            self.train_progress_bar = Tqdm(
                desc=name,
                total=total,
                initial=start,
                position=2 * self.process_position,
                disable=self.is_disabled,
                leave=True,
                dynamic_ncols=True,
                file=sys.stdout,
                smoothing=0,
                bar_format=self.BAR_FORMAT,
            )
            return
        bar.set_description(name, refresh=False)
        bar.reset(total=total)  # the next epoch of MLE: the same bar, counted from zero
        bar.initial = bar.n = start

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._adversarial(pl_module):
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        bar = self._train_progress_bar
        if bar is not None and not bar.disable and self._should_update(pl_module.iteration, bar.total):
            bar.n = pl_module.iteration
            bar.set_postfix(self.get_metrics(trainer, pl_module))
            bar.refresh()

    def on_train_end(self, *args: Any) -> None:
        if self._train_progress_bar is not None:
            self._train_progress_bar.close()
        self._console.close()

    def on_exception(self, *args: Any) -> None:  # e.g. a NaN: its message starts a line below the bar
        self.on_train_end()

    @contextlib.contextmanager
    def paused(self, doing: str) -> Iterator[None]:
        """The open bar says ``doing`` and stops its clock meanwhile: elapsed time and it/s count training only."""
        bar = self._train_progress_bar
        if bar is None or bar.disable:
            yield
            return
        postfix, elapsed = bar.postfix, bar.format_dict["elapsed"]
        bar.set_postfix_str(doing)
        try:
            yield
        finally:
            paused_for = bar.format_dict["elapsed"] - elapsed
            bar.start_t += paused_for
            bar.last_print_t += paused_for
            bar.postfix = postfix
            bar.refresh()

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the logger's version number says nothing to a person watching
        return metrics


def paused(trainer: L.Trainer, doing: str) -> contextlib.AbstractContextManager:
    """``trainer``'s stage bar paused while ``doing`` (see :meth:`StageProgressBar.paused`); else nothing."""
    bar = trainer.progress_bar_callback
    return bar.paused(doing) if isinstance(bar, StageProgressBar) else contextlib.nullcontext()
