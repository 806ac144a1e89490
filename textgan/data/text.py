"""Real text corpora (MS COCO captions, EMNLP2017 News) as a DataModule: tokens, and the words BLEU compares.

The data live in a dataset folder (``textgan.data.dataset_folder``): fixed-length rows ``w_1 .. w_n <eos>
<pad> ..`` with ``<pad>`` = 0, ``<bos>`` = 1 (the generator's start token), ``<eos>`` = 2, ``<unk>`` = 3.
Give either ``dataset_dir`` (a folder built by ``textgan-tokenize``) or ``train_file`` and
``test_file``: the folder is then built on first use and rebuilt only when the files' contents (sha256) or
the tokenizer options change.

Samples are scored (``textgan.evaluation.sample_metrics``) as Texygen / RelGAN do: BLEU-n of each generated
sentence against the whole test split as references, averaged over sentences, and Self-BLEU-n of each generated
sentence against the other generated ones, at word level (``<unk>`` in a sample never matches a reference word).
The module hands the words (``sample_words``, ``references``) and the protocol's settings (``bleu_orders`` ...).
A labelled folder (one with ``labels.json``) also gives ``class_labels``, ``train_labels`` and ``test_labels``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from textgan.config_ranges import Rule, integer, is_int, list_of, one_of, optional
from textgan.data.base import TokenDataModule
from textgan.data.build import build_dataset
from textgan.data.class_labels import ClassLabels
from textgan.data.dataset_folder import is_up_to_date, load_split, load_tokenizer, read_manifest
from textgan.data.labelled_build import load_labels
from textgan.data.row_length import AUTO, check_max_length
from textgan.data.token_rows import TokenRows
from textgan.data.tokenizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TOKENIZER_MODELS,
    UNK_ID,
    TokenizerOptions,
    decode_rows,
    encode_lines,
    words,
)


class TextDataModule(TokenDataModule):
    """A tokenised text corpus: MLE / adversarial batches, decoding, and the words of samples and references.

    Args:
        dataset_dir: the dataset folder to read; with ``train_file`` / ``test_file`` it is where the folder
            is built (default: ``cache_dir/<name of the test file's folder>-<hash of the paths>``).
        train_file, test_file: the corpus, one sentence per line, relative to ``root`` (default: the
            current directory). A test file is always needed (BLEU references, NLL_gen).
        test_as_train: with no ``train_file``, train on the test file itself (smoke tests on corpora whose
            training split is not at hand, e.g. EMNLP News here); BLEU then measures memorisation.
        tokenizer, vocab_size, min_frequency, pre_tokenizer, lowercase, vocab_from, drop_longer_than:
            ``TokenizerOptions`` (tokenizer: its ``model``: ``word_level``, ``bpe``, ``char`` or ``byte_bpe``;
            drop_longer_than: lines of more tokens are dropped from both splits).
        max_length: the row length T (eos included) when the folder is built (``textgan.data.row_length``):
            ``"auto"`` (default) drops outlying long training lines (longer than twice the 99th percentile, warned
            about) and takes the longest line left; None or ``"none"`` the longest line; an int cuts longer
            lines. With a prebuilt ``dataset_dir`` an int must match the folder's.
        bleu_orders: n of BLEU-n and Self-BLEU-n.
        max_hypotheses: BLEU scores only the first k samples (None: all).
        max_references: BLEU references are the first m test sentences (None: all).
        self_bleu_samples: Self-BLEU is computed on the first s samples (None: all).
        dir: another name for ``dataset_dir`` (``conf/data/corpus.yaml``: ``data.dir=PATH``).
    """

    config_ranges = {
        "tokenizer": one_of(*TOKENIZER_MODELS),
        "vocab_size": optional(Rule(lambda v: is_int(v) and v > len(SPECIAL_TOKENS),
                                    f"an integer > {len(SPECIAL_TOKENS)} (room beside the special tokens)")),
        "min_frequency": integer(1),
        "pre_tokenizer": one_of("whitespace", "words"),
        "vocab_from": one_of("train", "train+test"),
        "drop_longer_than": optional(integer(1)),
        "max_length": Rule(lambda v: v in (AUTO, "none", None) or (is_int(v) and v >= 2),
                           f"{AUTO!r}, null or an integer >= 2 (at least one token and <eos>)"),
        "bleu_orders": list_of(integer(1)),
        **{name: optional(integer(1)) for name in ("max_hypotheses", "max_references", "self_bleu_samples")},
    }  # fmt: skip

    def __init__(
        self,
        dataset_dir: str | None = None,
        train_file: str | None = None,
        test_file: str | None = None,
        root: str | None = None,
        test_as_train: bool = False,
        tokenizer: str = "word_level",
        vocab_size: int | None = None,
        min_frequency: int = 1,
        pre_tokenizer: str = "whitespace",
        lowercase: bool = False,
        vocab_from: str = "train",
        drop_longer_than: int | None = None,
        max_length: int | str | None = AUTO,
        cache_dir: str = ".cache/text",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        bleu_orders: Sequence[int] = (2, 3, 4, 5),
        max_hypotheses: int | None = None,
        max_references: int | None = None,
        self_bleu_samples: int | None = None,
        dir: str | None = None,  # the short config key: data=corpus data.dir=PATH
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if dir is not None:
            if dataset_dir is not None and Path(dataset_dir).resolve() != Path(dir).resolve():
                raise ValueError(f"dir={dir} and dataset_dir={dataset_dir} disagree: give one of them")
            dataset_dir = dir
        self.options = TokenizerOptions(
            tokenizer, vocab_size, min_frequency, pre_tokenizer, lowercase, vocab_from, drop_longer_than
        )
        self.requested_max_length = check_max_length(max_length)
        self.bleu_orders = tuple(int(n) for n in bleu_orders)
        for name, limit in (
            ("max_hypotheses", max_hypotheses),
            ("max_references", max_references),
            ("self_bleu_samples", self_bleu_samples),
        ):
            if limit is not None and int(limit) < 1:
                raise ValueError(f"{name} must be None (all) or at least 1, got {limit}")
        self.max_hypotheses, self.max_references = max_hypotheses, max_references
        self.self_bleu_samples = self_bleu_samples
        self.train_file, self.test_file = _corpus_files(
            train_file, test_file, root, test_as_train, dataset_dir
        )
        if dataset_dir is not None:
            self.dataset_dir = Path(dataset_dir).resolve()
        else:  # built from files (``_corpus_files`` refused having neither)
            key = hashlib.sha256(f"{self.train_file}\n{self.test_file}".encode()).hexdigest()[:8]
            self.dataset_dir = (Path(cache_dir) / f"{self.test_file.parent.name}-{key}").resolve()
        self._manifest: dict[str, Any] | None = None
        self._tokenizer: Tokenizer | None = None
        self._references: list[list[str]] | None = None
        self._trained_ids: np.ndarray | None = None  # (V,) bool: ids some training row holds (byte_bpe)
        self.test_texts: list[str] | None = None

    # ---- building and loading ----------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Build the dataset folder from the corpus files when it is missing or stale."""
        if self.test_file is None:
            return
        if is_up_to_date(
            self.dataset_dir, self.train_file, self.test_file, self.options, self.requested_max_length
        ):
            return
        build_dataset(
            self.dataset_dir, self.train_file, self.test_file, self.options, self.requested_max_length
        )
        self._manifest = None
        print(f"textgan: tokenised {self.train_file} and {self.test_file} into {self.dataset_dir}")

    def setup(self, stage: str | None = None) -> None:
        if self.train_tokens is not None:
            return
        self.prepare_data()
        manifest = self.manifest
        wanted = self.requested_max_length
        if isinstance(wanted, int) and wanted != manifest["max_length"]:
            raise ValueError(
                f"{self.dataset_dir} holds rows of max_length={manifest['max_length']}, "
                f"but max_length={wanted} was asked for: rebuild it with "
                f"textgan-tokenize --max-length {wanted}"
            )
        self.train_tokens = TokenRows(self.dataset_dir / "train")  # memory-mapped: never loaded whole
        test_ids, self.test_texts = load_split(self.dataset_dir, "test")
        self.test_tokens = torch.from_numpy(test_ids)
        if ClassLabels.exists(self.dataset_dir):  # a labelled corpus (textgan-tokenize --label-column)
            self._class_labels = ClassLabels.load(self.dataset_dir)
            self.train_labels = load_labels(self.dataset_dir, "train")
            self.test_labels = load_labels(self.dataset_dir, "test")

    @property
    def manifest(self) -> dict[str, Any]:
        """The dataset folder's ``manifest.json`` (valid after ``prepare_data``)."""
        if self._manifest is None:
            self._manifest = read_manifest(self.dataset_dir)
        return self._manifest

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.dataset_dir)
        return self._tokenizer

    # ---- facts -------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self.manifest["vocab_size"])

    @property
    def max_length(self) -> int:
        return int(self.manifest["max_length"])

    @property
    def start_token(self) -> int:
        return BOS_ID

    @property
    def pad_token(self) -> int:
        return PAD_ID

    @property
    def eos_token(self) -> int:
        return EOS_ID

    @property
    def vocab_fingerprint(self) -> str:
        """``sha256:`` of the vocabulary in id order (see ``tokenizer.vocab_fingerprint``)."""
        return str(self.manifest["vocab_fingerprint"])

    # ---- text --------------------------------------------------------------------------------------------
    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Token ids (N, T) -> sentences: everything up to the first ``<eos>``, pads and bos dropped.

        Byte-level BPE: byte sequences that are not UTF-8 (a character the generator left unfinished) are
        dropped, never written as U+FFFD; ``decode_and_count_invalid`` also says how many.
        """
        return self.decode_and_count_invalid(tokens)[0]

    def decode_and_count_invalid(self, tokens: torch.Tensor) -> tuple[list[str], list[int]]:
        """``decode``'s sentences and, per sentence, the invalid UTF-8 byte sequences dropped (byte_bpe only)."""
        return decode_rows(self.tokenizer, _sentence_rows(tokens))

    def sample_words(self, samples: torch.Tensor) -> list[list[str]]:
        """Generated ids (N, T) -> the words of each decoded sentence (BLEU's units).

        Unlike ``decode``, an invalid UTF-8 byte sequence stays in the text as U+FFFD (byte_bpe), a unit that
        matches no reference word, as ``<unk>`` does: a generator is not scored higher for breaking characters.
        """
        texts, _ = decode_rows(self.tokenizer, _sentence_rows(samples), drop_invalid_utf8=False)
        if self.manifest["tokenizer"]["model"] in ("char", "byte_bpe"):  # no spaces between units to split on
            return self.text_words(texts)
        return [text.split() for text in texts]

    def text_words(self, texts: Sequence[str]) -> list[list[str]]:
        """Sentences -> words, normalised and split as the tokenizer does (e.g. a file of generated text)."""
        return [words(self.tokenizer, text) for text in texts]

    def count_unknown_tokens(self, texts: Sequence[str]) -> tuple[int, int]:
        """How many of the tokens that ``texts`` encode to (eos not counted) are unknown, of how many.

        Unknown: ``<unk>``, a word, subword or character outside the vocabulary. Byte-level BPE encodes every
        text without ``<unk>``, so there a token is unknown when no training row holds it (e.g. the bytes of
        Chinese characters under a vocabulary built from English). Needs ``setup()``.
        """
        ids = [row[:-1] for row in encode_lines(self.tokenizer, list(texts))]
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64)
        if self.manifest["tokenizer"]["model"] != "byte_bpe":
            return int((flat == UNK_ID).sum()), int(flat.size)
        if self._trained_ids is None:
            if self.train_tokens is None:
                raise RuntimeError("count_unknown_tokens needs setup()")
            self._trained_ids = self.train_tokens.id_counts(self.vocab_size) > 0
        known = self._trained_ids[np.clip(flat, 0, len(self._trained_ids) - 1)]
        return int((~known).sum()), int(flat.size)

    @property
    def references(self) -> list[list[str]]:
        """Words of every test sentence (the BLEU references; cut lines in full)."""
        if self._references is None:
            if self.test_texts is None:
                raise RuntimeError("references are available after setup()")
            self._references = self.text_words(self.test_texts)
        return self._references

    # ---- the evaluation protocol ---------------------------------------------------------------------------
    def protocol(self) -> dict[str, Any]:
        """The evaluation settings that numbers depend on, for results files."""
        return {
            "bleu_orders": list(self.bleu_orders),
            "max_hypotheses": self.max_hypotheses,
            "max_references": self.max_references,
            "num_references": len(self.references[: self.max_references]),
            "self_bleu_samples": self.self_bleu_samples,
            "dataset_dir": str(self.dataset_dir),
            "vocab_fingerprint": self.vocab_fingerprint,
        }


def _sentence_rows(tokens: torch.Tensor) -> list[list[int]]:
    """Token ids (N, T) -> each row's ids up to its first ``<eos>``, pads and bos dropped."""
    rows = []
    for row in tokens.tolist():
        if EOS_ID in row:
            row = row[: row.index(EOS_ID)]
        rows.append([token for token in row if token not in (PAD_ID, BOS_ID)])
    return rows


def _corpus_files(
    train_file: str | None,
    test_file: str | None,
    root: str | None,
    test_as_train: bool,
    dataset_dir: str | None,
) -> tuple[Path | None, Path | None]:
    """Resolve the corpus files against ``root``; refuse incomplete combinations with what to set."""
    if train_file is None and test_file is None:
        if dataset_dir is None:
            raise ValueError("TextDataModule needs dataset_dir, or train_file and test_file")
        return None, None
    base = Path(root) if root is not None else Path.cwd()
    if test_file is None:
        raise ValueError(
            f"train_file={train_file} given without test_file (BLEU references, NLL_gen): set test_file"
        )
    test = (base / test_file).resolve()
    if train_file is None:
        if not test_as_train:
            raise ValueError(
                f"no training file for the corpus whose test split is {test}: set train_file=PATH (e.g. "
                "data.train_file=/path/to/train.txt), or test_as_train=true to train on the test split "
                "itself (smoke tests only: BLEU against the training data then measures memorisation)"
            )
        return test, test
    return (base / train_file).resolve(), test
