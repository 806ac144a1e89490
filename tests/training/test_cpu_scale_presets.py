"""The CPU-scale presets of the conditional study (``*_movie_reviews_cpu``) are their paper presets with only the
scale changed: the settings their comments and docs/experiments/conditional-movie-reviews.md list, nothing else."""

from __future__ import annotations

import pytest
from hydra_compose import compose_train
from omegaconf import OmegaConf

SCALE = {  # what the CPU scale changes, per paper preset; every other key must be the paper preset's
    "mle_conditional_movie_reviews": {
        "experiment_name", "generator.head_size", "pretrain.epochs", "pretrain.eval_every", "evaluation.num_samples",
        "discriminator.num_rep",  # relgan_cpu: unused by MLE, the CatGAN preset's discriminator
    },
    "catgan_movie_reviews": {
        "experiment_name", "generator.head_size", "pretrain.epochs", "pretrain.eval_every", "evaluation.num_samples",
        "discriminator.num_rep", "adversarial.steps",
    },
    "sentigan_movie_reviews": {
        "experiment_name", "generator.embedding_dim", "generator.hidden_dim", "pretrain.epochs",
        "evaluation.num_samples", "adversarial.steps", "adversarial.module.num_negatives",
    },
}  # fmt: skip
DATA = {"data.dataset_dir", "data.drop_longer_than"}  # data=movie_reviews_short


def flat(tmp_path, preset: str) -> dict:
    config = OmegaConf.to_container(compose_train(tmp_path, f"experiment={preset}"), resolve=False)

    def walk(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1], node

    return dict(walk(config))


@pytest.mark.parametrize("paper", sorted(SCALE))
def test_the_cpu_scale_changes_only_its_documented_settings(tmp_path, paper):
    full, cpu = flat(tmp_path, paper), flat(tmp_path, f"{paper}_cpu")
    changed = {key for key in full.keys() | cpu.keys() if full.get(key) != cpu.get(key)}
    assert changed == SCALE[paper] | DATA
    assert cpu["data.drop_longer_than"] == 20 and full["data.drop_longer_than"] is None
    assert cpu["pretrain.epochs"] == 40 and cpu["pretrain.epochs"] < full["pretrain.epochs"]
    assert cpu["adversarial.steps"] <= full["adversarial.steps"]
