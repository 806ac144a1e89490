"""The training's evaluation callback with a class-conditional generator on labelled data: equal samples per
class, per-class metrics logged, samples written with their class."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from conditional_fakes import FakeConditionalGenerator

from textgan.data.k_oracle_datamodule import KOracleDataModule
from textgan.training.callbacks import EvaluationCallback


class RecordingLogger:
    def __init__(self) -> None:
        self.logged: list[dict[str, float]] = []

    def log_metrics(self, metrics, step):
        self.logged.append(dict(metrics))


def test_the_callback_scores_a_conditional_generator_per_class(tmp_path):
    data = KOracleDataModule(
        num_classes=2, vocab_size=20, embedding_dim=4, hidden_dim=4, max_length=6, train_per_class=12,
        test_per_class=4, cache_dir=str(tmp_path / "cache"), bleu_orders=(2,),
    )  # fmt: skip
    data.setup()
    rows = {c: data.train_tokens[data.train_labels == c] for c in (0, 1)}
    fake = FakeConditionalGenerator(rows)
    logger = RecordingLogger()
    trainer = SimpleNamespace(
        is_global_zero=True, world_size=1, loggers=[logger], progress_bar_callback=None, global_rank=0
    )
    module = SimpleNamespace(generator=fake, phase_step=3, log_step=7, device=torch.device("cpu"))
    callback = EvaluationCallback(
        data, "stage/eval", num_samples=8, num_logged_samples=4, samples_dir=tmp_path / "samples", seed=0
    )
    metrics = callback.evaluate(trainer, module)
    assert fake.asked[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    expected = data.nll_oracle(torch.cat([rows[0][:4], rows[1][:4]]), fake.asked[0])
    assert metrics["nll_oracle"] == pytest.approx(expected, rel=1e-6)
    assert {"stage/eval/class_accuracy", "stage/eval/bleu2/class1", "stage/eval/self_bleu2/class0"} <= set(
        logger.logged[0]
    )
    written = (tmp_path / "samples" / "stage_eval_000003.txt").read_text().splitlines()
    decoded = data.decode(torch.stack([rows[0][0], rows[1][0], rows[0][1], rows[1][1]]))
    assert written == [f"class{c}\t{text}" for c, text in zip([0, 1, 0, 1], decoded, strict=True)]
