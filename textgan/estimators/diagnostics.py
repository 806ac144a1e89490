"""How biased and how noisy is an estimator's gradient? Exact gradients by enumeration and estimate statistics.

On a generator small enough to enumerate every sequence (``V ** T`` of them, e.g. V = 8, T = 4: 4,096) and a
frozen discriminator, the objective every estimator targets,

    L(theta) = E_{y ~ p_theta} [ f(y) ],   f(y) = mean_i loss_G(real_i, D(onehot(y)))

(the configured GAN loss's per-sentence generator loss, averaged over the real batch it is paired with; for
non-relativistic losses the real batch does not matter), is a finite sum, and its gradient is exact by
autograd through ``sum_y p_theta(y) f(y)``. Against it, ``N`` independent estimates (the protocol of the
ReinMax paper's gradient analysis) give the relative bias ``||mean - exact|| / ||exact||``, the relative
standard deviation ``sqrt(mean ||g_n - mean||^2) / ||exact||``, ``cos(mean, exact)`` and the mean cosine of
single estimates with the exact gradient.

Shapes: ``N`` sequences or estimates, ``T`` length, ``V`` vocabulary, ``P`` generator parameters, ``R``
discriminator logits per sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.base import Estimator
from textgan.losses.gan import GANLoss
from textgan.models.generator import Generator


def all_sequences(vocab_size: int, length: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Every sequence of ``length`` tokens: (V ** T, T) long, in lexicographic order."""
    if vocab_size**length > 1 << 20:
        raise ValueError(f"{vocab_size}^{length} sequences are too many to enumerate")
    grids = torch.meshgrid(*[torch.arange(vocab_size, device=device)] * length, indexing="ij")
    return torch.stack([grid.reshape(-1) for grid in grids], dim=1)


def sequence_rewards(
    discriminator: nn.Module,
    gan_loss: GANLoss,
    sequences: torch.Tensor,
    vocab_size: int,
    real_tokens: torch.Tensor | None = None,
) -> torch.Tensor:
    """``f(y)`` for each sequence (N, T): its per-sentence generator loss, averaged over the real batch: (N,).

    The discriminator reads one-hot rows (N, T, V), as the relaxed estimators show it sentences.
    """
    with torch.no_grad():
        fake = discriminator(F.one_hot(sequences, vocab_size).float()).float()  # (N, R)
        if not gan_loss.uses_real_in_generator_loss:
            return gan_loss.generator_loss(None, fake, reduction="none")
        if real_tokens is None:
            raise ValueError(f"{gan_loss!r} pairs fakes with real sentences: pass real_tokens")
        real = discriminator(real_tokens).float()  # (B, R)
        losses = [gan_loss.generator_loss(row.expand_as(fake), fake, reduction="none") for row in real]
        return torch.stack(losses, dim=1).mean(dim=1)


def exact_gradient(generator: Generator, sequences: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """``grad_theta sum_y p_theta(y) f(y)`` over every sequence: (P,) flattened in ``parameters()`` order."""
    log_probs = generator.log_prob(sequences).sum(dim=1)  # (N,) log p(y), teacher forced
    objective = (log_probs.exp() * rewards).sum()
    return flat_gradient(generator, objective)


def flat_gradient(module: nn.Module, scalar: torch.Tensor) -> torch.Tensor:
    """The gradient of ``scalar`` with respect to every trainable parameter of ``module``, flattened: (P,)."""
    parameters = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(scalar, parameters, allow_unused=True)
    return _flatten(grads, parameters)


def accumulated_gradient(module: nn.Module) -> torch.Tensor:
    """The ``.grad`` of every trainable parameter of ``module`` (zeros where None), flattened like
    :func:`flat_gradient`: (P,)."""
    parameters = [p for p in module.parameters() if p.requires_grad]
    return _flatten([p.grad for p in parameters], parameters).detach()


def _flatten(grads, parameters) -> torch.Tensor:
    pairs = zip(grads, parameters, strict=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in pairs])


def estimator_gradients(
    estimator: Estimator,
    generator: Generator,
    discriminator: nn.Module,
    gan_loss: GANLoss,
    real_tokens: torch.Tensor,
    draws: int,
    step: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, float]:
    """``draws`` independent estimates of the generator's gradient: (N, P), and seconds per estimate.

    Each estimate is the gradient of one ``generator_loss`` call (one batch of ``real_tokens``' size, or the
    estimator's ``num_samples``) with respect to the generator's parameters; the discriminator is frozen.
    Learned estimators are used as they are (their ``after_backward`` is not called).
    """
    discriminator.requires_grad_(False)
    estimates = []
    started = time.perf_counter()
    for draw in range(draws):
        out = estimator.generator_loss(generator, discriminator, real_tokens, gan_loss, step)
        estimates.append(flat_gradient(generator, out.loss).detach())
        if progress is not None:
            progress(draw)
    seconds = (time.perf_counter() - started) / max(draws, 1)
    return torch.stack(estimates), seconds


def gradient_statistics(estimates: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    """Bias and noise of estimates (N, P) of ``exact`` (P,), relative to ``||exact||``.

    ``relative_bias_standard_error`` is the bias's own noise floor: an unbiased estimator's relative bias is of
    that order, ``relative_std / sqrt(N)``.
    """
    mean = estimates.mean(dim=0)
    norm = exact.norm().clamp_min(1e-30)
    spread = (estimates - mean).square().sum(dim=1).mean().sqrt()
    single = F.cosine_similarity(estimates, exact.unsqueeze(0), dim=1)
    return {
        "relative_bias": float((mean - exact).norm() / norm),
        "relative_std": float(spread / norm),
        "relative_bias_standard_error": float(spread / norm / estimates.shape[0] ** 0.5),
        "cosine_mean_exact": float(F.cosine_similarity(mean, exact, dim=0)),
        "mean_single_cosine": float(single.mean()),
    }
