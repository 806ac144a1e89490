"""Every command refuses a checkpoint or samples file it cannot use: exit status 2, one line on stderr naming
the file, what is wrong and what was expected, no traceback, and no output written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textgan.cli import estimator_lab, evaluate, generate, quality_diversity

COMMANDS = {
    "textgan-evaluate": evaluate.main,
    "textgan-generate": generate.main,
    "textgan-quality-diversity": quality_diversity.main,
}


def damage(path: Path, kind: str) -> Path:
    """Replace ``path``'s contents the way ``kind`` says; returns the path."""
    data = path.read_bytes()
    path.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "last byte missing": data[:-1],
            "text": b"a man rides a horse .\n",
            "empty": b"",
        }[kind]
    )
    return path


def run_command(name: str, argv: list[str], capsys) -> tuple[int, str, str]:
    code = COMMANDS[name](argv) if name in COMMANDS else estimator_lab.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code: int, stdout: str, err: str, prog: str, path: Path, problem: str) -> None:
    assert code == 2 and stdout == ""
    assert err.startswith(f"{prog}: error: ") and err.count("\n") == 1, err
    assert str(path) in err and problem in err and "expected" in err
    assert "Traceback" not in err


def command_argv(name: str, checkpoint: Path, dataset_dir: Path, out: Path) -> list[str]:
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--out", str(out)]
    return [*argv, "--num-samples", "8"] + (["--temperatures", "1.0"] if "quality" in name else [])


@pytest.mark.parametrize("kind", ["truncated", "last byte missing", "text", "empty"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_damaged_generator_file_is_refused_by_every_command(text_setup, tmp_path, capsys, name, kind):
    dataset_dir, _, checkpoint = text_setup
    path = damage(checkpoint.rename(tmp_path / "generator.pt"), kind)
    out = tmp_path / "out"
    code, stdout, err = run_command(name, command_argv(name, path, dataset_dir, out), capsys)
    problem = {"text": "not a PyTorch file", "empty": "is empty"}.get(kind, "truncated or damaged")
    assert_refused(code, stdout, err, name, path, problem)
    assert not out.exists()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_damaged_lightning_checkpoint_is_refused_by_every_command(
    text_setup, make_run_checkpoint, tmp_path, capsys, name
):
    dataset_dir, _, checkpoint = text_setup
    path = damage(make_run_checkpoint(tmp_path / "run", checkpoint), "truncated")
    out = tmp_path / "out"
    code, stdout, err = run_command(name, command_argv(name, path, dataset_dir, out), capsys)
    assert_refused(code, stdout, err, name, path, "truncated or damaged")
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- samples files
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("\n\n   \n\t\n", "no usable lines (4 line(s), all blank)"),
        ("a man rides a horse .\n", "1 sample"),
        ("\0" * 600 + "\n" + "\0" * 600 + "\n", "line 1: NUL byte at byte 1 of the line: binary data"),
    ],
)
def test_a_samples_file_without_enough_usable_lines_is_refused(text_setup, tmp_path, capsys, content, problem):
    dataset_dir, _, _ = text_setup
    path = tmp_path / "samples.txt"
    path.write_text(content)
    out = tmp_path / "out"
    argv = ["--samples-file", str(path), "--dataset-dir", str(dataset_dir), "--out", str(out)]
    code, stdout, err = run_command("textgan-evaluate", argv, capsys)
    assert_refused(code, stdout, err, "textgan-evaluate", path, problem)
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "problem"),
    [(["--num-samples", "0"], "--num-samples must be at least 1"), (["--temperature", "0"], "--temperature")],
)
def test_evaluate_refuses_options_out_of_range(text_setup, tmp_path, capsys, options, problem):
    dataset_dir, _, checkpoint = text_setup
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--out", str(tmp_path / "out")]
    code, stdout, err = run_command("textgan-evaluate", [*argv, *options], capsys)
    assert code == 2 and stdout == "" and err.startswith("textgan-evaluate: error: ") and problem in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- estimator lab
def lab_run(run: Path, dataset_dir: Path, checkpoint: Path, make_run_checkpoint) -> Path:
    """A finished run's folder as ``textgan-estimator-lab real`` reads it (tiny data and discriminator)."""
    make_run_checkpoint(run, checkpoint)
    discriminator = {
        "_target_": "textgan.models.seqgan_discriminator.SeqGANDiscriminator",
        "embedding_dim": 4,
        "filter_sizes": [2],
        "num_filters": [3],
        "backend": "torch",
    }
    config = {"data": {"_target_": "textgan.data.text.TextDataModule", "dataset_dir": str(dataset_dir)}}
    config.update(discriminator=discriminator, loss={"_target_": "textgan.losses.gan.RSGANLoss"})
    (run / "summary.json").write_text(json.dumps({"config": config}))
    return run


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ("generator.pt", "truncated or damaged"),
        ("checkpoints/adversarial/last.ckpt", "truncated or damaged"),
        ("summary.json", "not valid JSON"),
    ],
)
def test_estimator_lab_refuses_a_damaged_run_file(text_setup, make_run_checkpoint, tmp_path, capsys, broken, problem):
    dataset_dir, _, checkpoint = text_setup
    run = lab_run(tmp_path / "run", dataset_dir, checkpoint, make_run_checkpoint)
    path = damage(run / broken, "truncated")
    argv = ["real", "--run", str(run), "--out", str(tmp_path / "out"), "--repeats", "1"]
    code, stdout, err = run_command("textgan-estimator-lab", argv, capsys)
    assert_refused(code, stdout, err, "textgan-estimator-lab", path, problem)
    assert not (tmp_path / "out").exists()
