"""Labelled corpora: TSV / CSV / JSONL / datasets with labels -> class ids, labels.json, per-split label columns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from textgan.cli.tokenize import main
from textgan.data.class_labels import ClassLabels
from textgan.data.dataset_folder import read_manifest
from textgan.data.labelled_build import load_labels
from textgan.data.labelled_corpus import LabelOptions, split_rows
from textgan.data.text import TextDataModule

# id, rating, text: the sentiment files' layout (no header)
ROWS = [
    ("1", "2.5", "a fine film ."),
    ("2", "-1.0", "a dull film ."),
    ("3", "0", "a film ."),  # rating 0: dropped
    ("4", "0.2", "fine acting ."),
    ("5", "-3", "dull and long ."),
    ("6", "1", "a fine story ."),
    ("7", "-0.5", "a dull story ."),
]


def write_tsv(path, rows=ROWS):
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    return path


def stored(folder, split):
    import datasets

    table = datasets.load_from_disk(str(folder / split))
    return list(table["text"]), list(table["label"]), list(table["line"])


def test_tsv_with_thresholds_drops_zero_and_maps_names(tmp_path):
    source = write_tsv(tmp_path / "reviews.tsv")
    train, test = write_tsv(tmp_path / "train.tsv", ROWS[:5]), write_tsv(tmp_path / "test.tsv", ROWS[5:])
    out = tmp_path / "ds"
    argv = ["--train", str(train), "--test", str(test), "--text-column", "2", "--label-column", "1"]
    argv += ["--label-thresholds", "0", "--label-names", "negative,positive", "--out", str(out)]
    assert main(argv) == 0
    assert ClassLabels.load(out).names == ("negative", "positive")
    assert ClassLabels.load(out).source["thresholds"] == [0.0] and ClassLabels.load(out).source["ties"] == "drop"
    texts, labels, lines = stored(out, "train")
    assert texts == ["a fine film .", "a dull film .", "fine acting .", "dull and long ."]
    assert labels == [1, 0, 1, 0] and lines == [1, 2, 4, 5]  # line 3 (rating 0) dropped
    assert stored(out, "test")[1] == [1, 0]
    manifest = read_manifest(out)
    assert manifest["splits"]["train"]["class_counts"] == [2, 2]
    assert manifest["splits"]["train"]["source"]["rows_dropped_by_label"] == 1
    assert source.exists()


@pytest.mark.parametrize(("ties", "zero_class"), [("upper", 1), ("lower", 0)])
def test_a_rating_on_the_threshold_can_be_assigned(tmp_path, ties, zero_class):
    train, test = write_tsv(tmp_path / "train.tsv", ROWS[:5]), write_tsv(tmp_path / "test.tsv", ROWS[5:])
    argv = ["--train", str(train), "--test", str(test), "--text-column", "2", "--label-column", "1"]
    assert main(argv + ["--label-thresholds", "0", "--label-ties", ties, "--out", str(tmp_path / "ds")]) == 0
    texts, labels, _ = stored(tmp_path / "ds", "train")
    assert labels[texts.index("a film .")] == zero_class
    assert ClassLabels.load(tmp_path / "ds").names == ("<0", ">0")  # default names of the bins


def test_three_bins(tmp_path):
    rows = [("1", "-2", "bad ."), ("2", "0", "so so ."), ("3", "2", "good ."), ("4", "-1", "meh bad .")]
    train, test = write_tsv(tmp_path / "train.tsv", rows), write_tsv(tmp_path / "test.tsv", rows[:2])
    argv = ["--train", str(train), "--test", str(test), "--text-column", "2", "--label-column", "1"]
    assert main(argv + ["--label-thresholds=-1,1", "--label-names", "neg,mid,pos", "--out", str(tmp_path / "d")]) == 0
    assert stored(tmp_path / "d", "train")[1] == [0, 1, 2]  # -2 neg, 0 mid, 2 pos; -1 on a threshold dropped


def test_csv_with_header_and_category_labels(tmp_path):
    csv_text = 'stars,review\n"good","great, really great"\nbad,awful\n\ngood,"nice"\n'
    (tmp_path / "train.csv").write_text(csv_text)
    (tmp_path / "test.csv").write_text("stars,review\nbad,terrible\n")
    argv = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")]
    assert main(argv + ["--text-column", "review", "--label-column", "stars", "--out", str(tmp_path / "d")]) == 0
    assert ClassLabels.load(tmp_path / "d").names == ("bad", "good")  # sorted names
    texts, labels, lines = stored(tmp_path / "d", "train")
    assert texts == ["great, really great", "awful", "nice"] and labels == [1, 0, 1] and lines == [2, 3, 5]
    assert stored(tmp_path / "d", "test")[1] == [0]


def test_jsonl_with_given_names_and_numeric_labels(tmp_path):
    rows = [{"sentence": "one two", "y": 1}, {"sentence": "three", "y": 0}, {"sentence": "four five", "y": 1}]
    (tmp_path / "all.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows * 4))
    argv = ["--labelled", str(tmp_path / "all.jsonl"), "--text-column", "sentence", "--label-column", "y"]
    assert main(argv + ["--label-names", "0,1", "--test-fraction", "0.25", "--out", str(tmp_path / "d")]) == 0
    train_texts, train_labels, train_lines = stored(tmp_path / "d", "train")
    test_texts, test_labels, test_lines = stored(tmp_path / "d", "test")
    assert len(test_texts) == 3 and len(train_texts) == 9
    assert sorted(train_lines + test_lines) == list(range(1, 13))  # every row in exactly one split
    expected = {1: 1, 2: 0, 0: 1}  # line -> label, by the row's position in the repeated pattern
    assert [expected[line % 3] for line in train_lines] == train_labels
    assert [expected[line % 3] for line in test_lines] == test_labels


def test_held_out_split_is_seeded_and_deterministic():
    train, test = split_rows(20, 0.1, seed=3)
    again_train, again_test = split_rows(20, 0.1, seed=3)
    assert np.array_equal(test, again_test) and len(test) == 2 and len(train) == 18
    assert sorted(train.tolist() + test.tolist()) == list(range(20))
    assert not np.array_equal(split_rows(20, 0.1, seed=4)[1], test) or not np.array_equal(
        split_rows(20, 0.1, seed=5)[1], test
    )
    with pytest.raises(ValueError, match="each split needs at least one"):
        split_rows(3, 0.1, seed=0)


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("1\t2\tok .\n" * 16 + "17\tgood\tfine .\n", ["--label-thresholds", "0"],
         r"train.tsv, line 17: label 'good' in --label-column 1 is not a finite number"),
        ("1\t2\tok .\n2\tfine .\n", [], r"train.tsv, line 2: 2 column\(s\), but --text-column 2"),
        ("1\t\tok .\n", [], r"train.tsv, line 1: empty label in --label-column 1"),
        ("1\tpos\tok .\n2\tneutral\tno .\n", ["--label-names", "neg,pos"],
         r"train.tsv, line 2: label 'neutral' is not one of --label-names \(0 = neg, 1 = pos\)"),
    ],
)  # fmt: skip
def test_bad_input_names_file_line_and_option(tmp_path, capsys, content, extra, message):
    (tmp_path / "train.tsv").write_text(content)
    write_tsv(tmp_path / "test.tsv", ROWS[:2])
    argv = ["--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--text-column", "2"]
    assert main(argv + ["--label-column", "1", *extra, "--out", str(tmp_path / "d")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("textgan-tokenize: error:")
    assert __import__("re").search(message, error), error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(thresholds=(1.0, 0.0)), "increasing"),
        (dict(thresholds=(0.0,), label_names=("a", "b", "c")), "3 names for 1 threshold"),
        (dict(ties="middle"), "--label-ties"),
        (dict(test_fraction=1.0), "--test-fraction"),
    ],
)
def test_bad_label_options(options, message):
    with pytest.raises(ValueError, match=message):
        LabelOptions(**options)


def test_header_column_missing(tmp_path, capsys):
    (tmp_path / "train.csv").write_text("stars,review\ngood,fine\n")
    argv = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "train.csv"), "--text-column", "body"]
    assert main(argv + ["--label-column", "stars", "--out", str(tmp_path / "d")]) == 2
    assert "train.csv, line 1 (header): no column 'body' for --text-column" in capsys.readouterr().err


def test_a_saved_datasets_dataset_with_a_class_label(tmp_path):
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "sentiment": datasets.ClassLabel(names=["neg", "pos"])}
    )
    train = datasets.Dataset.from_dict({"sentence": ["good one", "bad one", "good two"], "sentiment": [1, 0, 1]},
                                       features=features)  # fmt: skip
    test = datasets.Dataset.from_dict({"sentence": ["bad two"], "sentiment": [0]}, features=features)
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "saved"))
    argv = ["--dataset-path", str(tmp_path / "saved"), "--text-column", "sentence", "--label-column", "sentiment"]
    assert main(argv + ["--out", str(tmp_path / "d")]) == 0
    assert ClassLabels.load(tmp_path / "d").names == ("neg", "pos")  # the ClassLabel's names, in its order
    assert stored(tmp_path / "d", "train")[1] == [1, 0, 1] and stored(tmp_path / "d", "test")[1] == [0]


def test_text_datamodule_reads_labels_and_yields_labelled_batches(tmp_path):
    train, test = write_tsv(tmp_path / "train.tsv", ROWS[:5]), write_tsv(tmp_path / "test.tsv", ROWS[5:])
    argv = ["--train", str(train), "--test", str(test), "--text-column", "2", "--label-column", "1"]
    assert (
        main(argv + ["--label-thresholds", "0", "--label-names", "negative,positive", "--out", str(tmp_path / "d")])
        == 0
    )
    data = TextDataModule(dataset_dir=str(tmp_path / "d"), batch_size=2)
    data.setup()
    assert data.num_classes == 2 and data.class_labels.names == ("negative", "positive")
    assert data.train_labels.tolist() == [1, 0, 1, 0] and data.test_labels.tolist() == [1, 0]
    assert torch.equal(data.train_labels, load_labels(tmp_path / "d", "train"))
    seen = {}
    for tokens, labels in data.train_dataloader():
        for text, label in zip(data.decode(tokens), labels.tolist(), strict=True):
            seen[text] = label
    assert seen == {"a fine film .": 1, "a dull film .": 0, "fine acting .": 1, "dull and long .": 0}


def test_unlabelled_folder_has_no_classes(tmp_path):
    (tmp_path / "a.txt").write_text("one two\nthree\n")
    assert (
        main(["--train", str(tmp_path / "a.txt"), "--test", str(tmp_path / "a.txt"), "--out", str(tmp_path / "d")]) == 0
    )
    data = TextDataModule(dataset_dir=str(tmp_path / "d"), batch_size=2)
    data.setup()
    assert data.num_classes == 0 and data.class_labels is None and data.train_labels is None
    assert isinstance(next(iter(data.train_dataloader())), torch.Tensor)


@pytest.mark.shared_data
def test_movie_reviews_class_counts(tmp_path, shared_data):
    from textgan.data.labelled_text import LabelledTextDataModule

    data = LabelledTextDataModule(
        data_file=str(shared_data / "sentiment/movie_review_snippets.tsv"), dataset_dir=str(tmp_path / "mr"),
        text_column=2, label_column=1, label_thresholds=[0], label_names=["negative", "positive"],
        pre_tokenizer="words", lowercase=True,
    )  # fmt: skip
    data.setup()
    counts = torch.bincount(torch.cat([data.train_labels, data.test_labels]), minlength=2).tolist()
    assert counts == [5326, 5242]  # negative, positive; the 37 snippets rated 0 dropped
    assert len(data.test_labels) == 1057  # round(10% of 10,568)
    assert read_manifest(tmp_path / "mr")["splits"]["train"]["source"]["rows_dropped_by_label"] == 37


def test_a_hub_dataset_by_name_with_a_label_field(tmp_path, monkeypatch):
    """The hub path, offline: ``load_dataset`` also takes a local folder of split files as the name."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    folder = tmp_path / "local_dataset"
    folder.mkdir()
    train = [{"sentence": "good one", "stars": 5}, {"sentence": "bad one", "stars": 1}, {"sentence": "ok", "stars": 3}]
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in train))
    (folder / "test.jsonl").write_text(json.dumps({"sentence": "bad two", "stars": 2}) + "\n")
    argv = ["--hub-dataset", str(folder), "--text-column", "sentence", "--label-column", "stars"]
    assert main(argv + ["--label-thresholds", "3", "--label-names", "low,high", "--out", str(tmp_path / "d")]) == 0
    assert stored(tmp_path / "d", "train")[:2] == (["good one", "bad one"], [1, 0])  # 3 is on the threshold: dropped
    assert stored(tmp_path / "d", "test")[1] == [0]
    assert ClassLabels.load(tmp_path / "d").names == ("low", "high")


def test_drop_longer_than_keeps_labels_aligned_with_the_kept_rows(tmp_path):
    from textgan.data.labelled_text import LabelledTextDataModule

    rows = [(str(i), rating, text) for i, (rating, text) in enumerate([
        ("2", "good ."), ("-1", "a dull and long film ."), ("1", "fine acting ."), ("-2", "bad ."),
        ("0", "a film ."), ("3", "a really fine and long story ."), ("-1", "dull ."), ("1", "fine ."),
    ], start=1)]  # fmt: skip
    write_tsv(tmp_path / "reviews.tsv", rows)
    data = LabelledTextDataModule(
        data_file="reviews.tsv", root=str(tmp_path), dataset_dir=str(tmp_path / "d"), text_column=2, label_column=1,
        label_thresholds=[0], test_fraction=0.3, drop_longer_than=3, batch_size=2,
    )  # fmt: skip
    data.setup()
    kept = {}
    for split in ("train", "test"):
        texts, labels, lines = stored(tmp_path / "d", split)
        kept.update({line: (text, label) for text, label, line in zip(texts, labels, lines, strict=True)})
    # line 5 dropped by its rating, lines 2 and 6 by their length; each label stays with its row
    assert kept == {1: ("good .", 1), 3: ("fine acting .", 1), 4: ("bad .", 0), 7: ("dull .", 0), 8: ("fine .", 1)}
