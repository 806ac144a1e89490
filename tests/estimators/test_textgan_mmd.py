"""TextGAN's kernel-MMD feature matching (``estimator=textgan_mmd``).

Checked: the MMD^2 estimates (unbiased and biased) equal a direct double loop over the pairs and a case worked by
hand; the generator's loss is that MMD^2 of the discriminator's features, a smooth function of the generator's
parameters through the soft-argmax (its gradient reaches every parameter of both generators and matches a finite
difference for fixed noise); the discriminator's loss is its GAN loss *minus* mmd_weight * MMD^2; one gradient
step of the discriminator raises the MMD and one of the generator lowers it, where Texygen's flipped sign (the
discriminator minimising the MMD) lowers it; a discriminator without features is refused by name.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from small_models import small_discriminators, small_generators

from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.estimators.textgan_mmd import TextganMmdEstimator
from textgan.losses.gan import StandardGANLoss, WGANGPLoss
from textgan.losses.mmd import mmd2

VOCAB, LENGTH, BATCH = 6, 6, 8
BANDWIDTHS = (0.5, 1.0, 4.0)


def estimator(beta: float = 1000.0, **kwargs) -> TextganMmdEstimator:
    kwargs.setdefault("bandwidths", BANDWIDTHS)
    return TextganMmdEstimator(InverseTemperatureSchedule(beta_max=beta, adapt="no", horizon=2), **kwargs)


def mmd2_by_loops(x: torch.Tensor, y: torch.Tensor, bandwidths, unbiased: bool) -> float:
    def k(a, b):
        return sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * s**2)) for s in bandwidths)

    def within(points):
        pairs = [(i, j) for i, j in itertools.product(range(len(points)), repeat=2) if i != j or not unbiased]
        return sum(k(points[i], points[j]) for i, j in pairs) / len(pairs)

    cross = sum(k(a, b) for a in x for b in y) / (len(x) * len(y))
    return within(x) + within(y) - 2 * cross


# ------------------------------------------------------------------------------------------------- the estimate
@pytest.mark.parametrize("unbiased", [True, False], ids=["unbiased", "biased"])
def test_mmd2_equals_the_double_loop_over_pairs(unbiased):
    torch.manual_seed(0)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64) + 0.7
    expected = mmd2_by_loops(x, y, BANDWIDTHS, unbiased)
    assert mmd2(x, y, BANDWIDTHS, unbiased).item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # float32 features with a large common offset (ReLU features are far from 0): centring keeps the precision
    offset = torch.full((1, 3), 300.0, dtype=torch.float64)
    assert mmd2((x + offset).float(), (y + offset).float(), BANDWIDTHS, unbiased).item() == pytest.approx(
        expected, abs=1e-4
    )


def test_mmd2_by_hand():
    # x = {0, 1}, y = {0, 2} on a line, one kernel with sigma = 1: k(a, b) = exp(-(a - b)^2 / 2)
    x, y = torch.tensor([[0.0], [1.0]], dtype=torch.float64), torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    e = math.exp
    cross = (1 + e(-2) + e(-0.5) + e(-0.5)) / 4  # k(0,0) k(0,2) k(1,0) k(1,2)
    unbiased = e(-0.5) + e(-2) - 2 * cross  # the off-diagonal pairs only: k(0,1) and k(0,2)
    biased = (2 + 2 * e(-0.5)) / 4 + (2 + 2 * e(-2)) / 4 - 2 * cross
    assert mmd2(x, y, [1.0], unbiased=True).item() == pytest.approx(unbiased, rel=1e-12)
    assert mmd2(x, y, [1.0], unbiased=False).item() == pytest.approx(biased, rel=1e-12)
    assert mmd2(x, x, [1.0], unbiased=False).item() == pytest.approx(0.0, abs=1e-15)


def test_the_unbiased_estimate_averages_to_zero_for_one_distribution_and_the_biased_one_does_not():
    torch.manual_seed(0)
    draws = torch.randn(1000, 2, 3, 2, dtype=torch.float64)  # 1000 pairs of sets of 3 points in 2-d
    unbiased = torch.stack([mmd2(a, b, [1.0]) for a, b in draws])
    biased = torch.stack([mmd2(a, b, [1.0], unbiased=False) for a, b in draws])
    error = 4 * unbiased.std().item() / math.sqrt(len(draws))  # 4 standard errors
    assert abs(unbiased.mean().item()) < error
    assert biased.mean().item() > 10 * error  # the diagonal pairs bias it upwards


# ------------------------------------------------------------------------------------------------ the generator
def generator_mmd(estimator_, generator, discriminator, real, seed: int = 7) -> torch.Tensor:
    torch.manual_seed(seed)  # the same Gumbel noise: the loss is a smooth function of the parameters
    return estimator_.generator_loss(generator, discriminator, real, StandardGANLoss(), 0).loss


@pytest.mark.parametrize("discriminator_index", [0, 1, 2], ids=["seqgan", "relgan", "lstm"])
@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
def test_the_generator_loss_is_the_mmd_of_features_and_reaches_every_generator_parameter(
    generator_index, discriminator_index
):
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[generator_index]
    discriminator = small_discriminators(VOCAB, LENGTH)[discriminator_index].eval()
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    scheme = estimator(beta=2.0)
    scheme.setup(generator, discriminator)
    loss = generator_mmd(scheme, generator, discriminator, real)
    torch.manual_seed(7)
    rows = scheme._sample(generator, BATCH, LENGTH, 2.0).relaxed  # the same rows, by hand
    features = discriminator.sentence_features
    assert torch.allclose(loss, mmd2(features(rows), features(real), BANDWIDTHS), atol=1e-6)
    loss.backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
def test_the_generator_gradient_is_the_derivative_of_the_relaxed_mmd(generator_index):
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[generator_index]
    discriminator = small_discriminators(VOCAB, LENGTH)[2].eval()  # the LSTM's: smooth (no max-pool, no ReLU kinks)
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    scheme = estimator(beta=2.0, bandwidths=(0.1, 0.3))  # the scale of these features: a slope well above rounding
    generator_mmd(scheme, generator, discriminator, real).backward()
    direction = [torch.randn_like(p) for p in generator.parameters()]
    slope = sum((p.grad * d).sum() for p, d in zip(generator.parameters(), direction, strict=True)).item()
    step = 1e-2  # float32: a central difference, error O(step^2) + rounding / step

    def moved(sign: float) -> float:
        with torch.no_grad():
            for p, d in zip(generator.parameters(), direction, strict=True):
                p.add_(sign * step * d)
        value = generator_mmd(scheme, generator, discriminator, real).item()
        with torch.no_grad():
            for p, d in zip(generator.parameters(), direction, strict=True):
                p.sub_(sign * step * d)
        return value

    assert (moved(1.0) - moved(-1.0)) / (2 * step) == pytest.approx(slope, rel=2e-2)


# -------------------------------------------------------------------------------------------- the discriminator
def test_the_discriminator_loss_is_the_gan_loss_minus_the_weighted_mmd():
    torch.manual_seed(0)
    discriminator = small_discriminators(VOCAB, LENGTH)[1].eval()
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    fake = torch.softmax(3 * torch.randn(BATCH, LENGTH, VOCAB), dim=-1)
    gan = StandardGANLoss()
    plain = estimator(mmd_weight=0.0).discriminator_loss(discriminator, real, fake, gan)
    assert torch.allclose(plain, gan.discriminator_loss(discriminator(real), discriminator(fake)))
    features = discriminator.sentence_features
    mmd = mmd2(features(fake), features(real), BANDWIDTHS)
    assert mmd > 0
    weighted = estimator(mmd_weight=0.5).discriminator_loss(discriminator, real, fake, gan)
    assert torch.allclose(weighted, plain - 0.5 * mmd)  # the discriminator maximises the MMD


def test_the_discriminator_loss_adds_the_penalty_and_regularisation():
    torch.manual_seed(0)
    discriminator = small_discriminators(VOCAB, LENGTH)[0].eval()  # SeqGAN's: an L2 on its output layer
    real, fake = torch.randint(VOCAB, (BATCH, LENGTH)), torch.softmax(torch.randn(BATCH, LENGTH, VOCAB), dim=-1)
    scheme = estimator(mmd_weight=0.0, discriminator_regularization=2.0)
    gan = StandardGANLoss()
    loss = scheme.discriminator_loss(discriminator, real, fake, gan)
    expected = gan.discriminator_loss(discriminator(real), discriminator(fake)) + 2 * discriminator.regularization()
    assert torch.allclose(loss, expected)
    with_penalty = scheme.discriminator_loss(discriminator, real, fake, WGANGPLoss())
    assert torch.isfinite(with_penalty)


def one_step(loss: torch.Tensor, module: torch.nn.Module, lr: float) -> None:
    parameters = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    with torch.no_grad():
        for p, g in zip(parameters, grads, strict=True):
            if g is not None:
                p.sub_(lr * g)


@pytest.mark.parametrize("discriminator_index", [0, 1], ids=["seqgan", "relgan"])
def test_a_step_of_each_player_moves_the_mmd_its_way_and_texygens_sign_does_not(discriminator_index):
    """The discriminator's step raises MMD^2 (it maximises it), the generator's lowers it; Texygen's TextGAN adds
    ``+ MMD`` to the discriminator's minimised loss, so its step lowers the MMD: this test fails on that defect."""
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[0]
    discriminator = small_discriminators(VOCAB, LENGTH)[discriminator_index].eval()
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    scheme = estimator(beta=2.0, mmd_weight=100.0)  # the MMD term dominates the GAN loss
    gan = StandardGANLoss()
    torch.manual_seed(3)
    fake = scheme.discriminator_fakes(generator, BATCH, LENGTH, 0)
    features = discriminator.sentence_features

    def current() -> float:
        with torch.no_grad():
            return mmd2(features(fake), features(real), BANDWIDTHS).item()

    state = {k: v.clone() for k, v in discriminator.state_dict().items()}
    before = current()
    one_step(scheme.discriminator_loss(discriminator, real, fake, gan), discriminator, lr=1e-3)
    assert current() > before
    discriminator.load_state_dict(state)
    texygen = gan.discriminator_loss(discriminator(real), discriminator(fake)) + 100.0 * mmd2(
        features(fake), features(real), BANDWIDTHS
    )
    one_step(texygen, discriminator, lr=1e-3)
    assert current() < before  # the flipped sign moves the MMD the wrong way
    discriminator.load_state_dict(state)

    for p in discriminator.parameters():  # the generator's turn: the discriminator is frozen, as in the loop
        p.requires_grad_(False)
    before = generator_mmd(scheme, generator, discriminator, real).item()
    one_step(generator_mmd(scheme, generator, discriminator, real), generator, lr=1e-1)
    assert generator_mmd(scheme, generator, discriminator, real).item() < before


def test_the_discriminator_is_shown_the_soft_argmax_rows():
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[1]
    rows = estimator().discriminator_fakes(generator, BATCH, LENGTH, 0)
    assert rows.shape == (BATCH, LENGTH, VOCAB) and not rows.requires_grad
    assert torch.allclose(rows.sum(-1), torch.ones(BATCH, LENGTH))
    assert (rows.max(-1).values > 0.99).float().mean() > 0.9  # L = 1000: nearly one-hot (but for near-ties)


def test_a_discriminator_without_features_is_refused_by_name():
    generator = small_generators(VOCAB, LENGTH)[0]
    with pytest.raises(TypeError, match="discriminator=textgan_cnn"):
        estimator().setup(generator, torch.nn.Linear(VOCAB, 1))
