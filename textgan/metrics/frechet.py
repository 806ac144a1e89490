"""FED: the Fréchet distance between Gaussians fitted to two sets of sentence embeddings.

ScratchGAN (de Masson d'Autume et al., NeurIPS 2019) reports it as the Fréchet Embedding Distance, the text
analogue of FID (Heusel et al., 2017)::

    FED = ||mu_p - mu_q||^2 + Tr(S_p + S_q - 2 (S_p S_q)^(1/2))

with the means and covariances (``np.cov``: ddof = 1, as the FID reference code) of the two feature sets.
The matrix square root's trace is computed exactly from symmetric eigen-decompositions,
``Tr (S_p S_q)^(1/2) = sum_i sqrt(lambda_i(S_p^(1/2) S_q S_p^(1/2)))``, which for covariance matrices equals
the reference ``scipy.linalg.sqrtm`` formula without its complex round-off. Lower is closer; 0 for identical sets.
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of ``features`` (n, d), in float64; refuses fewer than 2 rows."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"FED needs at least 2 feature vectors (n, d), got shape {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(p_features: np.ndarray, q_features: np.ndarray) -> float:
    """FED between two feature sets (n, d) and (m, d) of the same dimension d."""
    mu_p, cov_p = gaussian_statistics(p_features)
    mu_q, cov_q = gaussian_statistics(q_features)
    if mu_p.shape != mu_q.shape:
        raise ValueError(f"feature dimensions differ: {mu_p.shape[0]} and {mu_q.shape[0]}")
    root_p = _psd_sqrt(cov_p)
    cross = np.clip(np.linalg.eigvalsh(root_p @ cov_q @ root_p), 0.0, None)
    distance = float(((mu_p - mu_q) ** 2).sum() + np.trace(cov_p) + np.trace(cov_q) - 2.0 * np.sqrt(cross).sum())
    return max(distance, 0.0)
