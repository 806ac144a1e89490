"""What a run leaves and shows: a folder named after the data and models it trains, as many sample sentences as
``evaluation.num_logged_samples`` says, a CSV of its metrics whatever the logger, and no Lightning adverts."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra_compose import LOGGERS, compose_config
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from textgan.train import CONF_DIR, check_config, run
from textgan.training.csv_log import RunCSVLogger
from textgan.training.stages import build_loggers
from textgan.training.validation import ConfigError


# ---- the run's folder ------------------------------------------------------------------------------------------
def folders(*overrides: str) -> tuple[Path, Path]:
    """``hydra.run.dir`` and ``hydra.sweep.dir`` as Hydra resolves them for a command line."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    hydra_config = HydraConfig.instance()
    before, hydra_config.cfg = hydra_config.cfg, None
    try:
        hydra_config.set_config(cfg)  # what ${hydra:runtime.choices.*} reads, as in a run
        return Path(cfg.hydra.run.dir), Path(cfg.hydra.sweep.dir)
    finally:
        hydra_config.cfg = before


@pytest.mark.parametrize(
    ("overrides", "run_dir", "sweep_dir"),
    [
        ((), "outputs/relgan_oracle_cpu/gumbel_softmax-seed123", "multirun/relgan_oracle_cpu"),
        (("data=oracle", "seed=7"), "outputs/relgan_oracle_cpu/gumbel_softmax-seed7", "multirun/relgan_oracle_cpu"),
        (("experiment=relgan_coco",), "outputs/relgan_coco/gumbel_softmax-seed123", "multirun/relgan_coco"),
        (("experiment=seqgan_oracle",), "outputs/seqgan_oracle/reinforce-seed123", "multirun/seqgan_oracle"),
        (("data=corpus", "data.dir=corpora/wiki103/"), "outputs/wiki103-rmc-relgan_cpu/gumbel_softmax-seed123",
         "multirun/wiki103-rmc-relgan_cpu"),
        (("data=corpus",), "outputs/corpus-rmc-relgan_cpu/gumbel_softmax-seed123", "multirun/corpus-rmc-relgan_cpu"),
        (("data=coco",), "outputs/coco-rmc-relgan_cpu/gumbel_softmax-seed123", "multirun/coco-rmc-relgan_cpu"),
        (("experiment=relgan_coco", "generator=lstm", "estimator=reinforce"),
         "outputs/coco-lstm-relgan/reinforce-seed123", "multirun/coco-lstm-relgan"),
        (("experiment=relgan_coco", "discriminator=lstm"), "outputs/coco-rmc-lstm/gumbel_softmax-seed123",
         "multirun/coco-rmc-lstm"),
        (("data=coco", "experiment_name=my_coco"), "outputs/my_coco/gumbel_softmax-seed123", "multirun/my_coco"),
    ],
)  # fmt: skip
def test_a_run_is_filed_under_the_data_and_models_it_trains(overrides, run_dir, sweep_dir):
    run, sweep = folders(*overrides)  # each ends in the time it started
    assert (str(run.parent), str(sweep.parent)) == (run_dir, sweep_dir)


def test_a_resume_runs_in_the_run_s_own_folder(tmp_path):
    assert folders(f"resume={tmp_path}", "data=corpus")[0] == tmp_path


# ---- samples/ --------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kept", [3, 0])
def test_each_evaluation_keeps_num_logged_samples_sentences(tmp_path, kept):
    run(compose_config(tmp_path, "adversarial.steps=2", f"evaluation.num_logged_samples={kept}"))
    files = sorted((tmp_path / "run" / "samples").glob("*.txt"))
    if kept == 0:
        assert files == []
    else:
        assert [path.name for path in files] == [
            "adversarial_eval_000000.txt", "adversarial_eval_000002.txt",
            "pretrain_eval_000000.txt", "pretrain_eval_000001.txt",
        ]  # fmt: skip
        assert all(len(path.read_text().splitlines()) == kept for path in files)


@pytest.mark.parametrize("value", ["-1", "2.5", "many"])
def test_num_logged_samples_is_a_non_negative_integer(tmp_path, value):
    with pytest.raises(ConfigError, match=rf"evaluation\.num_logged_samples=.*{value}.* is not allowed"):
        check_config(compose_config(tmp_path, f"evaluation.num_logged_samples={value}"))


# ---- a CSV in every run ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("logger", [*(f"logger={name}" for name in LOGGERS), "~logger"])
def test_every_run_keeps_one_csv_of_its_metrics_whatever_the_logger(tmp_path, logger):
    loggers = build_loggers(compose_config(tmp_path, logger))
    csv = [each for each in loggers if isinstance(each, CSVLogger)]
    assert len(csv) == 1 and isinstance(csv[0], RunCSVLogger)
    assert Path(csv[0].log_dir) == tmp_path / "run" / "csv" / "version_0"
    assert any(isinstance(each, WandbLogger) for each in loggers) == logger.startswith("logger=wandb")


# ---- no adverts, no warnings the user cannot act on ------------------------------------------------------------
def test_lightning_s_litlogger_advert_is_dropped_and_its_other_messages_kept(caplog):
    from textgan.training.console import quiet_lightning

    quiet_lightning()
    with caplog.at_level(logging.INFO):
        L.Trainer(logger=False, accelerator="cpu", devices=1, enable_checkpointing=False)
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("GPU available") for message in messages), messages
    assert not any("litlogger" in message or "Tip:" in message for message in messages), messages


def test_only_lightning_s_leafspec_deprecation_warning_is_ignored():
    from lightning.pytorch.utilities._pytree import _tree_flatten

    from textgan.training.console import quiet_lightning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        _tree_flatten(1)  # Lightning's use of torch's deprecated LeafSpec
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning, stacklevel=1)  # ours: kept
        warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == [
        "`isinstance(treespec, LeafSpec)` is deprecated", "something else is deprecated",
    ]  # fmt: skip
