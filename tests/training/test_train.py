"""End-to-end runs through Hydra's compose API: pretraining + adversarial training, resume, determinism."""

import json

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.models.io import load_generator, save_generator
from textgan.train import run

pytestmark = pytest.mark.slow


def test_tiny_pretrain_and_adversarial_run_writes_its_metrics(tmp_path):
    summary = run(compose_config(tmp_path))
    run_dir = tmp_path / "run"
    assert (run_dir / "pretrained_generator.pt").is_file()
    assert (run_dir / "generator.pt").is_file()
    assert (run_dir / "checkpoints" / "adversarial" / "last.ckpt").is_file()
    rows = read_metrics(run_dir)
    logged = {key for row in rows for key, value in row.items() if value not in ("", None)}
    for key in ("pretrain/nll_train", "pretrain/eval/nll_oracle", "pretrain/eval/nll_gen",
                "adversarial/g_loss", "adversarial/d_loss", "adversarial/beta", "adversarial/eval/nll_oracle"):
        assert key in logged, key
    betas = [float(r["adversarial/beta"]) for r in rows if r.get("adversarial/beta")]
    assert betas[0] == pytest.approx(1.0) and betas == sorted(betas) and betas[-1] > 1.0
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["after_pretraining"]["nll_oracle"] == pytest.approx(summary["after_pretraining"]["nll_oracle"])
    # after a real MLE epoch the generator beats uniform guessing on the oracle's data (log 50 = 3.9 nats)
    assert saved["after_pretraining"]["nll_gen"] < 3.9
    assert saved["after_adversarial"]["step"] == 4
    assert list((run_dir / "samples").glob("adversarial_eval_*.txt"))
    # the cost of an iteration leaves the evaluations (before, every eval_every, after) out of the stage's time
    evaluating, training = saved["adversarial_evaluation_seconds"], saved["adversarial_seconds"]
    assert 0 < evaluating < training
    assert saved["seconds_per_iteration"] == pytest.approx((training - evaluating) / 4)


def test_a_bf16_mixed_run_clips_its_gradients_in_both_stages(tmp_path):
    """Lightning's AMP plugin clips the fused Adam's gradients (it refuses torch's fused optimisers)."""
    summary = run(compose_config(tmp_path, "trainer.precision=bf16-mixed", "bf16_products=emulated"))
    pretrained, _ = load_generator(tmp_path / "run" / "pretrained_generator.pt")
    trained, _ = load_generator(tmp_path / "run" / "generator.pt")
    assert summary["after_adversarial"]["step"] == 4
    assert torch.isfinite(torch.tensor(summary["after_adversarial"]["nll_oracle"]))
    assert not torch.equal(pretrained.output.weight, trained.output.weight)


def test_same_seed_same_result(tmp_path):
    straight = tmp_path / "straight"
    run(compose_config(straight, "adversarial.steps=4"))
    again = tmp_path / "again"
    run(compose_config(again, "adversarial.steps=4"))
    first, _ = load_generator(straight / "run" / "generator.pt")
    second, _ = load_generator(again / "run" / "generator.pt")
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_adversarial_training_starts_from_a_shared_pretrained_generator(tmp_path):
    base = tmp_path / "base"
    run(compose_config(base, "adversarial.steps=0"))
    pretrained = base / "run" / "pretrained_generator.pt"
    summary = run(compose_config(tmp_path / "from_pretrained", f"generator.pretrained={pretrained}"))
    assert summary["pretrained_from"] == str(pretrained)
    assert "after_pretraining" not in summary
    start = summary["adversarial_history"][0]
    assert start["step"] == 0
    # the run's first evaluation is the pretrained generator's, whatever this run's own seed-driven init was
    generator, _ = load_generator(pretrained)
    assert start["nll_gen"] == pytest.approx(
        json.loads((base / "run" / "summary.json").read_text())["after_pretraining"]["nll_gen"], abs=1e-6
    )
    del generator


def test_pretrained_generator_with_another_vocabulary_is_refused(tmp_path):
    from textgan.models.rmc import RMCGenerator

    build = {"_target_": "textgan.models.rmc.RMCGenerator", "vocab_size": 7, "max_length": 8,
             "embedding_dim": 8, "head_size": 8, "num_heads": 2}
    path = tmp_path / "other.pt"
    save_generator(path, RMCGenerator(**{k: v for k, v in build.items() if k != "_target_"}), build,
                   {"vocab_size": 7, "max_length": 8})
    with pytest.raises(ValueError, match="other.pt has a vocabulary of 7 ids.* has 50"):
        run(compose_config(tmp_path, f"generator.pretrained={path}"))


def test_pretrained_generator_with_the_same_size_but_another_vocabulary_is_refused(tmp_path):
    """The vocabulary's fingerprint is compared, not only its size: same-size vocabularies of other data differ."""
    base = tmp_path / "base"
    run(compose_config(base, "adversarial.steps=0"))
    generator, metadata = load_generator(base / "run" / "pretrained_generator.pt")
    forged = tmp_path / "forged.pt"
    build = {"_target_": "textgan.models.rmc.RMCGenerator", "vocab_size": 50, "max_length": 8,
             "embedding_dim": 8, "head_size": 8, "num_heads": 2}
    save_generator(forged, generator, build, {**metadata, "vocab_fingerprint": "sha256:0123456789abcdef"})
    with pytest.raises(ValueError, match="vocabulary mismatch.*forged.pt"):
        run(compose_config(tmp_path / "other", f"generator.pretrained={forged}"))


def test_a_new_run_refuses_a_folder_that_holds_another_run(tmp_path):
    run(compose_config(tmp_path, "adversarial.steps=2"))
    before = (tmp_path / "run" / "generator.pt").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a run.*resume="):
        run(compose_config(tmp_path, "adversarial.steps=2", "estimator.schedule.beta_max=1000"))
    assert (tmp_path / "run" / "generator.pt").read_bytes() == before  # nothing of the first run was touched
    with pytest.raises(FileNotFoundError, match="resume=.*no run to continue"):
        run(compose_config(tmp_path / "fresh", f"resume={tmp_path / 'nothing'}"))


def test_stages_log_on_one_monotone_global_step_where_the_csv_config_says(tmp_path):
    run(compose_config(tmp_path, "adversarial.steps=4", "trainer.log_every_n_steps=1"))
    rows = read_metrics(tmp_path / "run")  # {run}/csv/metrics.csv, as conf/logger/csv.yaml says
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(steps)
    pretrain = [int(r["step"]) for r in rows if r.get("pretrain/nll_train") or r.get("pretrain/eval/nll_oracle")]
    adversarial = [int(r["step"]) for r in rows if r.get("adversarial/g_loss") or r.get("adversarial/eval/nll_oracle")]
    assert max(pretrain) <= min(adversarial)
    batches = 256 // 16  # debug: 256 training sentences, batch 16, one MLE epoch
    iterations = [int(float(r["adversarial/iteration"])) for r in rows if r.get("adversarial/iteration")]
    assert iterations == [1, 2, 3, 4]
    assert [int(r["step"]) for r in rows if r.get("adversarial/iteration")] == [batches + i for i in iterations]
    evaluations = [r for r in rows if r.get("pretrain/eval/nll_oracle")]
    assert [int(float(r["pretrain/eval/step"])) for r in evaluations] == [0, 1]  # before and after the epoch


def test_discriminator_steps_zero_trains_the_generator_alone(tmp_path):
    summary = run(compose_config(tmp_path, "adversarial.steps=2", "adversarial.module.discriminator_steps=0"))
    assert summary["after_adversarial"]["step"] == 2
    logged = {key for row in read_metrics(tmp_path / "run") for key, value in row.items() if value}
    assert "adversarial/g_loss" in logged and "adversarial/d_loss" not in logged


def test_gradient_diagnostics_are_logged_and_change_nothing_else(tmp_path):
    horizon = "estimator.schedule.horizon=10"
    plain = run(compose_config(tmp_path / "plain", "adversarial.steps=3", horizon))
    diagnosed = run(compose_config(tmp_path / "diagnosed", "adversarial.steps=3", horizon, "diagnostics.every=1"))
    rows = read_metrics(tmp_path / "diagnosed" / "run")
    cosines = [float(r["adversarial/diagnostics/gradient_cosine"]) for r in rows
               if r.get("adversarial/diagnostics/gradient_cosine")]
    norms = [float(r["adversarial/diagnostics/gradient_norm"]) for r in rows
             if r.get("adversarial/diagnostics/gradient_norm")]
    assert len(cosines) == len(norms) == 3
    assert all(-1.0 <= c < 1.0 for c in cosines) and all(n > 0 for n in norms)  # two different estimates
    assert diagnosed["after_adversarial"] == plain["after_adversarial"]  # the training's random stream is untouched
    first = load_generator(tmp_path / "plain" / "run" / "generator.pt")[0].state_dict()
    second = load_generator(tmp_path / "diagnosed" / "run" / "generator.pt")[0].state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_gradient_diagnostics_are_logged_where_the_log_period_skips_their_iteration(tmp_path):
    # diagnosed at iterations 0, 3, 6 (counted before the step), logged after the step every 4: at 4 and 8 only
    overrides = ["adversarial.steps=8", "diagnostics.every=3", "trainer.log_every_n_steps=4"]
    run(compose_config(tmp_path, *overrides))
    rows = read_metrics(tmp_path / "run")
    diagnosed = [int(float(r["adversarial/iteration"])) for r in rows if r.get("adversarial/diagnostics/gradient_norm")]
    assert diagnosed == [1, 4, 7]  # the iteration count after each diagnosed step
    logged = [int(float(r["adversarial/iteration"])) for r in rows if r.get("adversarial/iteration")]
    assert logged == [1, 4, 7, 8]  # the period's rows (4, 8) and the diagnosed ones


def test_the_training_splits_nll_gen_is_logged_when_asked_for(tmp_path):
    summary = run(compose_config(tmp_path, "evaluation.nll_gen_train=true", "adversarial.steps=0"))
    rows = read_metrics(tmp_path / "run")
    assert any(row.get("pretrain/eval/nll_gen_train") not in ("", None) for row in rows)
    final = summary["after_pretraining"]
    assert final["nll_gen_train"] != final["nll_gen"]  # another split
    assert 0 < final["nll_gen_train"] < 3.9  # log 50: fitted better than uniform guessing
    assert "nll_gen_train" not in run(compose_config(tmp_path / "default", "adversarial.steps=0"))["after_pretraining"]
