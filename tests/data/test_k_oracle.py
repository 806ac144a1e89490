"""The k-oracle benchmark: per-class samples, labelled loaders, and the conditional NLL_oracle."""

import pytest
import torch

from textgan.data.k_oracle_datamodule import KOracleDataModule
from textgan.data.oracle import OracleLSTM


def tiny(tmp_path, **overrides):
    options = dict(
        num_classes=3, vocab_size=20, embedding_dim=4, hidden_dim=4, max_length=6, train_per_class=10,
        test_per_class=4, cache_dir=str(tmp_path), batch_size=4, seed=5,
    )  # fmt: skip
    data = KOracleDataModule(**{**options, **overrides})
    data.setup()
    return data


def test_each_class_is_its_own_seeded_oracle(tmp_path):
    data = tiny(tmp_path, oracle_seed=7)
    assert data.num_classes == 3 and data.class_labels.names == ("class0", "class1", "class2")
    for c in range(3):
        fresh = OracleLSTM(20, 4, 4, 6, seed=7 + c)
        assert torch.equal(data.oracles[c].output_weight, fresh.output_weight)
    assert data.train_tokens.shape == (30, 6) and data.test_tokens.shape == (12, 6)
    assert data.train_labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert data.test_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_samples_are_cached_and_reproducible(tmp_path):
    first = tiny(tmp_path / "a")
    second = tiny(tmp_path / "b")
    assert torch.equal(first.train_tokens, second.train_tokens)
    assert len(list((tmp_path / "a").iterdir())) == 1


def test_conditional_nll_is_each_rows_own_oracles_nll(tmp_path):
    data = tiny(tmp_path)
    tokens = torch.randint(0, 20, (5, 6), generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([2, 0, 2, 1, 0])
    rows_of = {c: [i for i, label in enumerate(labels.tolist()) if label == c] for c in range(3)}
    per_class = {c: data.oracles[c].nll(tokens[rows]) for c, rows in rows_of.items()}
    # all rows have T tokens: the mean over tokens weights each class by its number of rows
    expected = sum(per_class[c] * len(rows) for c, rows in rows_of.items()) / 5
    assert data.nll_oracle(tokens, labels) == pytest.approx(expected, rel=1e-6)
    assert data.nll_oracle(tokens[[1]], labels[[1]]) == pytest.approx(data.oracles[0].nll(tokens[[1]]), rel=1e-6)
    # a row scored under another class's oracle scores differently
    assert data.nll_oracle(tokens[[0]], torch.tensor([1])) != pytest.approx(data.nll_oracle(tokens[[0]], labels[[0]]))


def test_conditional_nll_refuses_bad_labels(tmp_path):
    data = tiny(tmp_path)
    tokens = torch.zeros(2, 6, dtype=torch.long)
    with pytest.raises(ValueError, match="1 labels for 2 sentences"):
        data.nll_oracle(tokens, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\); got 0..3"):
        data.nll_oracle(tokens, torch.tensor([0, 3]))


def test_labelled_loaders_yield_tokens_and_their_labels(tmp_path):
    data = tiny(tmp_path)
    row_label = {
        tuple(row): label for row, label in zip(data.train_tokens.tolist(), data.train_labels.tolist(), strict=True)
    }
    tokens, labels = next(iter(data.train_dataloader()))
    assert tokens.shape == (4, 6) and labels.shape == (4,) and labels.dtype == torch.long
    tokens, labels = next(iter(data.random_batches(2)))
    assert tokens.shape == (8, 6) and labels.shape == (8,)
    for loader in (data.train_dataloader(), [next(iter(data.random_batches(2)))]):
        for tokens, labels in loader:
            assert [row_label[tuple(row)] for row in tokens.tolist()] == labels.tolist()


def test_class_names_must_match_k(tmp_path):
    with pytest.raises(ValueError, match="2 names for num_classes=3"):
        KOracleDataModule(num_classes=3, class_names=["a", "b"], vocab_size=10, cache_dir=str(tmp_path))


@pytest.mark.shared_data
def test_class_zero_can_be_the_seqgan_oracle(tmp_path, shared_data):
    data = KOracleDataModule(
        num_classes=2, oracle_path=str(shared_data / "oracle/seqgan_oracle_lstm.npz"), cache_dir=str(tmp_path)
    )
    seqgan = OracleLSTM.from_npz(shared_data / "oracle/seqgan_oracle_lstm.npz")
    assert torch.equal(data.oracles[0].embedding, seqgan.embedding)
    assert torch.equal(data.oracles[1].embedding, OracleLSTM(5000, 32, 32, 20, seed=1).embedding)
