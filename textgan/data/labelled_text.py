"""A labelled text corpus built from a TSV / CSV / JSONL file: the DataModule of ``data=movie_reviews`` and
``data=amazon_reviews``.

``LabelledTextDataModule`` is a ``TextDataModule`` whose dataset folder is built (on first use, and again only
when the file's sha256 or an option changes) by ``textgan.data.labelled_build`` from one labelled file, the test
split held out as ``test_fraction`` of the usable rows by a permutation seeded by ``split_seed`` (or from a second
file, ``test_file``). Reading the folder back, class labels included, is ``TextDataModule``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textgan.config_ranges import Rule, one_of
from textgan.data.labelled_build import build_labelled_dataset, is_labelled_up_to_date
from textgan.data.labelled_corpus import TIES, LabelOptions
from textgan.data.row_length import AUTO
from textgan.data.text import TextDataModule


class LabelledTextDataModule(TextDataModule):
    """A labelled corpus file -> a labelled dataset folder -> ``(tokens, labels)`` batches.

    Args:
        data_file: the labelled file (relative to ``root``); with no ``test_file`` it gives both splits.
        test_file: a labelled test file (optional).
        dataset_dir: where the folder is built.
        text_column, label_column, label_thresholds, label_names, label_ties, header, test_fraction, split_seed:
            ``textgan.data.labelled_corpus.LabelOptions`` (``label_thresholds``: ``thresholds``).
        tokenizer, ..., self_bleu_samples: ``TextDataModule``'s tokenizer, row length, batch and BLEU options.
    """

    config_ranges = {
        **TextDataModule.config_ranges,
        "label_ties": one_of(*TIES),
        "test_fraction": Rule(lambda v: isinstance(v, (int, float)) and 0 < v < 1, "a number in (0, 1)"),
    }

    def __init__(
        self,
        data_file: str,
        dataset_dir: str,
        test_file: str | None = None,
        root: str | None = None,
        text_column: str | int = "text",
        label_column: str | int = "label",
        label_thresholds: Sequence[float] | None = None,
        label_names: Sequence[str] | None = None,
        label_ties: str = "drop",
        header: bool | None = None,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        tokenizer: str = "word_level",
        vocab_size: int | None = None,
        min_frequency: int = 1,
        pre_tokenizer: str = "whitespace",
        lowercase: bool = False,
        vocab_from: str = "train",
        drop_longer_than: int | None = None,
        max_length: int | str | None = AUTO,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        bleu_orders: Sequence[int] = (2, 3, 4, 5),
        max_hypotheses: int | None = None,
        max_references: int | None = None,
        self_bleu_samples: int | None = None,
    ) -> None:
        super().__init__(
            dataset_dir=dataset_dir,
            tokenizer=tokenizer,
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            pre_tokenizer=pre_tokenizer,
            lowercase=lowercase,
            vocab_from=vocab_from,
            drop_longer_than=drop_longer_than,
            max_length=max_length,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            bleu_orders=bleu_orders,
            max_hypotheses=max_hypotheses,
            max_references=max_references,
            self_bleu_samples=self_bleu_samples,
        )
        base = Path(root) if root is not None else Path.cwd()
        self.data_file = (base / data_file).resolve()
        self.labelled_test_file = (base / test_file).resolve() if test_file else None
        self.labelling = LabelOptions(
            text_column=str(text_column),
            label_column=str(label_column),
            thresholds=tuple(label_thresholds) if label_thresholds is not None else None,
            label_names=tuple(label_names) if label_names is not None else None,
            ties=label_ties,
            header=header,
            test_fraction=test_fraction,
            split_seed=split_seed,
        )

    def prepare_data(self) -> None:
        """Build the labelled folder when it is missing or stale."""
        test_file, max_length = self.labelled_test_file, self.requested_max_length
        if is_labelled_up_to_date(
            self.dataset_dir, self.data_file, test_file, self.labelling, self.options, max_length
        ):
            return
        build_labelled_dataset(self.dataset_dir, self.data_file, test_file, self.labelling, self.options, max_length)
        self._manifest = None
        print(f"textgan: tokenised the labelled corpus {self.data_file} into {self.dataset_dir}")
