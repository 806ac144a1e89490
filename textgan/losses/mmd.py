"""Kernel maximum mean discrepancy between two sets of feature vectors (Gretton et al., JMLR 2012).

For samples ``x_1 .. x_m ~ P`` and ``y_1 .. y_n ~ Q`` and a kernel ``k``, the squared MMD

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)

is estimated by

    unbiased (U-statistic):  sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
                             - 2 sum_{i, j} k(x_i, y_j) / (m n)
    biased (V-statistic):    the same with the diagonal pairs included and every sum divided by its count of pairs
                             (m^2, n^2, m n); always >= 0, what TextGAN's released code computes.

The unbiased estimate can be slightly negative; its expectation is MMD^2 exactly, so its gradient with respect to
the generator's parameters is an unbiased estimate of the gradient of MMD^2. The kernel is a sum of Gaussian
kernels, one per bandwidth ``sigma`` (the mixture of Li et al., 2015, GMMN):

    k(a, b) = sum_sigma exp(-|a - b|^2 / (2 sigma^2))

Squared distances come from one (m + n) x (m + n) Gram matrix of the centred union of both sets (centring leaves
the distances unchanged and keeps the expansion ``|a|^2 + |b|^2 - 2 a.b`` from cancelling catastrophically on
features with a large common offset); it runs in float32 at least.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def gaussian_kernel_matrix(squared_distances: torch.Tensor, bandwidths: Sequence[float]) -> torch.Tensor:
    """``sum_sigma exp(-d / (2 sigma^2))`` elementwise for squared distances ``d`` (any shape)."""
    return sum(torch.exp(squared_distances * (-0.5 / float(sigma) ** 2)) for sigma in bandwidths)


def pairwise_squared_distances(points: torch.Tensor) -> torch.Tensor:
    """(N, F) -> (N, N) squared Euclidean distances, float32 at least, diagonal exactly 0."""
    points = points.to(torch.promote_types(points.dtype, torch.float32))
    centred = points - points.detach().mean(dim=0)  # distances are translation invariant
    squared_norms = centred.square().sum(dim=1)  # (N,)
    distances = squared_norms[:, None] + squared_norms[None, :] - 2.0 * (centred @ centred.t())
    distances = distances.clamp_min(0.0)
    return distances * (1.0 - torch.eye(len(points), device=points.device, dtype=distances.dtype))


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float], unbiased: bool = True) -> torch.Tensor:
    """Squared MMD between feature sets ``x`` (m, F) and ``y`` (n, F) with a Gaussian-mixture kernel (scalar).

    Differentiable in both sets. ``unbiased`` needs ``m, n >= 2`` (see the module docstring for both estimators).
    """
    m, n = x.shape[0], y.shape[0]
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd2 needs (m, F) and (n, F) features, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not bandwidths:
        raise ValueError("mmd2 needs at least one kernel bandwidth")
    if unbiased and min(m, n) < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples per set, got {m} and {n}")
    kernel = gaussian_kernel_matrix(pairwise_squared_distances(torch.cat([x, y.to(x.dtype)])), bandwidths)
    kxx, kyy, kxy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    if unbiased:  # the diagonal k(a, a) = len(bandwidths) is a constant: leave it out of the sums
        constant = float(len(bandwidths))
        within_x = (kxx.sum() - m * constant) / (m * (m - 1))
        within_y = (kyy.sum() - n * constant) / (n * (n - 1))
    else:
        within_x, within_y = kxx.mean(), kyy.mean()
    return within_x + within_y - 2.0 * kxy.mean()
