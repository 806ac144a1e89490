"""A NaN loss stops the run naming the stage, the step and the quantity (nothing saved after it), or, with
``on_nonfinite=skip``, the update is skipped and counted."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.models.generator import Generator
from textgan.models.io import load_generator
from textgan.train import run
from textgan.training.nonfinite import NonFiniteError, NonFiniteGuard

pytestmark = pytest.mark.slow


def nan_generator_loss_at(monkeypatch, iteration: int) -> None:
    original = GumbelSoftmaxEstimator.generator_loss

    def generator_loss(self, generator, discriminator, real, gan_loss, step):
        out = original(self, generator, discriminator, real, gan_loss, step)
        if step == iteration:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(GumbelSoftmaxEstimator, "generator_loss", generator_loss)


def nan_mle_loss_at(monkeypatch, call: int) -> None:
    original, calls = Generator.nll, {"n": 0}

    def nll(self, tokens, mask=None):
        calls["n"] += 1
        loss = original(self, tokens, mask)
        return loss * float("nan") if calls["n"] == call else loss

    monkeypatch.setattr(Generator, "nll", nll)


def test_a_nan_generator_loss_stops_the_run_naming_it_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    nan_generator_loss_at(monkeypatch, 3)
    with pytest.raises(NonFiniteError, match=r"adversarial stage, iteration 3: non-finite generator loss = nan"):
        run(compose_config(tmp_path, "adversarial.steps=6", "adversarial.checkpoint_every=2"))
    run_dir = tmp_path / "run"
    checkpoint = torch.load(run_dir / "checkpoints" / "adversarial" / "last.ckpt", weights_only=False)
    assert checkpoint["adversarial_iteration"] == 2  # the last good state; nothing saved after the NaN
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values() if v.is_floating_point())
    assert not (run_dir / "generator.pt").exists()
    assert json.loads((run_dir / "summary.json").read_text())["finished"] is False


def test_on_nonfinite_skip_skips_and_counts_the_update(tmp_path, monkeypatch):
    nan_generator_loss_at(monkeypatch, 3)
    summary = run(compose_config(tmp_path, "adversarial.steps=6", "on_nonfinite=skip", "trainer.log_every_n_steps=1"))
    assert summary["adversarial_nonfinite_skips"] == 1
    generator = load_generator(tmp_path / "run" / "generator.pt")[0]
    assert all(torch.isfinite(p).all() for p in generator.parameters())  # the NaN never reached the weights
    skips = [float(r["adversarial/nonfinite_skips"]) for r in read_metrics(tmp_path / "run")
             if r.get("adversarial/nonfinite_skips")]  # fmt: skip
    assert skips == [0, 0, 0, 1, 1, 1]


def test_a_nan_in_mle_stops_the_run_naming_epoch_and_step(tmp_path, monkeypatch):
    nan_mle_loss_at(monkeypatch, 5)
    with pytest.raises(NonFiniteError, match=r"pretrain stage, epoch 0, step 4: non-finite nll_train = nan"):
        run(compose_config(tmp_path))
    assert not (tmp_path / "run" / "pretrained_generator.pt").exists()


def test_a_nan_in_mle_is_skipped_with_on_nonfinite_skip(tmp_path, monkeypatch):
    nan_mle_loss_at(monkeypatch, 5)
    summary = run(compose_config(tmp_path, "on_nonfinite=skip", "adversarial.steps=0"))
    assert summary["pretrain_nonfinite_skips"] == 1
    generator = load_generator(tmp_path / "run" / "pretrained_generator.pt")[0]
    assert all(torch.isfinite(p).all() for p in generator.parameters())


def test_the_guard_names_every_non_finite_quantity_and_passes_finite_ones():
    guard = NonFiniteGuard("adversarial", "stop")
    assert guard.all_finite("iteration 0", {"loss": torch.tensor(1.0), "norm": torch.tensor(3.0)})
    with pytest.raises(NonFiniteError, match=r"iteration 7: non-finite norm = inf; other = nan"):
        guard.all_finite("iteration 7", {"loss": torch.tensor(1.0), "norm": torch.tensor(math.inf),
                                         "other": torch.tensor(math.nan)})  # fmt: skip
    skipping = NonFiniteGuard("pretrain", "skip")
    assert not skipping.all_finite("step 1", {"loss": torch.tensor(-math.inf)}) and skipping.skipped == 1
    with pytest.raises(ValueError, match="on_nonfinite must be one of stop, skip, got 'ignore'"):
        NonFiniteGuard("pretrain", "ignore")
