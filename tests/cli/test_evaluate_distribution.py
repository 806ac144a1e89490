"""textgan-evaluate --metrics lm,reverse_lm,mauve,fed: values, files, encoders, and named refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from textgan.cli.evaluate import main
from textgan.evaluation.distribution import distribution_metrics, rows_from_samples
from textgan.evaluation.encoders import HuggingFaceEncoder
from textgan.evaluation.language_model import LanguageModelSettings
from textgan.evaluation.protocol import draw_samples
from textgan.models.io import load_generator

TINY_LM = ["--lm-hidden", "16", "--lm-embedding", "8", "--lm-epochs", "3"]
DISTRIBUTION_KEYS = ["fed", "lm_score", "mauve", "mauve_frontier_integral", "reverse_lm_score"]


def test_checkpoint_distribution_metrics_equal_the_library_call(text_setup, tmp_path):
    dataset_dir, datamodule, checkpoint = text_setup
    out, cache = tmp_path / "out", tmp_path / "lm"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "30", "--seed", "4"]
    assert main([*argv, "--metrics", "all", "--lm-cache", str(cache), *TINY_LM, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert set(DISTRIBUTION_KEYS) <= set(report["metrics"]) and "bleu5" in report["metrics"]
    assert report["settings"]["language_model"]["hidden_dim"] == 16
    assert report["settings"]["encoder"] == {"name": "lm", "pooling": "auto"}
    assert list(cache.glob("lm-*.pt")), "the reference LM is cached where --lm-cache says"

    generator, _ = load_generator(checkpoint)
    samples = draw_samples(generator, 30, seed=4)
    settings = LanguageModelSettings(embedding_dim=8, hidden_dim=16, max_epochs=3)
    expected = distribution_metrics(
        datamodule,
        rows_from_samples(datamodule, samples),
        datamodule.decode(samples),
        settings=settings,
        cache_dir=cache,
    )
    assert {key: report["metrics"][key] for key in expected} == expected
    assert 0.0 <= report["metrics"]["mauve"] <= 1.0 and report["metrics"]["fed"] >= 0.0

    only_lm = tmp_path / "only_lm"  # without "standard", only what was asked for
    assert main([*argv, "--metrics", "lm", "--lm-cache", str(cache), *TINY_LM, "--out", str(only_lm)]) == 0
    lm_report = json.loads((only_lm / "metrics.json").read_text())
    assert lm_report["metrics"] == {"lm_score": expected["lm_score"]}


def test_samples_file_distribution_metrics(text_setup, reference_lines, tmp_path):
    dataset_dir, _, _ = text_setup
    samples = tmp_path / "samples.txt"
    samples.write_text("\n".join(reference_lines) + "\n")  # the test split itself: identical sets
    out = tmp_path / "out"
    argv = ["--samples-file", str(samples), "--dataset-dir", str(dataset_dir), "--metrics", "fed,lm"]
    assert main([*argv, "--lm-cache", str(tmp_path / "lm"), *TINY_LM, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["metrics"]["fed"] == pytest.approx(0.0, abs=1e-9)
    assert sorted(report["metrics"]) == ["fed", "lm_score"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--metrics", "lm,bleu9"], "unknown metric(s) ['bleu9']"),
        (["--metrics", "fed", "--encoder", "glove"], "unknown encoder 'glove'"),
        (["--metrics", "fed", "--encoder", "hf:"], "unknown encoder 'hf:'"),
        (["--metrics", "lm", "--lm-epochs", "0"], "--lm-epochs must be at least 1"),
    ],
)
def test_bad_metric_options_are_refused_before_any_work(text_setup, tmp_path, capsys, options, problem):
    dataset_dir, _, checkpoint = text_setup
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--out", str(out), *options]
    assert main(argv) == 2
    assert problem in capsys.readouterr().err
    assert not out.exists()


def test_distribution_metrics_on_the_oracle_are_refused(make_oracle, make_checkpoint, tmp_path, capsys):
    oracle = make_oracle(tmp_path / "oracle.npz")
    checkpoint = make_checkpoint(tmp_path / "gen.pt", 20, 20, "oracle")
    argv = ["--checkpoint", str(checkpoint), "--oracle", str(oracle), "--oracle-sequences", "50", "--metrics", "lm"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "needs text data" in capsys.readouterr().err


def test_a_missing_hugging_face_model_is_named(text_setup, tmp_path, capsys):
    dataset_dir, _, checkpoint = text_setup
    missing = tmp_path / "no-such-model"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--metrics", "fed"]
    assert main([*argv, "--encoder", f"hf:{missing}", "--out", str(tmp_path / "out")]) == 2
    assert f"--encoder hf:{missing}: cannot load" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------- Hugging Face encoders
transformers = pytest.importorskip("transformers")


def tiny_hugging_face_model(folder, words, kind: str):
    """A randomly initialised 1-layer BERT or GPT-2 with a word-level tokenizer, saved to ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", *sorted(set(words))])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    if kind == "bert":
        config = transformers.BertConfig(
            vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
        )
        model = transformers.BertModel(config)
    else:
        config = transformers.GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=1, n_head=2)
        model = transformers.GPT2LMHeadModel(config)  # as causal LMs are published: AutoModel loads its body
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_hugging_face_features_pool_the_real_tokens(reference_lines, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    words = " ".join(reference_lines).split()
    folder = tiny_hugging_face_model(tmp_path / kind, words, kind)
    encoder = HuggingFaceEncoder(str(folder))
    assert encoder.pooling == ("mean" if kind == "bert" else "last")  # auto: causal LMs pool their last token
    texts = ["a dog rides a horse .", "the cat ."]
    features = encoder.features(texts)
    assert features.shape == (2, 16)
    for text, feature in zip(texts, features, strict=True):  # batched with padding = each sentence alone
        alone = encoder.features([text])[0]
        np.testing.assert_allclose(feature, alone, rtol=1e-5, atol=1e-6)
    mean = HuggingFaceEncoder(str(folder), pooling="mean").features(texts)
    assert kind == "bert" or not np.allclose(mean, features)


def test_hugging_face_encoder_through_the_command(text_setup, reference_lines, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dataset_dir, _, checkpoint = text_setup
    folder = tiny_hugging_face_model(tmp_path / "bert", " ".join(reference_lines).split(), "bert")
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "30"]
    assert main([*argv, "--metrics", "fed,mauve", "--encoder", f"hf:{folder}", "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["settings"]["encoder"] == {"name": f"hf:{folder}", "pooling": "auto"}
    assert report["metrics"]["fed"] > 0.0 and 0.0 <= report["metrics"]["mauve"] <= 1.0
    assert not list(dataset_dir.glob("language_models/*")), "an hf: encoder needs no reference LM"
