"""What a wandb run receives at every evaluation: the metrics, a table of samples and the curves as an image."""

from __future__ import annotations

import json

from hydra_compose import compose_config, read_metrics

from textgan.evaluation.plots import history_figure, metric_families
from textgan.train import run


def test_every_evaluation_logs_a_samples_table_and_a_curves_image(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run(compose_config(tmp_path, "adversarial.steps=4", "adversarial.eval_every=2", "logger=wandb"))
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    evaluations = len(summary["pretrain_history"]) + len(summary["adversarial_history"])
    assert len(summary["adversarial_history"]) == 3  # iterations 0, 2 and 4
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    media = offline / "files" / "media"
    images = sorted(media.glob("images/**/*.png"))
    tables = sorted(media.glob("table/**/*.table.json"))
    assert len(images) == evaluations, [path.name for path in images]
    assert len(tables) == evaluations
    assert sum(path.relative_to(media).parts[1] == "adversarial" for path in images) == 3
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in images)
    # beside wandb's binary files, the run keeps its metrics as CSV: the per-step adversarial losses included
    rows = read_metrics(run_dir)
    losses = [row for row in rows if row.get("adversarial/g_loss")]
    assert [row["adversarial/iteration"] for row in losses] == ["1.0", "2.0", "3.0", "4.0"]
    assert all(row["adversarial/d_loss"] for row in losses)


def test_the_curves_figure_groups_metrics_into_families():
    history = [
        {"step": 0, "bleu2": 0.5, "self_bleu2": 0.6, "nll_gen": 3.0, "lm_score": 4.0, "mauve": 0.5},
        {"step": 2, "bleu2": 0.6, "self_bleu2": 0.7, "nll_gen": 2.5, "lm_score": 3.5, "mauve": 0.6},
    ]
    names = [key for key in history[0] if key != "step"]
    assert metric_families(names) == [
        ("BLEU-n (quality)", ["bleu2"]),
        ("Self-BLEU-n (lower is more diverse)", ["self_bleu2"]),
        ("NLL (nats per token)", ["lm_score", "nll_gen"]),
        ("MAUVE / FED", ["mauve"]),
    ]
    figure = history_figure(history, "adversarial/eval")
    assert len(figure.axes) == 4
    assert [line.get_label() for line in figure.axes[2].get_lines()] == ["lm_score", "nll_gen"]
    assert list(figure.axes[0].get_lines()[0].get_xdata()) == [0, 2]
    oracle = history_figure([{"step": 0, "nll_oracle": 9.0}], "x")
    assert len(oracle.axes) == 1


def test_each_run_closes_its_wandb_run(tmp_path, monkeypatch):
    """Two runs in one process (a multirun on Hydra's basic launcher) log into two wandb runs, not one."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("first", "second"):
        run(compose_config(tmp_path / name, "adversarial.steps=1", "logger=wandb"))
        assert wandb.run is None  # closed when the run ended
    for name in ("first", "second"):
        assert len(list((tmp_path / name / "run" / "wandb").glob("offline-run-*"))) == 1
