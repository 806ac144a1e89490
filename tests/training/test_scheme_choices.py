"""Schemes on existing presets: `estimator=jsdgan` composes on any preset; `estimator=cot` (dpgan, rankgan) asks
for `discriminator=mediator` (language_model, ranker) by name before anything is built, and with it composes on the
RelGAN presets (whose discriminator sizes apply to their own discriminator only); the mediator copies the
generator's architecture, shrunk with it by debug=default, and the CoT preset widens it as CoT's code does."""

from __future__ import annotations

import pytest
from hydra_compose import compose_config, compose_train
from omegaconf import OmegaConf

from textgan.training.settings import unread_keys
from textgan.training.validation import ConfigError, check_scheme, validate_config


def full_size(tmp_path, *overrides: str) -> dict:
    """The preset as it is (no debug shrinking), resolved."""
    return OmegaConf.to_container(compose_train(tmp_path, *overrides), resolve=True)


def checked(tmp_path, *overrides: str) -> dict:
    """The composed config after every check a run makes before building anything (the machine's aside)."""
    cfg = compose_config(tmp_path, *overrides)
    assert unread_keys(OmegaConf.to_container(cfg, resolve=False)) == []
    resolved = OmegaConf.to_container(cfg, resolve=True)
    validate_config(resolved)
    check_scheme(resolved)
    return resolved


@pytest.mark.parametrize("experiment", ["relgan_oracle_cpu", "relgan_coco", "jsdgan_oracle"])
def test_jsdgan_composes_on_the_presets(tmp_path, experiment):
    config = checked(tmp_path, f"experiment={experiment}", "estimator=jsdgan")
    assert config["estimator"]["_target_"].endswith("JsdganEstimator")


OWN_DISCRIMINATOR = {"cot": "mediator", "dpgan": "language_model", "rankgan": "ranker"}


@pytest.mark.parametrize("scheme", sorted(OWN_DISCRIMINATOR))
def test_a_scheme_without_its_discriminator_is_refused_naming_the_choice(tmp_path, scheme):
    with pytest.raises(ConfigError, match=f"estimator={scheme} needs discriminator={OWN_DISCRIMINATOR[scheme]}"):
        checked(tmp_path, "experiment=relgan_oracle_cpu", f"estimator={scheme}")
    checked(tmp_path, "experiment=relgan_coco", f"estimator={scheme}", f"discriminator={OWN_DISCRIMINATOR[scheme]}")


@pytest.mark.parametrize("experiment", ["relgan_oracle_cpu", "relgan_coco", "seqgan_oracle"])
def test_cot_with_the_mediator_composes_on_the_presets(tmp_path, experiment):
    config = checked(tmp_path, f"experiment={experiment}", "estimator=cot", "discriminator=mediator")
    mediator = config["discriminator"]
    assert mediator["_target_"] == "textgan.models.mediator.Mediator"
    assert mediator["generator"] == config["generator"] and mediator["changes"] is None


def test_the_relgan_presets_keep_their_discriminator_sizes(tmp_path):
    assert checked(tmp_path, "experiment=relgan_oracle_cpu")["discriminator"]["num_rep"] == 2  # debug-shrunk
    full = full_size(tmp_path, "experiment=relgan_oracle_cpu")
    assert full["discriminator"]["num_rep"] == 8 and full["discriminator"]["embedding_dim"] == 64


def test_the_cot_preset_builds_a_wider_mediator_and_debug_shrinks_it(tmp_path):
    debug = checked(tmp_path, "experiment=cot_oracle")
    assert debug["discriminator"]["changes"] is None and debug["generator"]["hidden_dim"] == 8
    full = full_size(tmp_path, "experiment=cot_oracle")
    assert full["discriminator"]["changes"] == {"embedding_dim": 64, "hidden_dim": 64}
    assert full["discriminator"]["generator"]["_target_"] == "textgan.models.lstm.LSTMGenerator"
    assert full["estimator"]["reduction"] == "token_mean"
    validate_config(full)
    check_scheme(full)


def test_leakgan_asks_for_its_generator_and_a_discriminator_with_features(tmp_path):
    with pytest.raises(ConfigError, match="estimator=leakgan needs generator=leakgan"):
        checked(tmp_path, "experiment=seqgan_oracle", "estimator=leakgan")
    with pytest.raises(ConfigError, match=r"generator=leakgan \(LeakGANGenerator\) trains only with estimator=leakgan"):
        checked(tmp_path, "experiment=leakgan_oracle", "estimator=reinforce")
    with pytest.raises(ConfigError, match="estimator=leakgan needs a discriminator with sentence features"):
        checked(tmp_path, "experiment=leakgan_oracle", "discriminator=language_model")


@pytest.mark.parametrize("choice", ["seqgan", "relgan", "lstm"])
def test_leakgans_feature_cnn_is_the_discriminator_choice(tmp_path, choice):
    config = checked(tmp_path, "experiment=leakgan_oracle", f"discriminator={choice}")
    assert config["generator"]["feature_extractor"] == config["discriminator"]  # shrunk with it by debug=default
    full = full_size(tmp_path, "experiment=leakgan_oracle", f"discriminator={choice}")
    assert full["generator"]["feature_extractor"] == full["discriminator"]
    assert full["generator"]["step_size"] == 4 and full["generator"]["goal_size"] == 16
