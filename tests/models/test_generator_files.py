"""Generator files are safe to share: plain data, weights_only loads, textgan generators only, --trust to opt in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textgan.cli.generate import main as generate_main
from textgan.data.build import build_dataset
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import BOS_ID
from textgan.models.io import build_from_config, load_generator, save_generator
from textgan.models.lstm import LSTMGenerator

BUILD = {
    "_target_": "textgan.models.lstm.LSTMGenerator",
    "vocab_size": 12,
    "max_length": 6,
    "embedding_dim": 4,
    "hidden_dim": 4,
    "start_token": BOS_ID,
}


def tiny_generator(build: dict = BUILD) -> LSTMGenerator:
    torch.manual_seed(0)
    return LSTMGenerator(**{key: value for key, value in build.items() if key != "_target_"})


class WritesMarker:
    """Unpickling runs ``__reduce__``'s callable: here, harmlessly, code that writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('code from the file ran')",)


def unsafe_file(path: Path, marker: Path, build: dict = BUILD, metadata: dict | None = None) -> Path:
    """A generator file, valid in every other way, whose metadata pickle runs code when fully unpickled."""
    metadata = {**(metadata or {}), "note": WritesMarker(marker)}
    torch.save({"build": build, "state_dict": tiny_generator(build).state_dict(), "metadata": metadata}, path)
    return path


def test_a_saved_generator_round_trips_under_weights_only(tmp_path):
    generator = tiny_generator()
    metadata = {"vocab_size": 12, "dataset_dir": tmp_path / "ds", "sizes": (1, 2), "metrics": {"bleu2": 0.5}}
    path = save_generator(tmp_path / "generator.pt", generator, BUILD, metadata)
    payload = torch.load(path, weights_only=True)  # plain data only: the strict unpickler accepts it
    assert payload["build"] == BUILD
    plain = {"vocab_size": 12, "dataset_dir": str(tmp_path / "ds"), "sizes": [1, 2], "metrics": {"bleu2": 0.5}}
    assert payload["metadata"] == plain
    loaded, loaded_metadata = load_generator(path)
    assert loaded_metadata == plain and json.loads(json.dumps(loaded_metadata)) == plain
    expected = generator.state_dict()
    assert loaded.state_dict().keys() == expected.keys()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_a_file_whose_pickle_runs_code_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / "marker"
    path = unsafe_file(tmp_path / "generator.pt", marker)
    with pytest.raises(ValueError, match="does not load safely") as refused:
        load_generator(path)
    assert str(path) in str(refused.value) and "--trust" in str(refused.value)
    assert not marker.exists()  # the safe path read the file without running any of it

    generator, metadata = load_generator(path, trust=True)  # the test opts in: the file's code runs
    assert marker.read_text() == "code from the file ran"
    assert isinstance(generator, LSTMGenerator) and metadata == {"note": None}


@pytest.mark.parametrize(
    "target",
    [
        "os.system",  # any callable outside textgan
        "builtins.exec",
        "textgan.models.discriminator.TextDiscriminator",  # textgan's, but not a generator
        "textgan.data.text.TextDataModule",
        "textgan.models.io.torch",  # a module reached through textgan.models
        "textgan.models.generator.Generator.__init__",
        "textgan.models.nothing_here.Generator",
    ],
)
def test_a_build_target_outside_textgan_generators_is_refused(tmp_path, target):
    generator = tiny_generator()
    marker = tmp_path / "marker"
    build = {"_target_": target, "command": f"touch {marker}"}
    path = tmp_path / "generator.pt"
    torch.save({"build": build, "state_dict": generator.state_dict(), "metadata": {}}, path)  # a clean pickle
    assert torch.load(path, weights_only=True)["build"] == build
    for trust in (False, True):
        with pytest.raises(ValueError, match="_target_") as refused:
            load_generator(path, trust=trust)
        assert str(path) in str(refused.value)
    with pytest.raises(ValueError, match="must name a class of textgan.models"):
        build_from_config({"_target_": target})
    assert not marker.exists()


def test_textgan_generators_are_built():
    assert isinstance(build_from_config(BUILD), LSTMGenerator)


@pytest.mark.parametrize(
    ("build", "metadata", "key"),
    [
        (BUILD, {"metrics": {"bleu2": torch.tensor(0.5)}}, "metadata['metrics']['bleu2']"),
        (BUILD, {"steps": [1, object()]}, r"metadata['steps'][1]"),
        ({**BUILD, "activation": torch.nn.ReLU}, {}, "build['activation']"),
    ],
)
def test_non_plain_values_are_refused_at_save_time(tmp_path, build, metadata, key):
    path = tmp_path / "generator.pt"
    with pytest.raises(ValueError, match="not a plain value") as refused:
        save_generator(path, tiny_generator(), build, metadata)
    assert key in str(refused.value)
    assert not path.exists()


def test_generate_needs_trust_for_an_unsafe_file(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text("a man rides a horse .\nthe dog runs .\n")
    (corpus / "test.txt").write_text("a dog rides a horse .\n")
    dataset_dir = tmp_path / "ds"
    build_dataset(dataset_dir, corpus / "train.txt", corpus / "test.txt")
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    build = {**BUILD, "vocab_size": datamodule.vocab_size, "max_length": datamodule.max_length}
    marker = tmp_path / "marker"
    path = unsafe_file(tmp_path / "shared.pt", marker, build, {"vocab_fingerprint": datamodule.vocab_fingerprint})
    out = tmp_path / "samples.txt"
    argv = ["--checkpoint", str(path), "--dataset-dir", str(dataset_dir), "--num-samples", "3", "--out", str(out)]

    assert generate_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("textgan-generate: error: ") and str(path) in err and "--trust" in err
    assert not marker.exists() and not out.exists()

    assert generate_main([*argv, "--trust"]) == 0
    assert marker.exists() and len(out.read_text().splitlines()) == 3


def test_an_rmc_generator_saved_before_layer_norm_eps_existed_loads_with_the_epsilon_it_trained_with(tmp_path):
    from textgan.models.io import read_generator_build, save_generator_build
    from textgan.models.rmc import JointLayerNorm, RMCGenerator

    build = {"_target_": "textgan.models.rmc.RMCGenerator", "vocab_size": 12, "max_length": 6,
             "embedding_dim": 4, "head_size": 4, "num_heads": 2}  # fmt: skip
    old = RMCGenerator(**{key: value for key, value in build.items() if key != "_target_"}, layer_norm_eps=1e-5)
    save_generator(tmp_path / "old.pt", old, build)
    save_generator_build(tmp_path / "old.json", build)
    loaded, _ = load_generator(tmp_path / "old.pt")
    assert {m.eps for m in loaded.modules() if isinstance(m, JointLayerNorm)} == {1e-5}
    tokens = torch.randint(0, 12, (3, 6))
    assert torch.equal(loaded.log_prob(tokens), old.log_prob(tokens))
    assert read_generator_build(tmp_path / "old.json")[0]["layer_norm_eps"] == 1e-5
    current = RMCGenerator(12, 6, 4, head_size=4, num_heads=2)
    save_generator(tmp_path / "new.pt", current, {**build, "layer_norm_eps": 1e-12})
    new, _ = load_generator(tmp_path / "new.pt")
    assert {m.eps for m in new.modules() if isinstance(m, JointLayerNorm)} == {1e-12}
