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


@pytest.mark.parametrize("scheme", [*SCHEMES, "leakgan"])  # LeakGAN: its own generator, so only its preset above
def test_each_schemes_preset_runs(tmp_path, scheme):
    summary = run(compose_config(tmp_path, f"experiment={scheme}_oracle", "adversarial.steps=2",
                                 "adversarial.eval_every=2", "adversarial.checkpoint_every=2"))  # fmt: skip
    assert summary["config"]["experiment_name"] == f"{scheme}_oracle"
    assert summary["after_adversarial"]["step"] == 2
    assert all(value == value for value in summary["after_adversarial"].values() if isinstance(value, float))


def test_leakgan_trains_on_seqgans_preset_and_its_generator_file_samples(tmp_path):
    """LeakGAN's generator and estimator swapped onto SeqGAN's preset (same sizes, discriminator and schedule); the
    saved generator carries its feature CNN, so it samples without the discriminator (textgan-generate)."""
    cfg = compose_config(
        tmp_path, "experiment=seqgan_oracle", "generator=leakgan", "estimator=leakgan",
        "adversarial.steps=2", "adversarial.eval_every=2", "adversarial.checkpoint_every=2",
        "adversarial.module.discriminator_pretrain_steps=1",
    )  # fmt: skip
    summary = run(cfg)
    assert summary["after_adversarial"]["step"] == 2
    logged = {key for row in read_metrics(tmp_path / "run") for key, value in row.items() if value not in ("", None)}
    assert {"adversarial/manager_loss", "adversarial/worker_loss", "adversarial/d_loss"} <= logged
    start = load_generator(tmp_path / "run" / "pretrained_generator.pt")[0]
    trained = load_generator(tmp_path / "run" / "generator.pt")[0]
    moved = {name for name, value in trained.state_dict().items() if not torch.equal(start.state_dict()[name], value)}
    assert any(name.startswith("manager.") for name in moved) and any(name.startswith("worker.") for name in moved)
    assert any(name.startswith("feature_extractor.") for name in moved)  # the discriminator's weights leaked in
    samples = trained.sample(5)
    assert samples.shape == (5, cfg.data.max_length)
