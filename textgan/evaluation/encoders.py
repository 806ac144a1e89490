"""Sentence encoders for MAUVE and FED: textgan's reference LM (offline default) or any Hugging Face model.

``--encoder lm`` embeds a sentence as the hidden state of the corpus's reference language model after reading
it (``textgan.evaluation.language_model.sentence_features``): always available, nothing downloaded, comparable
between runs on the same corpus. ``--encoder hf:NAME`` loads ``NAME`` (a Hub id or a local folder) with
``transformers.AutoModel`` and ``AutoTokenizer``, an optional extra (``pip install 'textgan[hf]'``): pooling
``last`` takes the last real token's final hidden state (MAUVE's choice with GPT-2), ``mean`` averages the real
tokens' final hidden states (sentence encoders such as BERT / MiniLM); ``auto`` picks ``last`` for causal LMs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from textgan.evaluation.language_model import LanguageModel, sentence_features

POOLINGS = ("auto", "last", "mean")
ENCODER_HELP = "lm (the corpus's reference language model, offline) or hf:NAME (a Hugging Face model or folder)"


@dataclass
class LanguageModelEncoder:
    """Features from the reference LM's hidden state after each sentence (reads the token rows)."""

    language_model: LanguageModel
    name: str = "lm"

    def features(self, texts: Sequence[str], rows: torch.Tensor) -> np.ndarray:
        return sentence_features(self.language_model, rows).numpy()


class HuggingFaceEncoder:
    """Features from a ``transformers`` model's final hidden states (reads the texts)."""

    def __init__(
        self,
        model_name: str,
        *,
        device: str = "cpu",
        pooling: str = "auto",
        batch_size: int = 64,
        max_length: int = 128,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"--encoder-pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        try:
            import transformers
        except ImportError as error:
            raise ImportError(
                f"--encoder hf:{model_name} needs the transformers package: pip install 'textgan[hf]'"
            ) from error
        transformers.logging.set_verbosity_error()
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_name)
            self.model = transformers.AutoModel.from_pretrained(model_name).to(device).eval()
        except (OSError, ValueError) as error:
            raise ValueError(f"--encoder hf:{model_name}: cannot load the model or its tokenizer ({error})") from error
        if self.tokenizer.pad_token is None:  # GPT-2 and other causal LMs have none; padded positions are masked
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.tokenizer.padding_side = "right"
        architectures = self.model.config.architectures or []
        causal = getattr(self.model.config, "is_decoder", False) or any(
            "CausalLM" in name or "LMHead" in name for name in architectures
        )
        if pooling == "auto":
            pooling = "last" if causal else "mean"
        self.name, self.pooling, self.device = f"hf:{model_name}", pooling, device
        self.batch_size, self.max_length = batch_size, max_length

    @torch.no_grad()
    def features(self, texts: Sequence[str], rows: torch.Tensor | None = None) -> np.ndarray:
        features = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text if text.strip() else " " for text in texts[start : start + self.batch_size]]
            encoded = self.tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
            ).to(self.device)
            hidden = self.model(**encoded).last_hidden_state.float()  # (B, L, D)
            mask = encoded["attention_mask"]
            if self.pooling == "last":
                last = mask.sum(dim=1).clamp(min=1) - 1
                pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
            else:
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
            features.append(pooled.cpu().numpy())
        return np.concatenate(features)


def make_encoder(
    spec: str,
    reference_lm: Callable[[], LanguageModel],
    *,
    device: str = "cpu",
    pooling: str = "auto",
) -> LanguageModelEncoder | HuggingFaceEncoder:
    """The encoder ``spec`` names (``lm`` or ``hf:NAME``); ``reference_lm`` is called only for ``lm``.

    Refuses (ValueError) any other spec, naming the accepted ones.
    """
    if spec == "lm":
        return LanguageModelEncoder(reference_lm())
    if spec.startswith("hf:") and len(spec) > 3:
        return HuggingFaceEncoder(spec[3:], device=device, pooling=pooling)
    raise ValueError(f"unknown encoder {spec!r}: use {ENCODER_HELP}")


def check_encoder_spec(spec: str) -> None:
    """Refuse (ValueError) a malformed ``--encoder`` before any work is done."""
    if spec != "lm" and not (spec.startswith("hf:") and len(spec) > 3):
        raise ValueError(f"unknown encoder {spec!r}: use {ENCODER_HELP}")
