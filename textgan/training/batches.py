"""What a data loader yields: a bare tokens tensor (B, T), or ``(tokens, labels)`` for labelled data.

Labelled data (a datamodule with ``num_classes > 0``) yields ``(tokens LongTensor (B, T), labels LongTensor
(B,))``; the training modules take both apart here, once, and hand the labels on only to what takes them: a
class-conditional generator (``num_classes > 0``) and an estimator that declares ``conditional = True``.
"""

from __future__ import annotations

from typing import Any

import torch


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(tokens, labels)`` of a batch; labels None for unlabelled data."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        tokens, labels = batch
        if labels.shape[:1] != tokens.shape[:1]:
            raise ValueError(
                "a labelled batch needs one label per sentence: "
                f"tokens {tuple(tokens.shape)}, labels {tuple(labels.shape)}"
            )
        return tokens, labels
    raise TypeError(f"a batch must be a tokens tensor (B, T) or a (tokens, labels) pair, got {type(batch).__name__}")


def labels_for(model: Any, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """``{"labels": labels}`` when ``model`` is class-conditional and the batch is labelled, else ``{}``."""
    return {"labels": labels} if labels is not None and getattr(model, "num_classes", 0) > 0 else {}
