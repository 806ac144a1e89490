"""MAUVE (Pillutla et al., NeurIPS 2021) on precomputed sentence features, through the ``mauve-text`` package.

MAUVE quantises the union of both feature sets (PCA keeping 90 % of the variance, then k-means into n / 10
buckets, n the smaller set), and measures the area under the divergence frontier of the two bucket
histograms, scaled by c = 5: 1 for identical distributions, near 0 for disjoint ones. textgan calls the
reference implementation (``mauve.compute_mauve``) with its published defaults and only supplies the features,
so the scores are the package's; the features come from a pluggable encoder
(``textgan.evaluation.encoders``). ``mauve-text`` is imported only when MAUVE is computed, so the core stays
importable with torch and numpy alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

INSTALL_HINT = "MAUVE needs the mauve-text package (a dependency of textgan): pip install mauve-text"


def mauve_score(p_features: np.ndarray, q_features: np.ndarray, *, seed: int = 25, **options: Any) -> dict[str, float]:
    """MAUVE of text P (e.g. real) against text Q (e.g. generated) from their features (n, d) and (m, d).

    Returns ``mauve`` and ``frontier_integral`` (lower is closer) and the number of buckets used.
    ``options`` go to ``mauve.compute_mauve`` (e.g. ``num_buckets``, ``kmeans_num_redo``); ``seed`` seeds its
    k-means, so equal inputs give equal scores.
    """
    try:
        import mauve
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    p_features, q_features = np.asarray(p_features, np.float32), np.asarray(q_features, np.float32)
    for name, features in (("p", p_features), ("q", q_features)):
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"MAUVE needs at least 2 feature vectors for {name}, got shape {features.shape}")
    result = mauve.compute_mauve(p_features=p_features, q_features=q_features, seed=seed, verbose=False, **options)
    return {
        "mauve": float(result.mauve),
        "frontier_integral": float(result.frontier_integral),
        "num_buckets": int(result.num_buckets),
    }
