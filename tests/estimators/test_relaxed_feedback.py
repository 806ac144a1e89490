"""Gumbel-Softmax with the relaxed row fed back (GSGAN, ``feedback=relaxed``) against RelGAN's hard feedback.

Checked: at a low temperature the fed-back rows are the one-hot Gumbel-Max sentence of the same noise; the
relaxed feedback carries gradient from a later row back to an earlier step's noise, which hard feedback cannot;
the estimator sends gradients to every parameter of both generators (also under bf16 autocast) and shows the
discriminator relaxed rows in both its phases; bad option pairs are refused by name.
"""

from __future__ import annotations

import pytest
import torch
from small_models import small_discriminators, small_generators

from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import StandardGANLoss
from textgan.sampling import gumbel_noise

VOCAB, LENGTH, BATCH = 12, 6, 5


def schedule(beta: float = 1.0) -> InverseTemperatureSchedule:
    return InverseTemperatureSchedule(beta_max=beta, adapt="no", horizon=2)


@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
def test_at_a_low_temperature_the_rows_are_the_gumbel_max_sentence_fed_its_own_tokens(generator_index):
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[generator_index]
    noise = gumbel_noise((BATCH, LENGTH, VOCAB))
    steps = iter(range(LENGTH))

    def choose(logits: torch.Tensor) -> torch.Tensor:
        return (logits.float() + noise[:, next(steps)]).argmax(dim=-1)

    with torch.no_grad():
        hard_tokens, _, _ = generator.unroll(BATCH, LENGTH, choose)
        rows = generator.rsample_relaxed_feedback(noise, 1e-4)
        soft_rows = generator.rsample_relaxed_feedback(noise, 1.0)
    assert torch.equal(rows.argmax(dim=-1), hard_tokens)
    assert rows.max(dim=-1).values.min() > 0.999
    assert torch.allclose(soft_rows.sum(dim=-1), torch.ones(BATCH, LENGTH))
    assert soft_rows.max(dim=-1).values.min() < 0.999  # at tau = 1 the rows are genuinely soft


def test_relaxed_feedback_carries_a_later_rows_gradient_back_to_an_earlier_steps_noise():
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[0]
    weights = torch.randn(VOCAB)
    noise = gumbel_noise((BATCH, LENGTH, VOCAB)).requires_grad_()
    rows = generator.rsample_relaxed_feedback(noise, 1.0)
    (rows[:, -1] @ weights).sum().backward()  # the last row only
    assert noise.grad[:, 0].abs().sum() > 0  # through the rows fed back at steps 1 .. T-1
    assert noise.grad[:, -1].abs().sum() > 0


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("discriminator_index", [0, 1, 2], ids=["seqgan", "relgan", "lstm"])
@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
def test_relaxed_feedback_estimator_reaches_every_generator_parameter(generator_index, discriminator_index, bf16):
    torch.manual_seed(0)
    generator = small_generators(VOCAB, LENGTH)[generator_index]
    discriminator = small_discriminators(VOCAB, LENGTH)[discriminator_index].train().requires_grad_(False)
    estimator = GumbelSoftmaxEstimator(schedule(2.0), feedback="relaxed")
    estimator.setup(generator, discriminator)
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = estimator.generator_loss(generator, discriminator, real, StandardGANLoss(), 0)
    assert out.loss.shape == () and torch.isfinite(out.loss) and out.logs["beta"] == 2.0
    out.loss.backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        assert torch.isfinite(parameter.grad).all(), name
    fakes = estimator.discriminator_fakes(generator, BATCH, LENGTH, 0)
    assert fakes.shape == (BATCH, LENGTH, VOCAB) and not fakes.requires_grad
    assert torch.allclose(fakes.sum(dim=-1), torch.ones(BATCH, LENGTH))
    assert fakes.max(dim=-1).values.min() < 1.0  # relaxed rows, not one-hot


def test_bad_feedback_options_are_refused_by_name():
    with pytest.raises(ValueError, match="feedback must be one of"):
        GumbelSoftmaxEstimator(schedule(), feedback="soft")
    with pytest.raises(ValueError, match="straight_through needs feedback='hard'"):
        GumbelSoftmaxEstimator(schedule(), straight_through=True, feedback="relaxed")
