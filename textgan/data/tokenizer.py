"""The vocabulary and its encoding: special tokens, tokenizer models, ids <-> text, fixed-length rows.

Special tokens have fixed ids: ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3; corpus tokens follow, most
frequent first. Row layout (T = ``max_length``): ``w_1 ... w_n <eos> <pad> ... <pad>``. ``<bos>`` is never
stored: it is the generator's start token (its first input). Why an explicit ``<eos>``: RelGAN pads with an
extra token and trains on every position, so its padding token doubles as the end marker; we keep a separate
``<eos>`` so that decoding stops at a token the model chose to emit, and ``<pad>`` can be masked if wanted.
The vocabulary comes from the training split by default (RelGAN's choice: test words outside it become
``<unk>``). Pre-tokenizers: ``whitespace`` (split on whitespace only: right for corpora already tokenised with
spaces) or ``words`` (also split punctuation off words: ``wheel.`` -> ``wheel .``, close to the nltk
tokenisation RelGAN / Texygen apply to COCO).

Tokenizer models: ``word_level`` and ``bpe`` use the pre-tokenizer above; two more need no word boundaries, so
they fit any language, Chinese or Japanese without spaces included, and ignore ``pre_tokenizer``:
``char`` (every Unicode character one token, the space included, fused back without separators) and
``byte_bpe`` (GPT-2's byte-level BPE: the ``ByteLevel`` pre-tokenizer and decoder, all 256 bytes in the
vocabulary, so no line ever needs ``<unk>``). Both decode a stored row back to its ``text`` exactly. Generated
byte-level ids can spell bytes that are not UTF-8 (a character left unfinished): ``decode_rows`` leaves them out of
the text, never writing U+FFFD, and counts them.

The dataset folder that stores the tokenizer and the encoded rows is ``textgan.data.dataset_folder``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(len(SPECIAL_TOKENS))
SPECIAL_TOKEN_IDS = {"pad": PAD_ID, "bos": BOS_ID, "eos": EOS_ID, "unk": UNK_ID}
BPE_SUFFIX = "</w>"
TOKENIZER_MODELS = ("word_level", "bpe", "char", "byte_bpe")
BYTES = 256  # byte_bpe's initial alphabet
# CJK punctuation, kana, Han (with extension A and compatibility), full-width forms: one BLEU unit each
CJK = "[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"


@dataclass(frozen=True)
class TokenizerOptions:
    """How the vocabulary is built.

    Args:
        model: ``word_level`` (one id per word), ``bpe`` (subwords; needs ``vocab_size``), ``char`` (one id per
            character, spaces included) or ``byte_bpe`` (byte-level BPE; needs ``vocab_size`` above
            ``4 + 256``: the specials and every byte).
        vocab_size: ids in total, special tokens included; word level: keep the most frequent words (None:
            all of them).
        min_frequency: words (merges) seen fewer times are left out of the vocabulary.
        pre_tokenizer: ``whitespace`` or ``words`` (punctuation split off; see the module docstring); ignored
            by ``char`` and ``byte_bpe``.
        lowercase: lowercase before everything else.
        vocab_from: ``train`` (RelGAN) or ``train+test``.
        drop_longer_than: drop the lines of more tokens than this (``<eos>`` not counted) from both splits
            before the vocabulary is built, as SentiGAN keeps MR's sentences of at most 15 words (None: keep
            every line). Lengths are the tokenizer's on all lines, exact for ``word_level`` and ``char``.
    """

    model: str = "word_level"
    vocab_size: int | None = None
    min_frequency: int = 1
    pre_tokenizer: str = "whitespace"
    lowercase: bool = False
    vocab_from: str = "train"
    drop_longer_than: int | None = None

    def __post_init__(self) -> None:
        if self.model not in TOKENIZER_MODELS:
            raise ValueError(f"tokenizer model must be one of {', '.join(TOKENIZER_MODELS)}, got {self.model!r}")
        if self.pre_tokenizer not in ("whitespace", "words"):
            raise ValueError(f"pre_tokenizer must be 'whitespace' or 'words', got {self.pre_tokenizer!r}")
        if self.vocab_from not in ("train", "train+test"):
            raise ValueError(f"vocab_from must be 'train' or 'train+test', got {self.vocab_from!r}")
        limit = self.drop_longer_than
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"drop_longer_than must be None (keep every line) or an integer >= 1, got {limit!r}")
        if self.model in ("bpe", "byte_bpe") and not self.vocab_size:
            raise ValueError(f"a {self.model} tokenizer needs vocab_size")
        if self.model == "byte_bpe" and self.vocab_size <= len(SPECIAL_TOKENS) + BYTES:
            raise ValueError(
                f"vocab_size={self.vocab_size}: byte_bpe needs more than {len(SPECIAL_TOKENS)} specials + "
                f"{BYTES} bytes (e.g. 1000 for a small corpus)"
            )
        if self.vocab_size is not None and self.vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(
                f"vocab_size={self.vocab_size} leaves no room beside the {len(SPECIAL_TOKENS)} specials"
            )


def train_tokenizer(lines: list[str], options: TokenizerOptions) -> Tokenizer:
    """Build the vocabulary from ``lines``; specials get ids 0..3, then tokens by frequency (ties: A-Z)."""
    specials = list(SPECIAL_TOKENS)
    if options.model in ("word_level", "char"):
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
        trainer = trainers.WordLevelTrainer(
            vocab_size=options.vocab_size or 2**31 - 1,
            min_frequency=options.min_frequency,
            special_tokens=specials,
            show_progress=False,
        )
    elif options.model == "byte_bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=options.vocab_size,
            min_frequency=options.min_frequency,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK, end_of_word_suffix=BPE_SUFFIX))
        tokenizer.decoder = decoders.BPEDecoder(suffix=BPE_SUFFIX)
        trainer = trainers.BpeTrainer(
            vocab_size=options.vocab_size,
            min_frequency=options.min_frequency,
            special_tokens=specials,
            end_of_word_suffix=BPE_SUFFIX,
            show_progress=False,
        )
    if options.lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = _pre_tokenizer(options)
    if options.model == "char":
        tokenizer.decoder = decoders.Fuse()  # characters back together, no separator
    tokenizer.train_from_iterator(lines, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, EOS_ID)]
    )
    for token, expected in zip(SPECIAL_TOKENS, range(len(SPECIAL_TOKENS)), strict=True):
        if tokenizer.token_to_id(token) != expected:  # the fixed ids are part of the format
            raise RuntimeError(
                f"special token {token} got id {tokenizer.token_to_id(token)}, expected {expected}"
            )
    return tokenizer


def _pre_tokenizer(options: TokenizerOptions) -> pre_tokenizers.PreTokenizer:
    if options.model == "char":  # every character alone, spaces kept as tokens (lines hold no newline)
        return pre_tokenizers.Split(Regex("."), behavior="isolated")
    if options.model == "byte_bpe":  # no prefix space: decoding gives the line back exactly
        return pre_tokenizers.ByteLevel(add_prefix_space=False)
    if options.pre_tokenizer == "whitespace":
        return pre_tokenizers.WhitespaceSplit()
    return pre_tokenizers.Whitespace()


def vocab_fingerprint(tokenizer: Tokenizer) -> str:
    """``sha256:`` of the tokens in id order: equal exactly when every id means the same token."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    return "sha256:" + hashlib.sha256(json.dumps(tokens, ensure_ascii=False).encode("utf-8")).hexdigest()


def words(tokenizer: Tokenizer, text: str) -> list[str]:
    """The words of ``text`` as the tokenizer sees them (normalised and pre-tokenised): BLEU's units.

    ``char``: the characters, spaces left out and ``<unk>`` one unit (character-level BLEU, the usual choice
    for Chinese); ``byte_bpe``: the whitespace-separated words, each Chinese / Japanese character (and CJK
    punctuation) a word of its own, since such text has no spaces to split on.
    """
    if tokenizer.normalizer is not None:
        text = tokenizer.normalizer.normalize_str(text)
    pre_tokenizer = tokenizer.pre_tokenizer
    if isinstance(pre_tokenizer, pre_tokenizers.Split):  # only the char model splits by regex
        return re.findall(rf"{re.escape(UNK)}|\S", text)
    if isinstance(pre_tokenizer, pre_tokenizers.ByteLevel):
        return re.findall(rf"{re.escape(UNK)}|{CJK}|[^\s{CJK[1:-1]}]+", text)
    return [word for word, _ in pre_tokenizer.pre_tokenize_str(text)]


def decode_rows(
    tokenizer: Tokenizer, rows: list[list[int]], drop_invalid_utf8: bool = True
) -> tuple[list[str], list[int]]:
    """Ids -> text of each row (special tokens kept as written), and per row the invalid UTF-8 sequences dropped.

    Only byte-level BPE can decode to bytes that are not UTF-8: a generator may emit a character's first byte
    without the rest, or a lone continuation byte. ``tokenizers`` writes U+FFFD for each such sequence; here
    it is dropped (``drop_invalid_utf8``), so that the text holds only characters the model completed, and
    counted (as U+FFFD would be: one per maximal invalid subsequence, the Unicode practice). Other tokenizers
    decode to text directly: nothing to drop, counts 0.
    """
    texts = tokenizer.decode_batch(rows, skip_special_tokens=False)
    dropped = [0] * len(texts)
    if not drop_invalid_utf8 or not isinstance(tokenizer.decoder, decoders.ByteLevel):
        return texts, dropped
    for row, text in enumerate(texts):
        if "\ufffd" in text:  # invalid bytes, or a U+FFFD that was in the corpus: decode the bytes to tell
            texts[row], dropped[row] = _valid_utf8(_byte_level_bytes(tokenizer, rows[row]))
    return texts, dropped


def describe_invalid_utf8(dropped: list[int]) -> str | None:
    """A sentence on ``decode_rows``' counts of dropped invalid UTF-8 sequences (one per row); None when none."""
    rows = sum(1 for count in dropped if count)
    if not rows:
        return None
    return (
        f"{rows} of {len(dropped)} sentences held byte sequences that are not UTF-8 ({sum(dropped)} in all: "
        "characters the generator left unfinished); they were left out of the text"
    )


def _byte_level_bytes(tokenizer: Tokenizer, ids: list[int]) -> bytes:
    """The bytes ``ids`` stand for under the ``ByteLevel`` pre-tokenizer's byte -> character map."""
    byte_of = _byte_level_map()
    tokens = (tokenizer.id_to_token(token_id) for token_id in ids)
    return b"".join(
        bytes(byte_of[c] for c in token) if all(c in byte_of for c in token) else token.encode("utf-8")
        for token in tokens
        if token is not None
    )


@lru_cache(maxsize=1)
def _byte_level_map() -> dict[str, int]:
    """Character -> byte of GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other
    68 bytes for the characters from U+0100 on, in byte order (``pre_tokenizers.ByteLevel.alphabet()``)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(BYTES) if byte not in printable]
    pairs = [(chr(byte), byte) for byte in printable] + [(chr(256 + n), byte) for n, byte in enumerate(others)]
    return dict(pairs)


def _valid_utf8(data: bytes) -> tuple[str, int]:
    """``data`` decoded as UTF-8 without its invalid sequences, and how many were dropped."""
    parts, dropped, start = [], 0, 0
    while True:
        try:
            parts.append(data[start:].decode("utf-8"))
            return "".join(parts), dropped
        except UnicodeDecodeError as error:
            parts.append(data[start : start + error.start].decode("utf-8"))
            start, dropped = start + error.end, dropped + 1


def encode_lines(tokenizer: Tokenizer, lines: list[str]) -> list[list[int]]:
    """Ids of each line with the eos appended, neither cut nor padded."""
    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return [encoding.ids for encoding in tokenizer.encode_batch(lines)]


def set_fixed_length(tokenizer: Tokenizer, max_length: int) -> None:
    """Make ``tokenizer.encode`` produce the stored rows: cut to T (eos kept) and pad to T."""
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(length=max_length, pad_id=PAD_ID, pad_token=PAD)
