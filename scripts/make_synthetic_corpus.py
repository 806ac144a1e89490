"""Write a synthetic corpus of N lines (one sentence per line) for testing scale: nothing of it is committed.

Sentences are drawn from a fixed random Zipf-distributed vocabulary of made-up words, with lengths like news
sentences (5 to 40 words, mostly 10 to 25), so a 5-million-line file has the size and vocabulary shape of a
large real corpus (about 0.6 GB). Seeded: the same arguments write the same bytes. Example::

    python scripts/make_synthetic_corpus.py --lines 5000000 --out /tmp/big/train.txt
    python scripts/make_synthetic_corpus.py --lines 10000 --seed 1 --out /tmp/big/test.txt
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

BLOCK = 100_000


def vocabulary(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct pronounceable made-up words."""
    consonants, vowels = list("bcdfghjklmnprstvwz"), list("aeiou")
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.integers(1, 4)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return np.array(sorted(words))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--vocab-size", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    words = vocabulary(args.vocab_size, np.random.default_rng(12345))  # the same words for every seed
    rng = np.random.default_rng(args.seed)
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.1
    weights /= weights.sum()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as handle:
        for start in range(0, args.lines, BLOCK):
            count = min(BLOCK, args.lines - start)
            lengths = np.clip(rng.normal(17, 6, size=count).round().astype(int), 5, 40)
            tokens = words[rng.choice(len(words), size=int(lengths.sum()), p=weights)]
            ends = np.cumsum(lengths)
            sentences = (" ".join(tokens[end - n : end]) + " ." for n, end in zip(lengths, ends, strict=True))
            handle.write("\n".join(sentences))
            handle.write("\n")
    size = out.stat().st_size
    print(f"{out}: {args.lines:,} lines, {size / 2**20:.0f} MiB in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
