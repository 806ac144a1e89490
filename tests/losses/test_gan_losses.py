"""The GAN losses of RelGAN's get_losses, on hand-computed values, and WGAN-GP's gradient penalty."""

import math

import pytest
import torch
from torch import nn

from textgan.losses import GANLoss, HingeGANLoss, LSGANLoss, RSGANLoss, StandardGANLoss, WGANGPLoss


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# one sentence, two representations: real logits (1, 0), fake logits (0, 2)
REAL = torch.tensor([[1.0, 0.0]])
FAKE = torch.tensor([[0.0, 2.0]])

EXPECTED = {  # (discriminator loss, generator loss), by hand
    RSGANLoss: ((softplus(-1.0) + softplus(2.0)) / 2, (softplus(1.0) + softplus(-2.0)) / 2),
    StandardGANLoss: (
        (softplus(-1.0) + softplus(0.0)) / 2 + (softplus(0.0) + softplus(2.0)) / 2,
        (softplus(0.0) + softplus(-2.0)) / 2,
    ),
    HingeGANLoss: ((0.0 + 1.0) / 2 + (1.0 + 3.0) / 2, -1.0),
    LSGANLoss: ((0.0 + 1.0) / 2 + (0.0 + 4.0) / 2, (1.0 + 1.0) / 2),
    WGANGPLoss: (1.0 - 0.5, -1.0),
}
LOSSES = list(EXPECTED)


@pytest.mark.parametrize("loss_class", LOSSES)
def test_losses_match_hand_computed_values(loss_class):
    loss = loss_class()
    d_expected, g_expected = EXPECTED[loss_class]
    assert float(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(d_expected, abs=1e-6)
    assert float(loss.generator_loss(REAL, FAKE)) == pytest.approx(g_expected, abs=1e-6)


@pytest.mark.parametrize("loss_class", LOSSES)
def test_generator_loss_decreases_when_fake_logits_increase(loss_class):
    loss = loss_class()
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    assert loss.generator_loss(real, fake + 0.5) < loss.generator_loss(real, fake)
    assert loss.discriminator_loss(real, fake + 0.5) > loss.discriminator_loss(real, fake)


@pytest.mark.parametrize("loss_class", LOSSES)
def test_losses_are_float32_under_bfloat16_logits(loss_class):
    loss = loss_class()
    real, fake = torch.randn(4, 2).bfloat16(), torch.randn(4, 2).bfloat16()
    d, g = loss.discriminator_loss(real, fake), loss.generator_loss(real, fake)
    assert d.dtype == g.dtype == torch.float32 and d.dim() == g.dim() == 0
    assert float(d) == pytest.approx(float(loss.discriminator_loss(real.float(), fake.float())), abs=1e-6)


def test_rsgan_pairs_each_real_logit_with_its_fake():
    real = torch.tensor([[0.0], [4.0]])
    fake = torch.tensor([[1.0], [3.0]])
    swapped = fake.flip(0)
    # pairs (0 vs 1, 4 vs 3) against (0 vs 3, 4 vs 1): different relativistic losses, same standard ones
    paired = (softplus(1.0) + softplus(-1.0)) / 2
    assert float(RSGANLoss().discriminator_loss(real, fake)) == pytest.approx(paired, abs=1e-6)
    assert RSGANLoss().discriminator_loss(real, swapped) != RSGANLoss().discriminator_loss(real, fake)
    standard = StandardGANLoss()
    assert torch.isclose(standard.discriminator_loss(real, swapped), standard.discriminator_loss(real, fake))
    assert RSGANLoss.uses_real_in_generator_loss and not StandardGANLoss.uses_real_in_generator_loss
    with pytest.raises(ValueError, match="pair up"):
        RSGANLoss().discriminator_loss(real, fake[:1])
    with pytest.raises(ValueError, match="needs the real logits"):
        RSGANLoss().generator_loss(None, fake)
    assert float(StandardGANLoss().generator_loss(None, fake)) > 0


class LinearDiscriminator(nn.Module):
    """D(x)_r = <x, W_r>: its input gradient is sum_r W_r everywhere, whatever the interpolation."""

    def __init__(self, weights: torch.Tensor) -> None:  # (R, T, V)
        super().__init__()
        self.weights = nn.Parameter(weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, V) -> (B, R)
        return torch.einsum("btv,rtv->br", x, self.weights)


def one_hot_batch(batch: int, length: int, vocab: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.randint(0, vocab, (batch, length)), vocab).float()


def test_gradient_penalty_is_zero_for_unit_gradient_norm_and_known_otherwise():
    weights = torch.randn(2, 3, 5)
    weights = weights / weights.sum(0).norm()  # the summed logits have a gradient of norm exactly 1
    real, fake = one_hot_batch(4, 3, 5), torch.softmax(torch.randn(4, 3, 5), -1)
    loss = WGANGPLoss(gp_weight=10.0)
    assert loss.penalty(LinearDiscriminator(weights), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    steep = LinearDiscriminator(3.0 * weights)  # gradient norm 3: penalty 10 * (3 - 1)^2
    penalty = loss.penalty(steep, real, fake)
    assert penalty.item() == pytest.approx(40.0, rel=1e-5)
    penalty.backward()  # differentiable in the discriminator's parameters (create_graph)
    assert steep.weights.grad is not None and steep.weights.grad.abs().sum() > 0
    tokens = real.argmax(-1)  # real sentences may be given as token ids
    assert loss.penalty(steep, tokens, fake).item() == pytest.approx(40.0, rel=1e-5)


def test_gradient_penalty_through_relgans_discriminator():
    from textgan.models.relgan_discriminator import RelGANDiscriminator

    discriminator = RelGANDiscriminator(
        11, 6, embedding_dim=4, num_rep=4, filter_sizes=[2, 3], num_filters=[5, 6]
    )
    real, fake = torch.randint(0, 11, (3, 6)), torch.softmax(torch.randn(3, 6, 11), -1)
    penalty = WGANGPLoss().penalty(discriminator, real, fake)
    assert torch.isfinite(penalty) and penalty > 0
    penalty.backward()
    assert discriminator.features.convs[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("loss_class", [RSGANLoss, StandardGANLoss, HingeGANLoss, LSGANLoss])
def test_only_wgan_gp_has_a_penalty(loss_class):
    loss = loss_class()
    assert isinstance(loss, GANLoss)
    assert (
        float(
            loss.penalty(
                LinearDiscriminator(torch.randn(1, 3, 5)), one_hot_batch(2, 3, 5), one_hot_batch(2, 3, 5)
            )
        )
        == 0
    )


@pytest.mark.parametrize("loss_class", LOSSES)
def test_per_sentence_generator_losses_average_to_the_batch_loss(loss_class):
    loss = loss_class()
    real, fake = torch.randn(5, 3), torch.randn(5, 3)
    per_sentence = loss.generator_loss(real, fake, reduction="none")
    assert per_sentence.shape == (5,)
    torch.testing.assert_close(per_sentence.mean(), loss.generator_loss(real, fake))
    # sentence i's loss depends on fake row i only (and, for the relativistic loss, on real row i only)
    moved = fake.clone()
    moved[2] += 1.0
    changed = loss.generator_loss(real, moved, reduction="none") != per_sentence
    assert changed.tolist() == [False, False, True, False, False]


def test_relativistic_per_sentence_loss_pairs_fake_i_with_real_i():
    real, fake = torch.tensor([[1.0], [-2.0]]), torch.tensor([[0.5], [0.5]])
    expected = torch.tensor([softplus(1.0 - 0.5), softplus(-2.0 - 0.5)])
    torch.testing.assert_close(RSGANLoss().generator_loss(real, fake, reduction="none"), expected)
    with pytest.raises(ValueError, match="reduction"):
        RSGANLoss().generator_loss(real, fake, reduction="sum")
