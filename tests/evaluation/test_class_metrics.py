"""Class-conditional metrics: the classifier and its held-out accuracy, class accuracy, per-class BLEU / Self-BLEU
(bleu.py's values on each class's subsets), the conditional NLL_oracle, and evaluate_generator per class."""

from __future__ import annotations

import pytest
import torch
from conditional_fakes import FakeConditionalGenerator

from textgan import metrics
from textgan.cli.tokenize import main as tokenize
from textgan.data.k_oracle_datamodule import KOracleDataModule
from textgan.data.text import TextDataModule
from textgan.evaluation.class_classifier import ClassifierSettings, class_classifier
from textgan.evaluation.class_metrics import ClassMetrics
from textgan.evaluation.protocol import balanced_labels, evaluate_generator
from textgan.evaluation.sample_metrics import SampleMetrics
from textgan.training.callbacks import logged_rows

POSITIVE = ["a good film", "good fun story", "a great good movie", "great acting and good fun", "good good story"]
NEGATIVE = ["a bad film", "bad dull story", "a dull bad movie", "awful acting and bad plot", "bad bad story"]
TEST = [("1", "a good story"), ("1", "great fun film"), ("0", "a bad story"), ("0", "dull awful film"),
        ("1", "a bad good film")]  # fmt: skip


def labelled_corpus(folder, flip_test=False):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("1", text) for text in POSITIVE] + [("0", text) for text in NEGATIVE]
    (folder / "train.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in rows))
    test = [(str(1 - int(label)) if flip_test else label, text) for label, text in TEST]
    (folder / "test.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in test))
    argv = ["--train", str(folder / "train.tsv"), "--test", str(folder / "test.tsv"), "--text-column", "1"]
    assert tokenize(argv + ["--label-column", "0", "--label-names", "0,1", "--out", str(folder / "ds")]) == 0
    data = TextDataModule(dataset_dir=str(folder / "ds"), bleu_orders=(2, 3))
    data.setup()
    return data


SETTINGS = ClassifierSettings(epochs=30, batch_size=4, learning_rate=0.1)


def test_classifier_accuracy_is_measured_on_the_test_split(tmp_path):
    data = labelled_corpus(tmp_path / "a")
    trained = class_classifier(data, SETTINGS)
    predicted = trained.model.predict(data.test_tokens)
    assert trained.held_out_accuracy == pytest.approx(float((predicted == data.test_labels).double().mean()))
    assert trained.model.accuracy(data.train_tokens.to_tensor(), data.train_labels) == 1.0
    flipped = class_classifier(labelled_corpus(tmp_path / "b", flip_test=True), SETTINGS)
    assert flipped.held_out_accuracy == pytest.approx(1 - trained.held_out_accuracy)  # same model, test labels flipped
    assert 0 < trained.held_out_accuracy < 1  # the mixed "a bad good film" keeps it from being trivial


def test_classifier_is_cached_in_the_dataset_folder(tmp_path):
    data = labelled_corpus(tmp_path)
    first = class_classifier(data, SETTINGS)
    assert first.path.parent == data.dataset_dir / "class_classifier" and first.path.is_file()
    again = class_classifier(data, SETTINGS)
    assert again.path == first.path and torch.equal(again.model.weight, first.model.weight)
    other = class_classifier(data, ClassifierSettings(epochs=1))
    assert other.path != first.path  # the settings are part of the key


def test_ngram_features_stop_at_eos_and_skip_pads(tmp_path):
    data = labelled_corpus(tmp_path)
    model = class_classifier(data, SETTINGS).model
    row = data.test_tokens[:1].clone()
    ids, mask = model.features(row)
    length = int((row[0] != data.pad_token).sum())  # words and the <eos>
    words = length - 1
    assert int(mask[0, : row.shape[1]].sum()) == words  # unigrams: the words only
    assert int(mask[0, row.shape[1] :].sum()) == words - 1  # bigrams inside the sentence
    noisy = row.clone()
    noisy[0, length:] = 5  # tokens after <eos> change nothing
    assert torch.equal(model(noisy), model(row))


def test_class_accuracy_and_per_class_bleu_are_the_metrics_on_each_class(tmp_path):
    data = labelled_corpus(tmp_path)
    train = data.train_tokens.to_tensor()
    samples = torch.cat([train[data.train_labels == 1][:3], train[data.train_labels == 0][:2]])
    labels = torch.tensor([1, 1, 1, 0, 0])
    scorer = ClassMetrics(data, SETTINGS)
    scores = scorer(samples, labels)
    classifier = scorer.classifier
    assert scores["class_accuracy"] == 1.0 and scores["classifier_accuracy"] == classifier.held_out_accuracy
    assert ClassMetrics(data, SETTINGS)(samples, 1 - labels)["class_accuracy"] == 0.0
    words = data.sample_words(samples)
    references = {c: [data.references[i] for i in (data.test_labels == c).nonzero().flatten().tolist()] for c in (0, 1)}
    assert references[1] == [["a", "good", "story"], ["great", "fun", "film"], ["a", "bad", "good", "film"]]
    for name, c, rows in (("1", 1, [0, 1, 2]), ("0", 0, [3, 4])):
        own = [words[i] for i in rows]
        for n in (2, 3):
            assert scores[f"bleu{n}/{name}"] == pytest.approx(metrics.bleu(own, references[c], n), abs=1e-12)
            assert scores[f"self_bleu{n}/{name}"] == pytest.approx(metrics.self_bleu(own, n), abs=1e-12)
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        scorer(samples, torch.tensor([0, 1, 2, 0, 1]))


def test_evaluate_generator_samples_equally_per_class(tmp_path):
    data = labelled_corpus(tmp_path)
    train = data.train_tokens.to_tensor()
    fake = FakeConditionalGenerator({c: train[data.train_labels == c] for c in (0, 1)})
    result = evaluate_generator(fake, data, num_samples=7, sample_metrics=SampleMetrics(data))
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1] and fake.asked[0].tolist() == [0, 0, 0, 1, 1, 1]
    assert {"class_accuracy", "bleu2/0", "bleu2/1", "self_bleu3/1", "bleu2", "self_bleu2"} <= set(result.metrics)
    # NLL_gen scores each test sentence given its own class: the fake's -(c + 1) per token
    expected = float((data.test_labels + 1).double().mean())
    assert result.metrics["nll_gen"] == pytest.approx(expected)


def test_a_conditional_generator_needs_matching_classes(tmp_path):
    data = labelled_corpus(tmp_path)
    fake = FakeConditionalGenerator({c: data.test_tokens for c in range(3)})
    with pytest.raises(ValueError, match="conditioned on 3 classes, but the data hold 2 classes"):
        evaluate_generator(fake, data, num_samples=6)
    (tmp_path / "plain.txt").write_text("a good film\na bad film\n")
    plain = str(tmp_path / "plain.txt")
    assert tokenize(["--train", plain, "--test", plain, "--out", str(tmp_path / "plain")]) == 0
    unlabelled = TextDataModule(dataset_dir=str(tmp_path / "plain"))
    unlabelled.setup()
    with pytest.raises(ValueError, match="holds no classes"):
        SampleMetrics(unlabelled)(unlabelled.test_tokens, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="conditioned on 3 classes, but the data hold no class labels"):
        evaluate_generator(fake, unlabelled, num_samples=6)


def test_conditional_nll_oracle_on_the_k_oracle(tmp_path):
    sizes = dict(vocab_size=20, embedding_dim=4, hidden_dim=4, max_length=6, train_per_class=12, test_per_class=4)
    data = KOracleDataModule(num_classes=2, cache_dir=str(tmp_path), bleu_orders=(2,), **sizes)
    data.setup()
    rows = {c: data.train_tokens[data.train_labels == c] for c in (0, 1)}
    result = evaluate_generator(FakeConditionalGenerator(rows), data, num_samples=6, with_nll_gen=False)
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1]
    per_class = [data.oracles[c].nll(rows[c][:3]) for c in (0, 1)]
    assert result.metrics["nll_oracle"] == pytest.approx(sum(per_class) / 2, rel=1e-6)
    assert result.metrics["bleu2/class0"] == pytest.approx(
        metrics.bleu(rows[0][:3].tolist(), rows[0].tolist(), 2), abs=1e-12
    )  # against the class's own training sentences
    assert 0 <= result.metrics["class_accuracy"] <= 1


def test_balanced_labels_and_logged_rows():
    assert balanced_labels(7, 3).tolist() == [0, 0, 1, 1, 2, 2]
    assert balanced_labels(2, 3).tolist() == [0, 1, 2]  # at least one per class
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert logged_rows(labels, 6, 4).tolist() == [0, 3, 1, 4]  # classes in turn
    assert logged_rows(None, 6, 4).tolist() == [0, 1, 2, 3]
