"""The oracle LSTM: loading the SeqGAN parameters, NLL against an independent numpy computation, sampling."""

import numpy as np
import pytest
import torch

from textgan.data.oracle import OracleLSTM

NPZ = "oracle/seqgan_oracle_lstm.npz"


def numpy_oracle_nll(arrays, tokens: np.ndarray) -> float:
    """Mean per-token NLL of ``tokens`` (N, T), written from the data README's equations in float64."""
    p = {k: arrays[k].astype(np.float64) for k in arrays.files}

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    n, length = tokens.shape
    h = np.zeros((n, p["U_i"].shape[0]))
    c = np.zeros_like(h)
    x = p["embedding"][np.zeros(n, dtype=np.int64)]  # start token 0
    total = 0.0
    for t in range(length):
        i = sigmoid(x @ p["W_i"] + h @ p["U_i"] + p["b_i"])
        f = sigmoid(x @ p["W_f"] + h @ p["U_f"] + p["b_f"])
        o = sigmoid(x @ p["W_o"] + h @ p["U_o"] + p["b_o"])
        g = np.tanh(x @ p["W_c"] + h @ p["U_c"] + p["b_c"])
        c = f * c + i * g
        h = o * np.tanh(c)
        logits = h @ p["W_out"] + p["b_out"]
        top = logits.max(axis=1, keepdims=True)
        log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        total += float((log_z - logits[np.arange(n), tokens[:, t]]).sum())
        x = p["embedding"][tokens[:, t]]
    return total / tokens.size


@pytest.mark.shared_data
def test_seqgan_oracle_nll_matches_numpy(shared_data):
    oracle = OracleLSTM.from_npz(shared_data / NPZ)
    samples = oracle.sample(300, 20, generator=torch.Generator().manual_seed(0))
    random_tokens = torch.randint(0, 5000, (100, 20), generator=torch.Generator().manual_seed(1))
    with np.load(shared_data / NPZ) as arrays:
        for tokens in (samples, random_tokens):
            assert oracle.nll(tokens) == pytest.approx(numpy_oracle_nll(arrays, tokens.numpy()), abs=1e-5)


@pytest.mark.slow  # 10,000 oracle samples
@pytest.mark.shared_data
def test_seqgan_oracle_scores_its_own_samples_as_documented(shared_data):
    oracle = OracleLSTM.from_npz(shared_data / NPZ)
    assert (oracle.vocab_size, oracle.max_length) == (5000, 20)
    samples = oracle.sample(2000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2000, 20)
    assert 5.6 < oracle.nll(samples) < 5.9  # README: 5.75 on 10,000 samples
    assert oracle.nll(torch.randint(0, 5000, (2000, 20))) > 11.0  # README: uniform tokens score 11.4


def test_seeded_oracle_is_reproducible_and_sampling_is_seeded():
    first, second = OracleLSTM(vocab_size=30, max_length=6, seed=3), OracleLSTM(vocab_size=30, max_length=6, seed=3)
    assert torch.equal(first.embedding, second.embedding)
    a = first.sample(50, generator=torch.Generator().manual_seed(0))
    b = second.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not torch.equal(OracleLSTM(vocab_size=30, seed=4).embedding, first.embedding)


def test_oracle_samples_follow_its_own_distribution():
    oracle = OracleLSTM(vocab_size=6, max_length=1, seed=0)
    draws = oracle.sample(60_000, 1, generator=torch.Generator().manual_seed(1))[:, 0]
    counts = torch.bincount(draws, minlength=6).double()
    probs = oracle.token_log_prob(torch.arange(6).view(6, 1)).exp().double().squeeze(1)
    expected = probs * counts.sum()
    assert float(((counts - expected) ** 2 / expected).sum()) < 20.515  # chi-square, df 5, p = 0.001


def test_from_npz_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        OracleLSTM.from_npz(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, embedding=np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="bad.npz.*missing arrays"):
        OracleLSTM.from_npz(bad)


def test_nll_rejects_tokens_outside_the_vocabulary():
    oracle = OracleLSTM(vocab_size=10, max_length=4)
    with pytest.raises(ValueError, match="token ids"):
        oracle.nll(torch.tensor([[1, 2, 10, 3]]))


def test_oracle_datamodule_refuses_a_bleu_order_below_one(tmp_path):
    from textgan.data.oracle_datamodule import OracleDataModule

    with pytest.raises(ValueError, match="data.bleu_orders"):
        OracleDataModule(vocab_size=6, max_length=5, cache_dir=str(tmp_path), bleu_orders=[0, 2])
