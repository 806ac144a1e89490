"""Every scheme of the model zoo trains end to end: from one pretrained generator as ``estimator=<scheme>`` on the
default experiment (RMC generator, RelGAN's CNN, or the scheme's own discriminator-like module), and as its own
preset ``experiment=<scheme>_oracle`` (its paper's models), each at debug size."""

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.models.io import load_generator
from textgan.train import run

pytestmark = pytest.mark.slow

SCHEMES = ["maligan", "dgsan", "jsdgan", "cot", "dpgan", "rankgan", "textgan_mmd"]
# the schemes with a discriminator-like module of their own: (discriminator= choice, its class)
OWN_DISCRIMINATOR = {
    "cot": ("mediator", "Mediator"),
    "dpgan": ("language_model", "LanguageModelDiscriminator"),
    "rankgan": ("ranker", "Ranker"),
}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """One MLE checkpoint of the default experiment's generator, shared by every scheme."""
    folder = tmp_path_factory.mktemp("pretrain")
    run(compose_config(folder, "adversarial.steps=0"))
    return folder / "run" / "pretrained_generator.pt"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_trains_the_shared_pretrained_generator(tmp_path, pretrained, scheme):
    choice, discriminator = OWN_DISCRIMINATOR.get(scheme, ("relgan", "RelGANDiscriminator"))
    cfg = compose_config(
        tmp_path, f"estimator={scheme}", f"discriminator={choice}", f"generator.pretrained={pretrained}",
        "adversarial.steps=2", "adversarial.eval_every=2", "adversarial.checkpoint_every=2",
    )  # fmt: skip
    assert cfg.generator._target_.endswith("RMCGenerator")
    assert cfg.discriminator._target_.endswith(discriminator)
    summary = run(cfg)
    assert summary["pretrained_from"] == str(pretrained)
    assert summary["after_adversarial"]["step"] == 2
    logged = {key for row in read_metrics(tmp_path / "run") for key, value in row.items() if value not in ("", None)}
    assert {"adversarial/g_loss", "adversarial/eval/nll_oracle"} <= logged
    assert ("adversarial/d_loss" in logged) == (scheme not in ("dgsan", "jsdgan"))  # no discriminator network
    start = load_generator(pretrained)[0].state_dict()
    trained = load_generator(tmp_path / "run" / "generator.pt")[0].state_dict()
    assert any(not torch.equal(start[name], trained[name]) for name in start), "the generator did not move"
    assert all(torch.isfinite(tensor).all() for tensor in trained.values())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_schemes_preset_runs(tmp_path, scheme):
    summary = run(compose_config(tmp_path, f"experiment={scheme}_oracle", "adversarial.steps=2",
                                 "adversarial.eval_every=2", "adversarial.checkpoint_every=2"))  # fmt: skip
    assert summary["config"]["experiment_name"] == f"{scheme}_oracle"
    assert summary["after_adversarial"]["step"] == 2
    assert all(value == value for value in summary["after_adversarial"].values() if isinstance(value, float))
