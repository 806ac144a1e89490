"""Any corpus, any language: char and byte-level BPE tokenizers, CRLF / BOM input, and ``data=corpus`` end to end.

Chinese has no spaces between words, so word-level tokenisation cannot work on it; ``char`` and ``byte_bpe``
need no word boundaries and decode every stored row back to its text exactly, without inserted spaces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra_compose import compose_train

from textgan.cli.tokenize import main as tokenize_main
from textgan.data.build import build_dataset
from textgan.data.dataset_folder import load_split, load_tokenizer, read_manifest
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import EOS_ID, PAD_ID, TokenizerOptions, decode_rows, describe_invalid_utf8
from textgan.evaluation.sample_metrics import SampleMetrics

CHINESE = [
    "今天天气很好。",
    "我们去公园散步吧！",
    "他在图书馆看书。",
    "今天我们去看书吧。",
    "天气很好，我们去散步。",
]
CHINESE_TEST = ["我们今天去公园。", "他看书很好。"]
ENGLISH = ["a man rides a horse .", "two dogs play in the park .", "the cat sits on the mat ."]
MODES = [TokenizerOptions(model="char"), TokenizerOptions(model="byte_bpe", vocab_size=400)]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write_chinese(folder: Path) -> tuple[Path, Path]:
    """A plain UTF-8 training file and a Windows-style test file: BOM first, CRLF line endings."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(CHINESE) + "\n", encoding="utf-8")
    (folder / "test.txt").write_bytes(("\ufeff" + "\r\n".join(CHINESE_TEST) + "\r\n").encode("utf-8"))
    return folder / "train.txt", folder / "test.txt"


def decoded_rows(dataset_dir: Path, split: str) -> tuple[list[str], list[str]]:
    """Each stored row decoded (ids before the eos), and the stored texts."""
    tokenizer = load_tokenizer(dataset_dir)
    ids, texts = load_split(dataset_dir, split)
    return [tokenizer.decode(row[: row.index(EOS_ID)]) for row in ids.tolist()], texts


@pytest.mark.parametrize("options", MODES, ids=lambda options: options.model)
def test_chinese_round_trips_exactly(tmp_path, options):
    train, test = write_chinese(tmp_path / "corpus")
    build_dataset(tmp_path / "ds", train, test, options)
    for split, lines in (("train", CHINESE), ("test", CHINESE_TEST)):
        decoded, texts = decoded_rows(tmp_path / "ds", split)
        assert texts == lines  # the BOM and the CRs are gone from the stored text
        assert decoded == lines  # encode -> decode is the identity: no spaces, no byte markers
    vocab = load_tokenizer(tmp_path / "ds").get_vocab()
    if options.model == "char":  # every character one token
        assert {"今", "天", "。", "！"} <= set(vocab) and all(len(t) == 1 or t.startswith("<") for t in vocab)


@pytest.mark.parametrize("options", MODES, ids=lambda options: options.model)
def test_crlf_and_bom_are_not_tokens(tmp_path, options):
    folder = tmp_path / "corpus"
    folder.mkdir()
    crlf = folder / "windows.txt"
    crlf.write_bytes(("\ufeff" + "\r\n".join(CHINESE) + "\r\n").encode("utf-8"))
    manifest = build_dataset(tmp_path / "ds", crlf, crlf, options)
    assert manifest["splits"]["train"]["lines"] == len(CHINESE)
    assert manifest["splits"]["train"]["blank_lines_skipped"] == 0
    tokenizer = load_tokenizer(tmp_path / "ds")
    # byte_bpe holds all 256 bytes, '\r' among them, by design; what it learned (merges) and uses must not
    learned = range(4 + 256 if options.model == "byte_bpe" else 0, tokenizer.get_vocab_size())
    assert not any("\r" in tokenizer.decode([i]) or "\ufeff" in tokenizer.decode([i]) for i in learned)
    ids, _ = load_split(tmp_path / "ds", "train")
    used = {tokenizer.id_to_token(i) for i in ids.flatten().tolist()}
    assert used.isdisjoint({"\r", "\ufeff", "č"})  # 'č': byte 0x0D as ByteLevel writes it
    assert decoded_rows(tmp_path / "ds", "train")[0] == CHINESE


def test_crlf_and_bom_with_word_level(tmp_path):
    crlf = tmp_path / "windows.txt"
    crlf.write_bytes(("\ufeff" + "\r\n".join(ENGLISH) + "\r\n").encode("utf-8"))
    build_dataset(tmp_path / "ds", crlf, crlf)
    vocab = load_tokenizer(tmp_path / "ds").get_vocab()
    assert "a" in vocab and not any("\r" in t or "\ufeff" in t for t in vocab)
    assert decoded_rows(tmp_path / "ds", "train")[0] == ENGLISH


def test_english_in_char_mode_keeps_spaces(tmp_path):
    corpus = tmp_path / "en.txt"
    corpus.write_text("\n".join(ENGLISH) + "\n")
    build_dataset(tmp_path / "ds", corpus, corpus, TokenizerOptions(model="char"))
    tokenizer = load_tokenizer(tmp_path / "ds")
    assert " " in tokenizer.get_vocab()
    assert tokenizer.encode("a man").tokens[:3] == ["a", " ", "m"]
    assert decoded_rows(tmp_path / "ds", "train")[0] == ENGLISH


def test_cli_tokenizer_option_and_datamodule_decode(tmp_path):
    train, test = write_chinese(tmp_path / "corpus")
    for mode, extra in (("char", []), ("byte_bpe", ["--vocab-size", "400"])):
        out = tmp_path / mode
        argv = ["--train", str(train), "--test", str(test), "--tokenizer", mode, *extra, "--out", str(out)]
        assert tokenize_main(argv) == 0
        assert read_manifest(out)["tokenizer"]["model"] == mode
        data = TextDataModule(dataset_dir=str(out), batch_size=2)
        data.setup()
        assert data.decode(data.test_tokens) == CHINESE_TEST
        # BLEU units: one per Chinese character in both modes; the test split scores perfectly against itself
        assert data.text_words(["今天很好。"]) == [["今", "天", "很", "好", "。"]]
        assert SampleMetrics(data)(data.test_tokens)["bleu2"] == pytest.approx(1.0)


def test_byte_level_decoding_drops_and_counts_unfinished_characters(tmp_path):
    """A generator of bytes can stop inside a character or emit a lone continuation byte: the text keeps the
    complete characters only (no U+FFFD) and each invalid sequence is counted; a U+FFFD of the text itself stays."""
    build_dataset(tmp_path / "ds", *write_chinese(tmp_path / "corpus"), TokenizerOptions("byte_bpe", 300))
    data = TextDataModule(dataset_dir=str(tmp_path / "ds"))
    data.setup()
    tokenizer = data.tokenizer

    def ids(text: str) -> list[int]:
        return tokenizer.encode(text).ids[: tokenizer.encode(text).ids.index(EOS_ID)]

    def byte(text: str, index: int) -> int:  # the token of one byte of a character, alone
        return tokenizer.token_to_id(tokenizer.pre_tokenizer.pre_tokenize_str(text)[0][0][index])

    rows = [
        ids("今天") + [byte("好", 0), byte("好", 1)],  # the last character cut after two of its three bytes
        [byte("书", 2)] + ids("看书"),  # a lone continuation byte first
        ids("天") + [byte("好", 0)] + ids("气") + [byte("好", 1)],  # two broken sequences inside the line
        ids("天气很好。"),  # all complete
        ids("a\ufffdb"),  # a U+FFFD of the text itself (valid UTF-8: EF BF BD)
    ]
    expected = (["今天", "看书", "天气", "天气很好。", "a\ufffdb"], [1, 1, 2, 0, 0])
    lossy = tokenizer.decode_batch(rows)
    assert [text.count("\ufffd") for text in lossy] == [1, 1, 2, 0, 1]  # what tokenizers alone writes
    assert decode_rows(tokenizer, rows) == expected
    tokens = torch.full((len(rows), 12), PAD_ID)
    for index, row in enumerate(rows):
        tokens[index, : len(row) + 1] = torch.tensor([*row, EOS_ID])
    assert data.decode_and_count_invalid(tokens) == expected
    assert data.decode(tokens) == expected[0]
    # BLEU's words keep each broken sequence as a unit of its own that matches no reference, as before
    assert data.sample_words(tokens)[2] == ["天", "\ufffd", "气", "\ufffd"]
    assert describe_invalid_utf8(expected[1]) == (
        "3 of 5 sentences held byte sequences that are not UTF-8 (4 in all: characters the generator left "
        "unfinished); they were left out of the text"
    )
    assert describe_invalid_utf8([0, 0]) is None


def test_byte_bpe_needs_room_for_the_bytes():
    with pytest.raises(ValueError, match="byte_bpe needs more than"):
        TokenizerOptions(model="byte_bpe", vocab_size=100)
    with pytest.raises(ValueError, match="needs vocab_size"):
        TokenizerOptions(model="byte_bpe")


@pytest.mark.parametrize("mode", ["char", "byte_bpe"])
def test_bad_input_keeps_its_named_errors(tmp_path, capsys, mode):
    empty, latin1 = tmp_path / "empty.txt", tmp_path / "latin1.txt"
    empty.write_bytes(b"")
    latin1.write_bytes("今天\n".encode() + b"caf\xe9\n")
    extra = ["--vocab-size", "400"] if mode == "byte_bpe" else []
    for bad, message in ((empty, "file is empty"), (latin1, "line 2: invalid UTF-8")):
        argv = ["--test", str(bad), "--test-as-train", "--tokenizer", mode, *extra, "--out", str(tmp_path / "o")]
        assert tokenize_main(argv) == 2
        error = capsys.readouterr().err
        assert str(bad) in error and message in error
    assert not (tmp_path / "o").exists()


def corpus_config(tmp_path: Path, dataset_dir: Path, *overrides: str):
    """``data=corpus`` at debug size, as the getting-started page's command line: not through the debug preset,
    which swaps the data for the oracle; the default experiment's row length (20, for the oracle) is unset instead."""
    return compose_train(
        tmp_path,
        "data=corpus",
        f"data.dir={dataset_dir}",
        "data.max_length=null",
        "data.batch_size=4",
        "logger=csv",
        "pretrain.epochs=1",
        "adversarial.steps=2",
        "adversarial.eval_every=2",
        "adversarial.checkpoint_every=2",
        "evaluation.num_samples=8",
        "trainer.enable_progress_bar=false",
        *overrides,
    )


def test_data_corpus_composes_with_every_key_read(tmp_path):
    from omegaconf import OmegaConf

    from textgan.training.settings import unread_keys

    cfg = corpus_config(tmp_path, tmp_path / "ds")
    assert cfg.data._target_ == "textgan.data.text.TextDataModule" and cfg.data.dir == str(tmp_path / "ds")
    assert unread_keys(OmegaConf.to_container(cfg, resolve=False)) == []


def test_train_on_a_chinese_corpus_and_generate_chinese_text(tmp_path):
    from textgan.cli.generate import main as generate_main
    from textgan.train import run

    train, test = write_chinese(tmp_path / "corpus")
    dataset_dir = tmp_path / "ds"
    argv = ["--train", str(train), "--test", str(test), "--tokenizer", "char", "--out", str(dataset_dir)]
    assert tokenize_main(argv) == 0
    run(corpus_config(tmp_path, dataset_dir))
    generators = sorted((tmp_path / "run").rglob("generator.pt"))
    assert generators, sorted(str(p) for p in (tmp_path / "run").rglob("*"))
    out = tmp_path / "samples.txt"
    argv = ["--checkpoint", str(generators[0]), "--dataset-dir", str(dataset_dir), "--num-samples", "16"]
    assert generate_main([*argv, "--quiet", "--out", str(out)]) == 0
    samples = out.read_text(encoding="utf-8").splitlines()
    assert len(samples) == 16
    characters = set("".join(CHINESE))
    text = "".join(samples)
    assert any(c in characters for c in text)  # Chinese characters come out
    assert " " not in text  # the corpus has no spaces and none are inserted between characters
