"""textgan-generate: seeded draws, top-k / nucleus truncation, jsonl log-probabilities, decoding, bad input."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from textgan.cli.generate import main
from textgan.data.build import build_dataset
from textgan.data.dataset_folder import load_split
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import BOS_ID, BPE_SUFFIX, EOS_ID, PAD_ID, TokenizerOptions
from textgan.models.decoding import sample_sentences, sentence_lengths
from textgan.models.io import load_generator, save_generator
from textgan.sampling import filter_logits

INF = float("inf")


def kept(logits: torch.Tensor, **options) -> list[int]:
    """Ids that ``filter_logits`` keeps in a 1-D row."""
    return torch.isfinite(filter_logits(logits, **options)).nonzero().flatten().tolist()


def log_of(probs: list[float]) -> torch.Tensor:
    return torch.tensor(probs, dtype=torch.float64).log().float()


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------- filter_logits
def test_top_k_keeps_the_k_largest_logits_and_breaks_ties_towards_the_lower_id():
    logits = torch.tensor([1.0, 3.0, 3.0, 0.0, 2.0])
    assert kept(logits, top_k=1) == [1]  # the argmax: the first of the tied maxima
    assert kept(logits, top_k=2) == [1, 2]
    assert kept(logits, top_k=3) == [1, 2, 4]
    assert filter_logits(logits, top_k=5) is logits and filter_logits(logits, top_k=50) is logits
    filtered = filter_logits(logits, top_k=3)
    assert torch.equal(filtered[[1, 2, 4]], logits[[1, 2, 4]])  # kept logits are untouched
    # any leading shape: each row of (2, 3, V) on its own
    batch = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0))
    rows = filter_logits(batch, top_k=2)
    assert torch.isfinite(rows).sum(-1).eq(2).all()
    assert torch.equal(torch.isfinite(rows), batch >= batch.topk(2, dim=-1).values[..., -1:])


def test_top_p_keeps_the_smallest_set_whose_probability_reaches_p():
    # probabilities 0.5, 0.3, 0.15, 0.05, listed out of order
    logits = log_of([0.15, 0.5, 0.05, 0.3])
    assert kept(logits, top_p=0.3) == [1]  # the most probable token alone reaches 0.3
    assert kept(logits, top_p=0.5) == [1]  # ... and exactly 0.5
    assert kept(logits, top_p=0.51) == [1, 3]
    assert kept(logits, top_p=0.8) == [1, 3]  # 0.5 + 0.3 reaches 0.8 exactly: no third token
    assert kept(logits, top_p=0.81) == [0, 1, 3]
    assert kept(logits, top_p=0.96) == [0, 1, 2, 3]
    assert kept(logits, top_p=1e-9) == [1]  # the most probable token is always kept
    # p = 1 keeps everything, however improbable the tail
    tail = torch.tensor([30.0, 0.0, -5.0, -40.0])
    assert filter_logits(tail, top_p=1.0) is tail and kept(tail, top_p=1.0) == [0, 1, 2, 3]
    # the result's softmax is the renormalised nucleus
    probs = torch.softmax(filter_logits(logits, top_p=0.81), dim=-1)
    assert probs.tolist() == pytest.approx([0.15 / 0.95, 0.5 / 0.95, 0.0, 0.3 / 0.95], abs=1e-6)


def test_top_p_ties_take_the_lower_ids_so_the_set_stays_the_smallest():
    uniform = torch.zeros(4)
    assert kept(uniform, top_p=0.5) == [0, 1]
    assert kept(uniform, top_p=0.3) == [0, 1]
    assert kept(uniform, top_p=0.25) == [0]
    assert kept(uniform, top_p=0.76) == [0, 1, 2, 3]
    # 6 x 0.1 sums to 0.59999996 in float32: the nucleus still stops at six tokens
    assert kept(torch.zeros(10), top_p=0.6) == [0, 1, 2, 3, 4, 5]
    # long rows (where an unstable sort reorders ties): still the lowest ids, as argmax picks
    plateau = torch.zeros(100)
    plateau[50:] = 1.0
    assert kept(plateau, top_k=1) == [int(plateau.argmax())] == [50]
    assert kept(plateau, top_k=3) == [50, 51, 52]
    assert kept(plateau, top_p=0.04) == [50, 51, 52]  # each holds e / (50 e + 50) = 0.0146
    tied = log_of([0.2, 0.4, 0.2, 0.2])
    assert kept(tied, top_p=0.5) == [0, 1]
    assert kept(tied, top_p=0.7) == [0, 1, 2]


def test_top_p_is_taken_after_top_k_and_minus_infinity_stays():
    logits = log_of([0.5, 0.3, 0.15, 0.05])
    # top-2 renormalised: 0.625, 0.375
    assert kept(logits, top_k=2, top_p=0.6) == [0]
    assert kept(logits, top_k=2, top_p=0.7) == [0, 1]
    assert kept(logits, top_k=3, top_p=0.9) == [0, 1, 2]
    masked = torch.tensor([-INF, 2.0, 1.0, -INF, 0.0])
    assert kept(masked, top_p=0.99) == [1, 2, 4] and kept(masked, top_k=4) == [1, 2, 4]


def test_top_p_agrees_with_the_definition_on_random_rows():
    generator = torch.Generator().manual_seed(1)
    for p in (0.1, 0.5, 0.9, 0.99):
        logits = torch.randn(200, 30, generator=generator) * 2
        probs = torch.softmax(logits.double(), dim=-1)
        keep = torch.isfinite(filter_logits(logits, top_p=p))
        mass = (probs * keep).sum(-1)
        smallest_kept = probs.masked_fill(~keep, INF).min(-1).values
        largest_dropped = probs.masked_fill(keep, -INF).max(-1).values
        assert (mass >= p - 1e-5).all()  # reaches p
        assert (mass - smallest_kept < p).all()  # one token fewer would not
        assert (smallest_kept >= largest_dropped).all()  # the most probable tokens


@pytest.mark.parametrize("options", [{"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_p": -0.1}])
def test_filter_logits_refuses_out_of_range_options(options):
    with pytest.raises(ValueError, match="top_"):
        filter_logits(torch.zeros(3), **options)


# ---------------------------------------------------------------------------------------------- sampling
def test_sentence_lengths_end_at_eos_or_before_the_trailing_pads():
    tokens = torch.tensor(
        [
            [5, 6, EOS_ID, PAD_ID, PAD_ID],  # through <eos>
            [5, PAD_ID, 6, PAD_ID, PAD_ID],  # no <eos>: the trailing pads go, the one the model chose stays
            [PAD_ID] * 5,
            [EOS_ID, 5, EOS_ID, 6, 7],  # the first <eos> ends it
            [5, 6, 7, 8, 9],  # no end: the whole row
        ]
    )
    assert sentence_lengths(tokens, EOS_ID, PAD_ID).tolist() == [3, 3, 0, 1, 5]
    assert sentence_lengths(tokens, None, None).tolist() == [5] * 5  # the oracle: ids only


def test_untruncated_draws_are_generator_sample_draws(text_setup):
    _, _, checkpoint = text_setup
    generator, _ = load_generator(checkpoint)
    for temperature in (1.0, 0.7):
        ours = sample_sentences(generator, 50, temperature=temperature, seed=5, batch_size=16).tokens
        rng = torch.Generator().manual_seed(5)
        theirs = generator.sample(50, temperature=temperature, batch_size=16, generator=rng)
        assert torch.equal(ours, theirs)


def test_top_k_1_is_greedy_decoding(text_setup):
    _, datamodule, checkpoint = text_setup
    generator, _ = load_generator(checkpoint)
    with torch.no_grad():
        greedy = generator.unroll(1, generator.max_length, lambda logits: logits.argmax(dim=-1))[0]
    for temperature in (1.0, 3.0):
        samples = sample_sentences(
            generator,
            6,
            temperature=temperature,
            top_k=1,
            seed=2,
            eos_token=EOS_ID,
            pad_token=PAD_ID,
            keep_log_probs=True,
        )
        assert torch.equal(samples.tokens, greedy.expand(6, -1))
        assert samples.log_prob.tolist() == [0.0] * 6  # a point mass: every chosen token has probability 1
        assert (samples.model_log_prob < 0).all()


# ---------------------------------------------------------------------------------------------- the command
def test_seeded_runs_repeat_and_seeds_differ(text_setup, tmp_path, capsys):
    dataset_dir, _, checkpoint = text_setup
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "25"]
    outputs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        code, _, err = run_cli([*argv, "--seed", seed, "--top-p", "0.95", "--out", str(tmp_path / name)], capsys)
        assert code == 0 and "25 sentences" in err
        outputs[name] = (tmp_path / name).read_text()
        assert len(outputs[name].splitlines()) == 25
    assert outputs["a"] == outputs["b"]
    assert outputs["a"] != outputs["c"]
    code, out, _ = run_cli([*argv, "--seed", "3", "--top-p", "0.95"], capsys)  # stdout: the same lines
    assert code == 0 and out == outputs["a"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b", "c", "corpus", "gen.pt"]  # no temp files


def test_an_output_file_is_replaced_whole_or_not_at_all(text_setup, tmp_path, monkeypatch):
    dataset_dir, _, checkpoint = text_setup
    out = tmp_path / "samples.txt"
    out.write_text("the previous samples\n")
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--out", str(out)]

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr("textgan.atomic_files.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        main([*argv, "--num-samples", "5"])
    assert out.read_text() == "the previous samples\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus", "gen.pt", "samples.txt"]
    monkeypatch.undo()
    assert main([*argv, "--num-samples", "5"]) == 0
    assert len(out.read_text().splitlines()) == 5


def teacher_forced(generator, token_ids: list[int], transform=None) -> float:
    """Sum of ``log p(y_t | y_<t)`` of ``token_ids`` with teacher forcing, optionally of transformed logits."""
    tokens = torch.tensor([token_ids])
    with torch.no_grad():
        if transform is None:
            return float(generator.log_prob(tokens).sum())
        log_probs = torch.log_softmax(transform(generator(tokens).float()), dim=-1)
        return float(log_probs.gather(-1, tokens.unsqueeze(-1)).sum())


def test_jsonl_rows_carry_ids_of_the_text_and_their_log_probs(text_setup, tmp_path, capsys):
    dataset_dir, datamodule, checkpoint = text_setup
    generator, _ = load_generator(checkpoint)
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "40"]
    assert main([*argv, "--format", "jsonl", "--out", str(tmp_path / "plain.jsonl")]) == 0
    rows = read_jsonl(tmp_path / "plain.jsonl")
    assert len(rows) == 40 and {tuple(row) for row in rows} == {("text", "token_ids", "log_prob", "model_log_prob")}
    for row in rows:
        ids = row["token_ids"]
        assert datamodule.decode(torch.tensor([ids])) == [row["text"]]
        assert EOS_ID not in ids[:-1] and (not ids or ids[-1] != PAD_ID)  # cut after <eos>, trailing pads gone
        # temperature 1, no truncation: both are the model's log-probability of exactly these ids
        assert row["log_prob"] == pytest.approx(row["model_log_prob"], abs=1e-6)
        assert row["model_log_prob"] == pytest.approx(teacher_forced(generator, ids), abs=1e-4)
    assert any(row["token_ids"][-1] == EOS_ID for row in rows)

    truncated = ["--temperature", "0.5", "--top-p", "0.9", "--top-k", "6", "--format", "jsonl"]
    assert main([*argv, *truncated, "--out", str(tmp_path / "truncated.jsonl")]) == 0
    capsys.readouterr()

    def sampled_from(logits):
        return filter_logits(logits / 0.5, top_k=6, top_p=0.9)

    for row in read_jsonl(tmp_path / "truncated.jsonl"):
        assert row["model_log_prob"] == pytest.approx(teacher_forced(generator, row["token_ids"]), abs=1e-4)
        assert row["log_prob"] == pytest.approx(teacher_forced(generator, row["token_ids"], sampled_from), abs=1e-4)
        assert row["log_prob"] > row["model_log_prob"]  # sharper than the model


def test_word_level_text_round_trips_without_special_tokens(text_setup, tmp_path, capsys):
    dataset_dir, datamodule, checkpoint = text_setup
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "60"]
    assert main([*argv, "--format", "jsonl", "--out", str(tmp_path / "s.jsonl")]) == 0
    assert main([*argv, "--out", str(tmp_path / "s.txt")]) == 0
    rows = read_jsonl(tmp_path / "s.jsonl")
    assert [row["text"] for row in rows] == (tmp_path / "s.txt").read_text().split("\n")[:-1]
    corpus_words = {word for line in load_split(dataset_dir, "train")[1] for word in line.split()} | {"<unk>"}
    tokenizer = datamodule.tokenizer
    for row in rows:
        words = [tokenizer.id_to_token(i) for i in row["token_ids"] if i not in (PAD_ID, BOS_ID, EOS_ID)]
        assert row["text"] == " ".join(words)
        assert set(row["text"].split()) <= corpus_words
        assert not {"<eos>", "<pad>", "<bos>"} & set(row["text"].split())
    assert any(len(row["token_ids"]) < datamodule.max_length for row in rows)  # sentences end before T


def test_data_found_from_the_checkpoint_metadata(text_setup, tmp_path, capsys):
    dataset_dir, datamodule, checkpoint = text_setup
    generator, metadata = load_generator(checkpoint)
    build = torch.load(checkpoint, weights_only=False)["build"]
    with_data = save_generator(
        tmp_path / "run" / "generator.pt", generator, build, {**metadata, "dataset_dir": str(dataset_dir)}
    )
    code, found, _ = run_cli(["--checkpoint", str(with_data), "--num-samples", "10", "--quiet"], capsys)
    assert code == 0
    code, given, _ = run_cli(
        ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "10"], capsys
    )
    assert code == 0 and found == given and len(found.splitlines()) == 10
    # a text vocabulary without recorded or given data cannot be decoded
    code, out, err = run_cli(["--checkpoint", str(checkpoint), "--num-samples", "10"], capsys)
    assert code == 2 and out == "" and "say where the data are" in err


def test_bpe_corpus_detokenises_into_words(make_dataset, make_checkpoint, reference_lines, tmp_path):
    corpus = make_dataset(tmp_path / "corpus").parent  # its train.txt and test.txt, tokenised again as BPE
    dataset_dir = tmp_path / "bpe"
    build_dataset(
        dataset_dir, corpus / "train.txt", corpus / "test.txt", TokenizerOptions("bpe", 60, vocab_from="train+test")
    )
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    vocab = datamodule.tokenizer.get_vocab()
    assert any(not token.endswith(BPE_SUFFIX) and not token.startswith("<") for token in vocab)  # subwords
    assert datamodule.decode(datamodule.test_tokens) == reference_lines  # real sentences come back whole
    checkpoint = make_checkpoint(
        tmp_path / "bpe.pt", datamodule.vocab_size, datamodule.max_length, datamodule.vocab_fingerprint
    )
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "40"]
    assert main([*argv, "--format", "jsonl", "--out", str(tmp_path / "s.jsonl")]) == 0
    for row in read_jsonl(tmp_path / "s.jsonl"):
        assert not any(marker in row["text"] for marker in (BPE_SUFFIX, "##", "\u0120", "<eos>", "<pad>"))
        words, piece = [], ""  # subwords join until one ends a word ('</w>')
        for i in row["token_ids"]:
            if i in (PAD_ID, BOS_ID, EOS_ID):
                continue
            token = datamodule.tokenizer.id_to_token(i)
            piece += token.removesuffix(BPE_SUFFIX)
            if token.endswith(BPE_SUFFIX):
                words, piece = [*words, piece], ""
        assert row["text"].split() == ([*words, piece] if piece else words)


def test_progress_bar_only_on_a_terminal_and_not_when_quiet(text_setup, capsys, monkeypatch):
    dataset_dir, _, checkpoint = text_setup
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "30"]
    _, _, err = run_cli(argv, capsys)
    assert err == ""  # captured stderr is no terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _, out, err = run_cli(argv, capsys)
    assert "30/30" in err and len(out.splitlines()) == 30
    _, _, err = run_cli([*argv, "--quiet"], capsys)
    assert err == ""


def test_lightning_checkpoints_of_a_debug_run(tmp_path, capsys):
    from hydra_compose import compose_config

    from textgan.train import run

    run(compose_config(tmp_path, "adversarial.steps=1"))  # a fresh oracle: ids, no recorded data
    run_dir = tmp_path / "run"
    adversarial = run_dir / "checkpoints" / "adversarial" / "last.ckpt"
    pretrain = run_dir / "checkpoints" / "pretrain" / "last.ckpt"
    capsys.readouterr()

    def rows(path) -> list[dict]:
        argv = ["--checkpoint", str(path), "--num-samples", "20", "--top-k", "10", "--format", "jsonl"]
        code, out, err = run_cli(argv, capsys)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]

    after_gan, after_mle = rows(run_dir / "generator.pt"), rows(run_dir / "pretrained_generator.pt")
    assert [row["model_log_prob"] for row in after_gan] != [row["model_log_prob"] for row in after_mle]
    for row in after_gan:
        ids = [int(token) for token in row["text"].split()]
        assert ids == row["token_ids"] and len(ids) == 8 and all(0 <= i < 50 for i in ids)  # T = 8, V = 50
    assert rows(adversarial) == after_gan
    # rebuilt from generator.pt alone, the pretraining checkpoint still brings its own weights
    (run_dir / "pretrained_generator.pt").unlink()
    assert rows(pretrain) == after_mle

    loose = tmp_path / "last.ckpt"  # outside its run folder, nothing says how to rebuild the generator
    loose.write_bytes(adversarial.read_bytes())
    code, _, err = run_cli(["--checkpoint", str(loose)], capsys)
    assert code == 2 and "inside its run folder" in err
    (run_dir / "generator.pt").unlink()  # as mid-MLE: the build the run wrote at its start rebuilds it
    assert rows(pretrain) == after_mle
    (run_dir / "generator_build.json").write_text("{not json")
    code, _, err = run_cli(["--checkpoint", str(pretrain)], capsys)
    assert code == 2 and "generator_build.json: cannot be read as JSON" in err
    (run_dir / "generator_build.json").unlink()
    code, _, err = run_cli(["--checkpoint", str(pretrain)], capsys)
    assert code == 2 and "no generator file" in err


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--temperature", "0"], "--temperature must be > 0"),
        (["--temperature", "-1"], "--temperature must be > 0"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--top-k", "0"], "--top-k must be at least 1"),
        (["--num-samples", "0"], "--num-samples must be at least 1"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(text_setup, tmp_path, capsys, options, problem):
    dataset_dir, _, checkpoint = text_setup
    out = tmp_path / "out" / "samples.txt"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--out", str(out), *options]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 2 and stdout == ""
    assert err.startswith("textgan-generate: error: ") and problem in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "not a generator", "other vocabulary"])
def test_bad_checkpoints_exit_2_and_write_nothing(text_setup, make_checkpoint, tmp_path, capsys, kind):
    dataset_dir, datamodule, checkpoint = text_setup
    path = tmp_path / "bad.pt"
    problem = {
        "missing": "checkpoint not found",
        "text": "is not a PyTorch file (it looks like text",
        "truncated": "is truncated or damaged",
        "not a generator": "not a textgan generator file",
        "other vocabulary": "vocabulary mismatch",
    }[kind]
    if kind == "text":
        path.write_text("a man rides a horse .\n")
    elif kind == "truncated":
        path.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    elif kind == "not a generator":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "other vocabulary":
        make_checkpoint(path, datamodule.vocab_size, datamodule.max_length, "sha256:0123456789abcdef")
    out = tmp_path / "out" / "samples.jsonl"
    argv = ["--checkpoint", str(path), "--dataset-dir", str(dataset_dir), "--format", "jsonl", "--out", str(out)]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 2 and stdout == ""
    assert err.startswith("textgan-generate: error: ") and problem in err and str(path) in err
    assert not (tmp_path / "out").exists()


def test_log_probs_are_finite_sums(text_setup, tmp_path):
    dataset_dir, _, checkpoint = text_setup
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "10"]
    assert main([*argv, "--format", "jsonl", "--top-p", "0.5", "--out", str(tmp_path / "s.jsonl")]) == 0
    for row in read_jsonl(tmp_path / "s.jsonl"):
        assert math.isfinite(row["log_prob"]) and math.isfinite(row["model_log_prob"])
        assert row["model_log_prob"] <= row["log_prob"] <= 0.0


def test_byte_level_text_leaves_out_unfinished_characters_and_counts_them(broken_bytes_setup, tmp_path, capsys):
    """A byte-level generator may emit a character's first byte alone: no U+FFFD is written, a warning counts them."""
    dataset_dir, datamodule, checkpoint, sky, lead_byte = broken_bytes_setup
    out = tmp_path / "s.jsonl"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "16"]
    code, _, err = run_cli([*argv, "--format", "jsonl", "--quiet", "--out", str(out)], capsys)
    assert code == 0
    rows = read_jsonl(out)
    tokens = [row["token_ids"] for row in rows]
    assert all(set(ids) <= {sky, lead_byte, EOS_ID} for ids in tokens)
    broken = [ids.count(lead_byte) for ids in tokens]  # each lone 0xE4 is one invalid sequence
    assert 0 < sum(1 for count in broken if count) < len(rows)  # the case of the issue: some lines, not all
    lossy = datamodule.tokenizer.decode_batch([[i for i in ids if i != EOS_ID] for ids in tokens])
    assert sum(text.count("\ufffd") for text in lossy) == sum(broken)  # what tokenizers alone would have written
    for row, ids in zip(rows, tokens, strict=True):
        assert row["text"] == "天" * ids.count(sky)  # the complete characters, nothing else
    assert err == (
        f"textgan-generate: warning: {sum(1 for count in broken if count)} of 16 sentences held byte sequences "
        f"that are not UTF-8 ({sum(broken)} in all: characters the generator left unfinished); they were left out "
        f"of the text\ntextgan-generate: 16 sentences in {out.resolve()}\n"
    )
    code, _, err = run_cli([*argv, "--quiet", "--out", str(tmp_path / "s.txt")], capsys)
    assert code == 0 and "\ufffd" not in (tmp_path / "s.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- class labels
def labelled_folder(tmp_path):
    from textgan.cli.tokenize import main as tokenize

    rows = ["positive\ta good film", "negative\ta bad film", "positive\tgood fun", "negative\tbad plot"]
    (tmp_path / "all.tsv").write_text("\n".join(rows) + "\n")
    argv = ["--train", str(tmp_path / "all.tsv"), "--test", str(tmp_path / "all.tsv"), "--text-column", "1"]
    assert (
        tokenize(argv + ["--label-column", "0", "--label-names", "negative,positive", "--out", str(tmp_path / "d")])
        == 0
    )
    data = TextDataModule(dataset_dir=str(tmp_path / "d"))
    data.setup()
    return data


def test_label_is_refused_for_an_unconditional_generator(tmp_path, make_checkpoint, capsys):
    data = labelled_folder(tmp_path)
    checkpoint = make_checkpoint(tmp_path / "g.pt", data.vocab_size, data.max_length, data.vocab_fingerprint)
    capsys.readouterr()
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(data.dataset_dir), "--label", "positive"]
    code, out, err = run_cli(argv + ["--device", "cpu", "--num-samples", "2"], capsys)
    assert code == 2 and out == "" and "--label positive: the generator in" in err and "is unconditional" in err


def test_labels_of_a_conditional_generator(tmp_path):
    from argparse import Namespace

    from conditional_fakes import FakeConditionalGenerator

    from textgan.cli.generate import resolve_labels

    data = labelled_folder(tmp_path)
    fake = FakeConditionalGenerator({0: data.test_tokens, 1: data.test_tokens})

    def labels(label, num=5):
        return resolve_labels(Namespace(label=label, num_samples=num, checkpoint="g.pt"), fake, data)

    assert labels("positive")[0].tolist() == [1] * 5 and labels("positive")[1] == ["negative", "positive"]
    assert labels("0")[0].tolist() == [0] * 5
    assert labels("all")[0].tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"--label neutral: unknown class; the classes are 0 = negative, 1 = positive"):
        labels("neutral")
    with pytest.raises(ValueError, match=r"choose --label .*0 = negative, 1 = positive"):
        labels(None)


def test_conditional_sampling_asks_the_generator_for_the_classes(tmp_path):
    from conditional_fakes import FakeConditionalGenerator

    data = labelled_folder(tmp_path)
    rows = {c: data.train_tokens.to_tensor()[data.train_labels == c] for c in (0, 1)}
    fake = FakeConditionalGenerator(rows)
    wanted = torch.tensor([1, 0, 1])
    samples = sample_sentences(fake, 3, labels=wanted, eos_token=EOS_ID, pad_token=PAD_ID, batch_size=2)
    assert torch.cat(fake.asked).tolist() == [1, 0, 1]
    assert data.decode(samples.tokens) == ["a good film", "a bad film", "a good film"]  # batches of 2: 1, 0 | 1
    with pytest.raises(ValueError, match="drop top_k, top_p and keep_log_probs"):
        sample_sentences(fake, 3, labels=wanted, top_k=2)


def test_many_samples_of_one_generator_per_class_come_from_the_labelled_members():
    # enough tokens (N * T > 4 V) that an unconditional generator would build its input table first
    from textgan.models.per_class import GeneratorPerClass

    torch.manual_seed(0)
    generator = GeneratorPerClass(2, "textgan.models.lstm.LSTMGenerator", 6, 4, embedding_dim=3, hidden_dim=3)
    with torch.no_grad():  # member c always writes token 4 + c
        for c in (0, 1):
            generator.member(c).output.weight.zero_()
            generator.member(c).output.bias.copy_(torch.full((6,), -30.0).index_fill_(0, torch.tensor(4 + c), 30.0))
    labels = torch.tensor([0, 1] * 20)
    samples = sample_sentences(generator, 40, labels=labels, batch_size=16)
    assert samples.tokens.shape == (40, 4)
    assert torch.equal(samples.tokens, (4 + labels).unsqueeze(1).expand(40, 4))
