"""FED against the FID reference formula (scipy's sqrtm), MAUVE's two ends, and their refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from textgan.metrics.frechet import frechet_distance
from textgan.metrics.mauve import mauve_score


def reference_frechet(p: np.ndarray, q: np.ndarray) -> float:
    """The FID reference code's formula (pytorch-fid / TTUR): scipy.linalg.sqrtm of the covariance product."""
    mu_p, mu_q = p.mean(axis=0), q.mean(axis=0)
    cov_p, cov_q = np.atleast_2d(np.cov(p, rowvar=False)), np.atleast_2d(np.cov(q, rowvar=False))
    covmean = linalg.sqrtm(cov_p @ cov_q).real
    return float(((mu_p - mu_q) ** 2).sum() + np.trace(cov_p) + np.trace(cov_q) - 2 * np.trace(covmean))


def test_fed_equals_the_reference_formula():
    rng = np.random.default_rng(0)
    for dimension in (1, 3, 16):
        p = rng.normal(size=(200, dimension)) @ rng.normal(size=(dimension, dimension))
        q = rng.normal(loc=0.5, size=(150, dimension)) @ rng.normal(size=(dimension, dimension))
        assert frechet_distance(p, q) == pytest.approx(reference_frechet(p, q), rel=1e-8, abs=1e-8)


def test_fed_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(500, 4))
    assert frechet_distance(p, p) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([3.0, 0.0, 0.0, 4.0])
    assert frechet_distance(p, p + shift) == pytest.approx(25.0, rel=1e-9)  # equal covariances: ||shift||^2
    assert frechet_distance(p, 3.0 * p) > frechet_distance(p, 1.1 * p) > 0.0


def test_fed_refuses_too_few_rows_and_mismatched_dimensions():
    with pytest.raises(ValueError, match="at least 2 feature vectors"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.ones((5, 3)) * np.arange(5)[:, None], np.ones((5, 2)) * np.arange(5)[:, None])


def test_mauve_is_one_for_identical_sets_and_near_zero_for_disjoint_ones():
    rng = np.random.default_rng(2)
    p = rng.normal(size=(400, 8)).astype(np.float32)
    same = mauve_score(p, p.copy())
    assert same["mauve"] == pytest.approx(1.0, abs=1e-6)
    assert same["num_buckets"] == 40  # MAUVE's default: n / 10
    far = mauve_score(p, p + 50.0)
    assert far["mauve"] < 0.05 < same["mauve"]
    near = mauve_score(p, rng.normal(size=(400, 8)).astype(np.float32))
    assert far["mauve"] < near["mauve"] <= 1.0
    assert mauve_score(p, p + 50.0) == far  # seeded: the same inputs, the same score


def test_mauve_refuses_empty_features():
    with pytest.raises(ValueError, match="at least 2 feature vectors for q"):
        mauve_score(np.zeros((10, 2)), np.zeros((0, 2)))
