"""SentiGAN: the penalty objective is minimised (its gradient lowers the probability of high-penalty tokens),
generator i is penalised by 1 - D_i from column i of the discriminator, and the (k+1)-class discriminator loss
labels real sentences by class and generated ones as class k. Each of these fails on a peer defect: a negated
objective (TextGAN-PyTorch's SentiGAN_G) and every generator rewarded toward class 1 (its oracle instructor)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.sentigan import SentiganEstimator, class_penalty, penalty_objective
from textgan.models.class_discriminator import ClassSeqGANDiscriminator
from textgan.models.per_class import GeneratorPerClass
from textgan.models.relgan_discriminator import RelGANDiscriminator

VOCAB, LENGTH = 4, 3


@pytest.mark.parametrize("token_weight", ["probability", "log_probability"])
def test_a_gradient_step_lowers_the_probability_of_the_high_penalty_token(token_weight):
    # one step of one context, two sentences: token 0 drawn with penalty 0.9, token 1 with penalty 0.1
    logits = torch.zeros(1, 1, 2, requires_grad=True)
    tokens = torch.tensor([[0], [1]])
    log_probs = torch.log_softmax(logits.expand(2, 1, 2), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (2, 1)
    penalties = torch.tensor([[0.9], [0.1]])
    loss = penalty_objective(log_probs, penalties, token_weight)
    expected = (0.5 * 0.9 + 0.5 * 0.1) / 2 if token_weight == "probability" else math.log(0.5) * (0.9 + 0.1) / 2
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    with torch.no_grad():
        after = torch.softmax(logits - 0.1 * logits.grad, dim=-1)
    assert after[0, 0, 0] < 0.5  # the heavily penalised token (0) is now less likely (a negated loss: more)


class ConstantDiscriminator(nn.Module):
    """Every sentence: real class 0 with probability 0.7, real class 1 with 0.2, generated with 0.1."""

    num_classes = 2
    fake_class = 2

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.tensor([0.7, 0.2, 0.1]).log().expand(tokens.shape[0], 3)


class FixedClassDiscriminator(nn.Module):
    """Softmax probabilities that depend only on the first token: token 0 -> (0.7, 0.2, 0.1), else (0.1, 0.6, 0.3)."""

    num_classes = 2
    fake_class = 2

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rows = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]).log()
        return rows[(tokens[:, 0] != 0).long()]


def test_generator_i_is_penalised_by_one_minus_column_i():
    discriminator = FixedClassDiscriminator()
    tokens = torch.tensor([[0, 1, 2], [3, 1, 0]])
    assert torch.allclose(class_penalty(discriminator, 0)(tokens), torch.tensor([0.3, 0.9]))
    assert torch.allclose(class_penalty(discriminator, 1)(tokens), torch.tensor([0.8, 0.4]))


def test_each_generators_loss_reads_its_own_class():
    torch.manual_seed(0)
    generator = GeneratorPerClass(2, "textgan.models.lstm.LSTMGenerator", VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    estimator = SentiganEstimator(rollout_num=2)
    real = torch.zeros(3, LENGTH, dtype=torch.long)
    out = estimator.generator_loss(
        generator, ConstantDiscriminator(), real, None, 0, real_labels=torch.tensor([0, 1, 0])
    )
    # generator 0: 1 - 0.7; generator 1: 1 - 0.2 (rewarding both by column 1 would give 0.8 twice)
    assert out.logs["penalty_class0"].item() == pytest.approx(0.3)
    assert out.logs["penalty_class1"].item() == pytest.approx(0.8)
    out.loss.backward()
    for index in range(2):  # every generator learns from its own objective
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.member(index).parameters())


def test_penalties_are_constant_first_tokens_give_the_exact_loss():
    # generator 1 always starts with token 0 (penalty 0.8 for class 1 whatever follows): loss = sum_t p_t * 0.8
    torch.manual_seed(1)
    generator = GeneratorPerClass(2, "textgan.models.lstm.LSTMGenerator", VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    member = generator.member(1)
    with torch.no_grad():
        member.output.weight.zero_()
        member.output.bias.copy_(torch.tensor([30.0, 0.0, 0.0, 0.0]))
    estimator = SentiganEstimator(rollout_num=3)
    loss, penalty = estimator.class_loss(member, FixedClassDiscriminator(), 1, batch=4, length=LENGTH)
    assert penalty.item() == pytest.approx(0.8)
    assert loss.item() == pytest.approx(LENGTH * 0.8, rel=1e-5)  # each token has probability ~1


def test_discriminator_loss_is_the_k_plus_one_class_cross_entropy():
    torch.manual_seed(2)
    discriminator = ClassSeqGANDiscriminator(2, VOCAB, LENGTH, embedding_dim=4, filter_sizes=[1, 2], num_filters=[3, 3])
    discriminator.eval()
    real, fake = torch.tensor([[0, 1, 2], [3, 1, 0]]), torch.tensor([[1, 1, 1]])
    labels = torch.tensor([1, 0])
    loss = SentiganEstimator().discriminator_loss(discriminator, real, fake, None, real_labels=labels)
    expected = (
        F.cross_entropy(discriminator(real), labels)
        + F.cross_entropy(discriminator(fake), torch.tensor([2]))
        + discriminator.regularization()
    )
    assert loss.item() == pytest.approx(expected.item())
    assert discriminator(real).shape == (2, 3)


def test_sentigan_refuses_a_real_fake_discriminator_and_unlabelled_data():
    refusal = SentiganEstimator.discriminator_refusal(RelGANDiscriminator)
    assert "discriminator=seqgan_classes" in refusal
    with pytest.raises(ValueError, match="labelled data"):
        SentiganEstimator().discriminator_loss(None, torch.zeros(1, 3), torch.zeros(1, 3), None)


def test_the_probability_weight_follows_the_gradient_of_the_penalised_collision_probability():
    # one step, every next token enumerated with its probability: the expected gradient of the paper's weight
    # G(y) * V(y) is grad 1/2 sum_y G(y)^2 V(y), not grad sum_y G(y) V(y) (which the log weight estimates)
    torch.manual_seed(3)
    logits = torch.randn(5, requires_grad=True)
    penalties = torch.tensor([0.9, 0.95, 0.85, 0.9, 0.92])
    probs = torch.softmax(logits, dim=-1)
    tokens = torch.arange(5)

    def expected_gradient(token_weight):
        log_probs = torch.log_softmax(logits, dim=-1)[tokens].unsqueeze(1)  # (5, 1): each token as a sentence
        per_token = torch.stack(
            [
                torch.autograd.grad(
                    penalty_objective(log_probs[y : y + 1], penalties[y : y + 1, None], token_weight),
                    logits,
                    retain_graph=True,
                )[0]
                for y in range(5)
            ]
        )
        return (probs.detach()[:, None] * per_token).sum(0)  # E_{y ~ G}[grad]

    collision = torch.autograd.grad(0.5 * (probs**2 * penalties).sum(), logits, retain_graph=True)[0]
    expected_penalty = torch.autograd.grad((probs * penalties).sum(), logits, retain_graph=True)[0]
    assert torch.allclose(expected_gradient("probability"), collision, atol=1e-6)
    assert not torch.allclose(expected_gradient("probability"), expected_penalty, atol=1e-3)
    assert torch.allclose(expected_gradient("log_probability"), expected_penalty, atol=1e-6)
    # with the penalties nearly equal, descending it flattens the distribution: the most probable token loses
    assert collision[probs.argmax()] > 0


def test_mle_every_adds_the_conditional_mle_loss_of_the_real_batch_on_its_iterations():
    torch.manual_seed(4)
    generator = GeneratorPerClass(2, "textgan.models.lstm.LSTMGenerator", VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    real, labels = torch.tensor([[1, 2, 0], [3, 3, 2], [2, 1, 1]]), torch.tensor([0, 1, 1])
    nll = generator.nll(real, labels=labels).item()

    def loss_at(step, mle_every):
        torch.manual_seed(5)  # the same samples and rollouts every call
        out = SentiganEstimator(rollout_num=2, mle_every=mle_every).generator_loss(
            generator, ConstantDiscriminator(), real, None, step, real_labels=labels
        )
        return out.loss.item(), out.logs

    plain, plain_logs = loss_at(2, 0)
    with_mle, logs = loss_at(2, 2)
    assert with_mle == pytest.approx(plain + nll, rel=1e-6)
    assert logs["interleaved_nll"].item() == pytest.approx(nll)
    assert "interleaved_nll" not in plain_logs
    assert loss_at(3, 2)[0] == pytest.approx(plain, rel=1e-6)  # not on the other iterations
    with pytest.raises(ValueError, match="mle_every"):
        SentiganEstimator(mle_every=-1)
