"""The class-conditional presets train end to end at debug size: conditional MLE, SentiGAN and CatGAN on the
movie-review layout (a tiny labelled TSV in its place) and on the k-oracle benchmark. ``debug=default`` picks
the oracle data, so each run names its labelled ``data=`` again."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra_compose import compose_config, read_metrics
from tiny_corpus import TEST, TRAIN, offline_hub  # noqa: F401  (the fixture keeps datasets offline)

from textgan.models.io import load_generator
from textgan.train import run

pytestmark = pytest.mark.slow

SHORT = ("adversarial.steps=2", "adversarial.eval_every=2", "adversarial.checkpoint_every=2")


def labelled_reviews(folder: Path) -> Path:
    """A movie_review_snippets.tsv of the tiny corpus (id, rating, text; no header), ratings of both signs."""
    folder.mkdir(parents=True)
    rows = [f"{i}\t{1.5 if i % 2 else -2.0}\t{text}" for i, text in enumerate(TRAIN + TEST + TRAIN)]
    (folder / "reviews.tsv").write_text("\n".join(rows) + "\n")
    return folder


def reviews_overrides(tmp_path: Path) -> list[str]:
    root = labelled_reviews(tmp_path / "shared")
    return ["data=movie_reviews", f"data.root={root}", "data.data_file=reviews.tsv", "data.test_fraction=0.25"]


@pytest.mark.parametrize(
    ("preset", "generator"),
    [
        ("mle_conditional_movie_reviews", "ConditionalRMCGenerator"),
        ("sentigan_movie_reviews", "GeneratorPerClass"),
        ("catgan_movie_reviews", "ConditionalRMCGenerator"),
    ],
)
def test_movie_review_presets_train_a_conditional_generator(tmp_path, preset, generator):
    cfg = compose_config(tmp_path, f"experiment={preset}", *reviews_overrides(tmp_path), *SHORT)
    summary = run(cfg)
    assert summary["finished"]
    final = "generator.pt" if cfg.adversarial.steps else "pretrained_generator.pt"
    trained, _ = load_generator(tmp_path / "run" / final)
    assert type(trained).__name__ == generator
    assert trained.num_classes == 2
    tokens = trained.sample(4, labels=torch.tensor([0, 1, 0, 1]))
    assert torch.isfinite(trained.log_prob(tokens, torch.tensor([0, 1, 0, 1]))).all()
    logged = {key for row in read_metrics(tmp_path / "run") for key, value in row.items() if value not in ("", None)}
    if cfg.adversarial.steps:
        assert {"adversarial/g_loss", "adversarial/d_loss"} <= logged


@pytest.mark.parametrize("preset", ["sentigan_k_oracle", "catgan_k_oracle"])
def test_k_oracle_presets_run_and_move_the_generator(tmp_path, preset):
    summary = run(compose_config(tmp_path, f"experiment={preset}", "data=k_oracle", *SHORT))
    assert summary["after_adversarial"]["step"] == 2
    start = load_generator(tmp_path / "run" / "pretrained_generator.pt")[0].state_dict()
    trained = load_generator(tmp_path / "run" / "generator.pt")[0].state_dict()
    assert any(not torch.equal(start[name], trained[name]) for name in start), "the generator did not move"
    logged = {key for row in read_metrics(tmp_path / "run") for key, value in row.items() if value not in ("", None)}
    expected = {"sentigan_k_oracle": "adversarial/penalty_class1", "catgan_k_oracle": "adversarial/fitness"}[preset]
    assert {expected, "adversarial/eval/nll_oracle", "adversarial/eval/class_accuracy"} <= logged


def test_a_conditional_generator_on_unlabelled_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="needs labelled data"):
        run(compose_config(tmp_path, "generator=rmc_conditional", "adversarial.steps=0"))


def test_conditional_mle_starts_from_an_unconditional_file(tmp_path):
    run(compose_config(tmp_path / "plain", "data=k_oracle", "adversarial.steps=0"))
    plain = tmp_path / "plain" / "run" / "pretrained_generator.pt"
    summary = run(compose_config(
        tmp_path / "cond", "data=k_oracle", "generator=rmc_conditional", f"generator.pretrained={plain}",
        "adversarial.steps=1", "adversarial.eval_every=1", "adversarial.checkpoint_every=1", "estimator=catgan",
    ))  # fmt: skip
    assert summary["pretrained_from"] == str(plain)
