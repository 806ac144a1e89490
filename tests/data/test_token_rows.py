"""TokenRows: a stored split's rows read in place from memory-mapped Arrow files, indexed like a LongTensor."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from textgan.data.token_rows import RowDataset, TokenRows, batch_as_is


def stored_split(folder, rows: np.ndarray, shards: int = 1):
    """A split folder as ``_save_split`` writes it, in ``shards`` Arrow files (so several chunks)."""
    import datasets

    features = datasets.Features(
        {"input_ids": datasets.Sequence(datasets.Value("int32"), length=rows.shape[1]), "line": datasets.Value("int64")}
    )
    columns = {"input_ids": rows.astype(np.int32), "line": np.arange(1, len(rows) + 1)}
    datasets.Dataset.from_dict(columns, features=features).save_to_disk(str(folder), num_shards=shards)
    return folder


@pytest.fixture(params=[1, 3], ids=["one-file", "three-files"])
def split(request, tmp_path):
    rows = np.random.default_rng(0).integers(0, 50, size=(101, 7))
    return TokenRows(stored_split(tmp_path / "train", rows, request.param)), torch.from_numpy(rows)


def test_indexing_matches_the_rows_in_every_form(split):
    token_rows, expected = split
    assert len(token_rows) == 101 and token_rows.shape == (101, 7) and token_rows.dtype == torch.int64
    assert torch.equal(token_rows.to_tensor(), expected)
    order = torch.randperm(101, generator=torch.Generator().manual_seed(1))
    for index in (order, order[:5].tolist(), np.array([100, 0, 50, 50]), slice(3, 90, 4), slice(None, 5)):
        got = token_rows[index]
        assert got.dtype == torch.int64 and torch.equal(got, expected[torch.as_tensor(np.arange(101)[index])])
    assert torch.equal(token_rows[7], expected[7]) and torch.equal(token_rows[-1], expected[-1])
    assert torch.equal(torch.cat(list(token_rows.blocks(rows=30))), expected)
    with pytest.raises(IndexError, match="out of range for 101 rows"):
        token_rows[torch.tensor([101])]


def test_rows_are_read_in_place_not_copied(split):
    token_rows, _ = split
    for chunk in token_rows._chunks:  # zero-copy views of the mapped Arrow buffers: read-only, not owned
        assert not chunk.flags.writeable and not chunk.flags.owndata


def test_workers_reopen_the_files_instead_of_pickling_rows(split):
    token_rows, expected = split
    payload = pickle.dumps(token_rows)
    assert len(payload) < 1000  # a path, not 101 x 7 ids
    assert torch.equal(pickle.loads(payload).to_tensor(), expected)
    loaders = [
        torch.utils.data.DataLoader(RowDataset(token_rows), batch_size=16, collate_fn=batch_as_is, num_workers=n)
        for n in (0, 1)
    ]
    for in_process, in_worker in zip(*loaders, strict=True):
        assert torch.equal(in_process, in_worker)


def test_the_hash_depends_on_the_ids_only(tmp_path):
    rows = np.random.default_rng(0).integers(0, 50, size=(40, 5))
    one = TokenRows(stored_split(tmp_path / "a", rows, 1))
    three = TokenRows(stored_split(tmp_path / "b", rows, 3))
    assert len(three._chunks) == 3 and one.sha256() == three.sha256()
    rows[3, 2] += 1
    assert TokenRows(stored_split(tmp_path / "c", rows, 1)).sha256() != one.sha256()


def test_id_counts_count_every_id_over_all_files(split):
    token_rows, expected = split
    assert np.array_equal(token_rows.id_counts(), np.bincount(expected.flatten().numpy()))
    counts = token_rows.id_counts(minlength=60)  # ids the rows never hold count 0
    assert counts.shape == (60,) and counts[50:].sum() == 0 and counts.sum() == 101 * 7
