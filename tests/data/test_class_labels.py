"""ClassLabels: ids of names and ids, names of ids, labels.json round trip, and the errors that name the classes."""

import json

import pytest

from textgan.data.class_labels import ClassLabels


def test_ids_and_names():
    labels = ClassLabels(("negative", "positive"))
    assert labels.num_classes == 2
    assert (labels.id("negative"), labels.id("positive")) == (0, 1)
    assert (labels.id(1), labels.id("0"), labels.id(" 1 ")) == (1, 0, 1)
    assert (labels.name(0), labels.name(1)) == ("negative", "positive")


def test_a_name_that_looks_like_an_id_is_the_name():
    labels = ClassLabels(("1", "0"))  # names written as digits, e.g. a label column holding 1 / 0
    assert labels.id("1") == 0 and labels.id("0") == 1
    assert labels.id(0) == 0  # an int is an id


@pytest.mark.parametrize("bad", ["neutral", 2, -1, "7", True])
def test_unknown_label_names_it_and_the_classes(bad):
    with pytest.raises(ValueError, match=rf"unknown class {bad!r}.*0 = negative, 1 = positive"):
        ClassLabels(("negative", "positive")).id(bad)


def test_name_out_of_range():
    with pytest.raises(ValueError, match="class id 2 out of range.*0 = a, 1 = b"):
        ClassLabels(("a", "b")).name(2)


@pytest.mark.parametrize(
    ("names", "message"), [((), "at least one"), (("a", "a", "b"), r"distinct: \['a'\]"), (("a", " "), "empty")]
)
def test_bad_names(names, message):
    with pytest.raises(ValueError, match=message):
        ClassLabels(names)


def test_save_and_load_round_trip(tmp_path):
    source = {"column": "1", "thresholds": [0.0], "dropped": "equal to a threshold"}
    labels = ClassLabels(("negative", "positive"), source)
    path = labels.save(tmp_path)
    assert path == tmp_path / "labels.json"
    assert json.loads(path.read_text()) == {"names": ["negative", "positive"], "source": source}
    loaded = ClassLabels.load(tmp_path)
    assert loaded == labels and loaded.source == source
    assert ClassLabels.exists(tmp_path) and not ClassLabels.exists(tmp_path / "elsewhere")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.json: not found"):
        ClassLabels.load(tmp_path)
    (tmp_path / "labels.json").write_text('{"classes": ["a"]}')
    with pytest.raises(ValueError, match=r"labels.json: not a labels file"):
        ClassLabels.load(tmp_path)
    (tmp_path / "labels.json").write_text('{"names": ["a", "a"]}')
    with pytest.raises(ValueError, match=r"labels.json: class names must be distinct"):
        ClassLabels.load(tmp_path)
