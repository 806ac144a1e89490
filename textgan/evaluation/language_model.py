"""LM score and reverse-LM score: an LSTM language model trained by textgan scores one side with the other.

Cífka et al. (2018) and Caccia et al. ("Language GANs Falling Short", ICLR 2020):

- **LM score** (quality): a language model trained on the real training split scores the generated text;
  the mean per-token NLL of the samples under it. Lower is better; low-temperature samples score well.
- **Reverse-LM score** (diversity and coverage): a language model trained on the generated text scores the
  real test split. Lower is better; a mode-collapsed generator teaches an LM that cannot explain real text.

Both are mean per-token negative log-likelihoods in nats over the real tokens of each row and its ``<eos>``
(the pads after it are not scored, unlike Texygen's NLL_gen, so that a model is not rewarded for predicting
padding). Rows are (N, T) ids in textgan's layout: the sentence, ``<eos>``, then pads; generated rows are
brought to it by ``end_at_eos``.

The language model is textgan's own ``LSTMGenerator`` (one LSTM layer), trained with Adam on teacher-forced
NLL for a fixed budget; a seeded held-out part of its training text picks the best epoch (early stopping, as
Caccia et al. do), so the score never sees the text it is compared with. Everything is fixed by
``LanguageModelSettings`` and seeded: the same text and settings give the same model on CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field

import torch

from textgan.models.lstm import LSTMGenerator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageModelSettings:
    """The LM's size and training budget; changing any of them changes the scores (and the cache key)."""

    embedding_dim: int = 128
    hidden_dim: int = 256
    max_epochs: int = 15
    patience: int = 2  # stop after this many epochs without a better held-out NLL
    batch_size: int = 64
    learning_rate: float = 1e-3
    gradient_clip: float = 5.0
    validation_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "hidden_dim", "max_epochs", "patience", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"LanguageModelSettings.{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"LanguageModelSettings.validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"LanguageModelSettings.learning_rate must be > 0, got {self.learning_rate}")

    def key(self) -> str:
        """A short hash of every setting (for cache file names)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class LanguageModel:
    """A trained LM with what it was trained on: settings, token ids, and the per-epoch held-out NLL."""

    model: LSTMGenerator
    settings: LanguageModelSettings
    pad_token: int
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def best_epoch(self) -> int:
        return min(self.history, key=lambda row: row["validation_nll"])["epoch"] if self.history else 0

    def state(self) -> dict:
        """Plain data (tensors, numbers, strings) to save: ``LanguageModel.from_state`` rebuilds it."""
        return {
            "settings": dataclasses.asdict(self.settings),
            "vocab_size": self.model.vocab_size,
            "max_length": self.model.max_length,
            "start_token": self.model.start_token,
            "pad_token": self.pad_token,
            "history": self.history,
            "state_dict": self.model.state_dict(),
        }

    @classmethod
    def from_state(cls, state: dict) -> LanguageModel:
        settings = LanguageModelSettings(**state["settings"])
        model = _build(settings, state["vocab_size"], state["max_length"], state["start_token"])
        model.load_state_dict(state["state_dict"])
        model.eval()
        return cls(model, settings, int(state["pad_token"]), list(state["history"]))


def end_at_eos(tokens: torch.Tensor, eos_token: int, pad_token: int) -> torch.Tensor:
    """Generated rows (N, T) in textgan's layout: every position after the first ``<eos>`` becomes a pad."""
    is_eos = tokens == eos_token
    after_eos = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    return tokens.masked_fill(after_eos, pad_token)


def token_mask(tokens: torch.Tensor, pad_token: int) -> torch.Tensor:
    """The scored positions of rows (N, T): everything but the pads (the ``<eos>`` included)."""
    return tokens != pad_token


def _build(settings: LanguageModelSettings, vocab_size: int, max_length: int, start_token: int) -> LSTMGenerator:
    return LSTMGenerator(vocab_size, max_length, settings.embedding_dim, settings.hidden_dim, start_token)


def trim_padding(rows: torch.Tensor, pad_token: int) -> torch.Tensor:
    """``rows`` without the trailing columns that are padding in every row (nothing scored is lost)."""
    used = token_mask(rows, pad_token).any(dim=0).nonzero()
    return rows[:, : int(used.max()) + 1 if used.numel() else 1]


def _masked_nll_sum(model: LSTMGenerator, rows: torch.Tensor, pad_token: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL (nats) over the scored positions of ``rows`` and their count (all-pad columns skipped)."""
    rows = trim_padding(rows, pad_token)
    log_prob = model.log_prob(rows)
    mask = token_mask(rows, pad_token)
    return -(log_prob * mask).sum(), mask.sum()


@torch.no_grad()
def lm_nll(lm: LanguageModel, rows: torch.Tensor, batch_size: int = 256) -> float:
    """Mean per-token NLL (nats) of ``rows`` (N, T) under ``lm``: the LM / reverse-LM score."""
    model = lm.model
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for chunk in torch.split(rows, batch_size):
            nll_sum, scored = _masked_nll_sum(model, chunk.to(model.device), lm.pad_token)
            total += float(nll_sum.double())
            count += int(scored)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("no tokens to score: every row is padding")
    return total / count


def train_language_model(
    rows: torch.Tensor,
    vocab_size: int,
    *,
    pad_token: int,
    start_token: int,
    settings: LanguageModelSettings | None = None,
    device: str | torch.device = "cpu",
) -> LanguageModel:
    """Train an LSTM LM on ``rows`` (N, T) and return the epoch with the best held-out NLL.

    A seeded permutation holds out ``validation_fraction`` of the rows (at least one); training stops after
    ``max_epochs`` or ``patience`` epochs without improvement. Refuses (ValueError) fewer than 2 rows.
    """
    settings = settings or LanguageModelSettings()
    if rows.dim() != 2 or rows.shape[0] < 2:
        raise ValueError(f"a language model needs at least 2 rows of token ids (N, T), got shape {tuple(rows.shape)}")
    if int(rows.max()) >= vocab_size or int(rows.min()) < 0:
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got {int(rows.min())}..{int(rows.max())}")
    generator = torch.Generator().manual_seed(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)  # the weights' initialisation
        model = _build(settings, vocab_size, rows.shape[1], start_token).to(device)
    order = torch.randperm(rows.shape[0], generator=generator)
    held_out = max(1, int(round(settings.validation_fraction * rows.shape[0])))
    held_out = min(held_out, rows.shape[0] - 1)
    validation, training = rows[order[:held_out]], rows[order[held_out:]]
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    lm = LanguageModel(model, settings, pad_token)
    best_nll, best_state, stale = float("inf"), None, 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        for index in torch.randperm(training.shape[0], generator=generator).split(settings.batch_size):
            batch = training[index].to(device)
            nll_sum, scored = _masked_nll_sum(model, batch, pad_token)
            loss = nll_sum / scored.clamp_min(1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.gradient_clip)
            optimizer.step()
        validation_nll = lm_nll(lm, validation)
        lm.history.append({"epoch": epoch, "validation_nll": validation_nll})
        log.info("language model epoch %d/%d: held-out NLL %.4f", epoch, settings.max_epochs, validation_nll)
        if validation_nll < best_nll:
            best_nll, best_state, stale = validation_nll, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return lm


@torch.no_grad()
def sentence_features(lm: LanguageModel, rows: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """One feature vector per row (N, H): the LM's hidden state after reading the whole sentence.

    That is the cell output at the ``<eos>`` position (the state that predicts the ``<eos>``, having read every
    word), or at the last position of a row without one: the analogue of MAUVE's last-token GPT-2 feature.
    """
    model = lm.model
    model.eval()
    features = []
    for chunk in torch.split(rows, batch_size):
        chunk = chunk.to(model.device)
        hidden = model.hidden_states(chunk)  # (B, T, H)
        last = token_mask(chunk, lm.pad_token).long().sum(dim=1).clamp(min=1) - 1
        features.append(hidden[torch.arange(chunk.shape[0], device=chunk.device), last].float().cpu())
    return torch.cat(features)
