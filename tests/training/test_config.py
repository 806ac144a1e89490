"""Every preset composes to a config in which every key is read: by a constructor (``_target_`` nodes) or by
the run's settings classes. A stale or mistyped key is named, and the run refuses it before it starts."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra_compose import BASELINES, ESTIMATORS, EXPERIMENTS, LOGGERS, LOSSES, TRAINERS, compose_config
from omegaconf import OmegaConf

from textgan.train import CONF_DIR, run
from textgan.training.settings import unread_keys


def containers(tmp_path: Path, *overrides: str, debug: bool = True) -> dict:
    """The composed config as plain containers, at debug size (the tests' default) or as the preset says."""
    if debug:
        return OmegaConf.to_container(compose_config(tmp_path, *overrides), resolve=False)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides=list(overrides)), resolve=False)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_preset_with_every_estimator_reads_every_key(tmp_path, experiment, estimator):
    for debug in (True, False):
        config = containers(tmp_path, f"experiment={experiment}", f"estimator={estimator}", debug=debug)
        assert unread_keys(config) == [], (experiment, estimator, debug)


@pytest.mark.parametrize(
    "override",
    [f"estimator/baseline={b}" for b in BASELINES]
    + [f"logger={name}" for name in LOGGERS]
    + [f"loss={name}" for name in LOSSES]
    + [f"trainer={name}" for name in TRAINERS]
    + ["data=coco", "data=emnlp_news", "data=corpus", "discriminator=relgan"]
    + ["data=movie_reviews", "data=amazon_reviews", "data=k_oracle", "generator=rmc_textgan_pytorch"]
    + ["discriminator=relgan_textgan_pytorch"],
)
def test_every_group_choice_reads_every_key(tmp_path, override):
    extra = ["estimator=reinforce"] if override.startswith("estimator/") else []
    if override == "discriminator=relgan":
        extra = ["experiment=seqgan_oracle"]  # RelGAN's CNN under SeqGAN's preset
    for debug in (True, False):  # the debug preset keeps a data= choice and shrinks it (conf/debug_data/)
        assert unread_keys(containers(tmp_path, *extra, override, debug=debug)) == [], debug


def test_a_model_swap_the_preset_does_not_fit_is_named(tmp_path):
    """relgan_oracle_cpu sizes a relational memory; an LSTM takes none of those keys."""
    unread = unread_keys(containers(tmp_path, "generator=lstm"))
    assert {"generator.mem_slots", "generator.head_size", "generator.num_heads"} <= set(unread)


@pytest.mark.parametrize(
    "override, key",
    [
        ("+data.num_eval_samples=5", "data.num_eval_samples"),  # a key the data module once ignored
        ("+logger.csv.flush_every=3", "logger.csv.flush_every"),
        ("+pretrain.lr=0.1", "pretrain.lr"),  # the old place of the MLE learning rate
        ("+adversarial.module.generator_optimizer.momentum=0.9", "adversarial.module.generator_optimizer.momentum"),
        ("+estimator.temperature=2", "estimator.temperature"),
        ("+trainer.max_epoch=3", "trainer.max_epoch"),
        ("+evalution.num_samples=3", "evalution"),
    ],
)
def test_a_key_nothing_reads_is_named_and_refused_before_the_run_starts(tmp_path, override, key):
    cfg = compose_config(tmp_path, override)
    assert key in unread_keys(OmegaConf.to_container(cfg, resolve=False))
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        run(cfg)
    assert not (tmp_path / "run").exists()  # refused before any folder or logger was created


def test_adam_betas_are_settable_from_the_config(tmp_path):
    from hydra.utils import instantiate
    from torch import nn

    cfg = compose_config(tmp_path, "adversarial.module.generator_optimizer.betas=[0.5,0.9]")
    optimizer = instantiate(cfg.adversarial.module.generator_optimizer)(nn.Linear(1, 1).parameters())
    assert list(optimizer.defaults["betas"]) == [0.5, 0.9]


def test_the_full_size_relgan_oracle_preset_names_seqgans_oracle(tmp_path):
    # the oracle of the baselines in RelGAN's table (MLE 9.038); RelGAN's code draws another (docs/relgan_fidelity.md)
    config = containers(tmp_path, "experiment=relgan_oracle", debug=False)
    assert config["data"]["oracle_path"].endswith("/oracle/seqgan_oracle_lstm.npz")
    assert config["generator"]["layer_norm_eps"] == 1e-12  # TensorFlow's, as RelGAN's layer norms
