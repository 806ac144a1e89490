"""The LSTM language model behind the LM and reverse-LM scores: layout helpers, training, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.evaluation.language_model import (
    LanguageModel,
    LanguageModelSettings,
    end_at_eos,
    lm_nll,
    sentence_features,
    train_language_model,
    trim_padding,
)

PAD, BOS, EOS = 0, 1, 2
TINY = LanguageModelSettings(embedding_dim=16, hidden_dim=32, max_epochs=6, batch_size=32, learning_rate=1e-2)


def counting_rows(count: int, length: int = 10, vocab: int = 12, seed: int = 0) -> torch.Tensor:
    """Rows of consecutive ids from a random start (a learnable pattern), random lengths, then <eos> and pads."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.full((count, length), PAD)
    for row in rows:
        words = int(torch.randint(2, length - 1, (1,), generator=generator))
        start = int(torch.randint(0, vocab - 3, (1,), generator=generator))
        row[:words] = 3 + (start + torch.arange(words)) % (vocab - 3)
        row[words] = EOS
    return rows


def test_end_at_eos_pads_everything_after_the_first_eos():
    samples = torch.tensor([[5, 2, 7, 2, 9], [4, 6, 8, 9, 5], [2, 3, 3, 3, 3]])
    assert end_at_eos(samples, EOS, PAD).tolist() == [[5, 2, 0, 0, 0], [4, 6, 8, 9, 5], [2, 0, 0, 0, 0]]


def test_trim_padding_drops_only_all_pad_columns():
    rows = torch.tensor([[5, 2, 0, 0, 0], [4, 6, 2, 0, 0]])
    assert trim_padding(rows, PAD).tolist() == [[5, 2, 0], [4, 6, 2]]


def test_training_learns_the_pattern_and_is_deterministic():
    rows, held_out = counting_rows(400), counting_rows(100, seed=1)
    first = train_language_model(rows, 12, pad_token=PAD, start_token=BOS, settings=TINY)
    second = train_language_model(rows, 12, pad_token=PAD, start_token=BOS, settings=TINY)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    score = lm_nll(first, held_out)
    assert score < 0.5 * math.log(12)  # the pattern is learnt: far below the uniform model's log V
    noise = torch.randint(3, 12, (100, 10), generator=torch.Generator().manual_seed(5))
    assert lm_nll(first, noise) > score + 1.0
    assert first.history[0]["epoch"] == 1 and first.best_epoch >= 1


def test_the_held_out_nll_picks_the_best_epoch():
    lm = train_language_model(counting_rows(200), 12, pad_token=PAD, start_token=BOS, settings=TINY)
    best = min(row["validation_nll"] for row in lm.history)
    assert lm.history[lm.best_epoch - 1]["validation_nll"] == best
    order = torch.randperm(200, generator=torch.Generator().manual_seed(TINY.seed))
    validation = counting_rows(200)[order[:20]]  # the held-out part the training kept aside
    assert lm_nll(lm, validation) == pytest.approx(best, rel=1e-9)


def test_padding_is_not_scored():
    lm = train_language_model(counting_rows(100), 12, pad_token=PAD, start_token=BOS, settings=TINY)
    rows = counting_rows(20, length=10, seed=3)
    wider = torch.cat([rows, torch.full((20, 15), PAD)], dim=1)
    assert lm_nll(lm, wider) == pytest.approx(lm_nll(lm, rows), rel=1e-6)


def test_saved_state_rebuilds_the_same_model():
    lm = train_language_model(counting_rows(100), 12, pad_token=PAD, start_token=BOS, settings=TINY)
    state = lm.state()
    rebuilt = LanguageModel.from_state(state)
    rows = counting_rows(30, seed=4)
    assert lm_nll(rebuilt, rows) == lm_nll(lm, rows)
    assert torch.equal(sentence_features(rebuilt, rows), sentence_features(lm, rows))
    assert rebuilt.history == lm.history and rebuilt.settings == lm.settings


def test_sentence_features_read_the_whole_sentence():
    lm = train_language_model(counting_rows(100), 12, pad_token=PAD, start_token=BOS, settings=TINY)
    rows = torch.tensor([[3, 4, 5, EOS, PAD, PAD], [3, 4, 6, EOS, PAD, PAD]])
    features = sentence_features(lm, rows)
    assert features.shape == (2, TINY.hidden_dim)
    assert not torch.equal(features[0], features[1])  # the last word differs, so the feature does
    hidden = lm.model.hidden_states(rows)
    assert torch.allclose(features[0], hidden[0, 3])  # the state at <eos>: it has read every word


def test_bad_input_is_refused_with_its_shape():
    with pytest.raises(ValueError, match="at least 2 rows"):
        train_language_model(torch.zeros(1, 5, dtype=torch.long), 12, pad_token=PAD, start_token=BOS)
    with pytest.raises(ValueError, match=r"must lie in \[0, 12\)"):
        train_language_model(torch.full((4, 5), 20), 12, pad_token=PAD, start_token=BOS)
    with pytest.raises(ValueError, match="validation_fraction"):
        LanguageModelSettings(validation_fraction=1.0)
    lm = train_language_model(counting_rows(50), 12, pad_token=PAD, start_token=BOS, settings=TINY)
    with pytest.raises(ValueError, match="every row is padding"):
        lm_nll(lm, torch.zeros(3, 5, dtype=torch.long))
