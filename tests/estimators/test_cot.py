"""CoT: on a problem small enough to enumerate every sentence, the generator's gradient is the exact gradient of
the per-step KL(G || M) with the prefixes drawn from the current generator held fixed (Algorithm 1), which is
not the gradient of the sequence-level KL; the mediator's loss is MLE on the balanced mixture; a discriminator
that is not a generator-class model is refused naming discriminator=mediator; the mediator is built from the RMC
and LSTM generators' configs and checkpoints with the adversarial module."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from small_models import small_discriminators, small_generators
from torch.utils.data import DataLoader, IterableDataset

import textgan.estimators.cot as cot
from textgan.estimators.cot import CotEstimator, step_kl
from textgan.losses.gan import RSGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.models.mediator import Mediator
from textgan.models.rmc import RMCGenerator
from textgan.training.adversarial import AdversarialModule

VOCAB, LENGTH = 3, 3


def all_sentences() -> torch.Tensor:
    return torch.cartesian_prod(*[torch.arange(VOCAB)] * LENGTH)  # (V^T, T)


def conditionals(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per step t, from the joint distribution of all sentences: (P(s_<t) of shape (V,)*t, P(v | s_<t) (V,)*(t+1)).

    An independent route to the model's conditionals: only sentence probabilities (``log_prob`` summed), then
    marginals and ratios of the joint table."""
    joint = model.log_prob(all_sentences()).sum(dim=1).double().exp().view((VOCAB,) * LENGTH)
    steps = []
    for t in range(LENGTH):
        upto = joint.sum(dim=tuple(range(t + 1, LENGTH))) if t + 1 < LENGTH else joint  # P(s_<=t)
        prefix = upto.sum(dim=-1)  # P(s_<t), a 0-d 1.0 at t = 0
        steps.append((prefix, upto / prefix.unsqueeze(-1)))
    return steps


def exact_objective(generator, mediator, hold_prefixes: bool) -> torch.Tensor:
    """sum_t E_{s_<t ~ G}[KL(G(.|s_<t) || M(.|s_<t))]; ``hold_prefixes``: the prefix distribution as a constant."""
    with torch.no_grad():
        mediator_steps = conditionals(mediator)
    total = torch.zeros((), dtype=torch.float64)
    for (prefix, g), (_, m) in zip(conditionals(generator), mediator_steps, strict=True):
        weight = prefix.detach() if hold_prefixes else prefix
        total = total + (weight * (g * (g.log() - m.log())).sum(dim=-1)).sum()
    return total


def flat_grad(model, loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True, materialize_grads=True)
    return torch.cat([g.reshape(-1) for g in grads]).double()


def forced_sampler(sentences: torch.Tensor):
    """A stand-in for ``categorical_sample`` that returns column t of ``sentences`` at step t."""
    columns = iter(sentences.t())
    return lambda logits: next(columns).to(logits.device)


def models(index: int):
    torch.manual_seed(11)
    generator = small_generators(VOCAB, LENGTH)[index]
    torch.manual_seed(12)
    mediator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=8, hidden_dim=8)
    with torch.no_grad():  # a mediator whose next-token distributions depend strongly on the prefix
        for parameter in mediator.parameters():
            parameter.mul_(4.0)
    return generator, mediator


def expected_estimator_gradient(generator, mediator, monkeypatch) -> torch.Tensor:
    """E_{s ~ G}[gradient of the estimator's loss on s], exactly: every sentence through ``generator_loss`` (its
    own sampling loop, steered to that sentence), weighted by its probability under the current generator."""
    sentences = all_sentences()
    with torch.no_grad():
        probabilities = generator.log_prob(sentences).sum(dim=1).exp()
    estimator, total = CotEstimator(num_samples=1), 0.0
    for sentence, probability in zip(sentences, probabilities, strict=True):
        monkeypatch.setattr(cot, "categorical_sample", forced_sampler(sentence.unsqueeze(0)))
        total = total + probability * estimator.generator_loss(generator, mediator, sentence[None], None, 0).loss
    return flat_grad(generator, total)


@pytest.mark.parametrize("index", [0, 1], ids=["lstm", "rmc"])
def test_the_generator_gradient_is_the_exact_gradient_of_the_per_step_kl(index, monkeypatch):
    generator, mediator = models(index)
    exact = flat_grad(generator, exact_objective(generator, mediator, hold_prefixes=True))
    estimated = expected_estimator_gradient(generator, mediator, monkeypatch)
    assert exact.norm() > 1e-3
    torch.testing.assert_close(estimated, exact, rtol=1e-4, atol=1e-6 * exact.norm().item())


def test_the_prefixes_are_constants_not_a_score_function_term(monkeypatch):
    """Algorithm 1 differentiates the per-step sums at sampled states only: differentiating the prefix
    distribution too (the sequence-level KL(G || M)) gives another gradient, which the estimator does not follow."""
    generator, mediator = models(0)
    sequence_level = flat_grad(generator, exact_objective(generator, mediator, hold_prefixes=False))
    estimated = expected_estimator_gradient(generator, mediator, monkeypatch)
    assert (estimated - sequence_level).norm() > 0.05 * sequence_level.norm()


def test_the_loss_averages_the_kl_over_sentences_sampled_from_the_generator():
    """The real sampling path: with N samples, the loss is within 5 standard errors of its exact expectation."""
    generator, mediator = models(0)
    with torch.no_grad():
        steps, mediator_steps = conditionals(generator), conditionals(mediator)
        pairs = zip(steps, mediator_steps, strict=True)
        per_prefix = [(g * (g.log() - m.log())).sum(dim=-1) for (_, g), (_, m) in pairs]
        sentences = all_sentences()
        per_sentence = sum(kl[tuple(sentences[:, :t].t())] for t, kl in enumerate(per_prefix))  # (V^T,)
        probability = generator.log_prob(sentences).sum(dim=1).double().exp()
        mean = (probability * per_sentence).sum()
        std = (probability * (per_sentence - mean) ** 2).sum().sqrt()
        torch.manual_seed(0)
        samples = 20_000
        loss = CotEstimator(num_samples=samples).generator_loss(generator, mediator, sentences[:1], None, 0).loss
    assert abs(loss.item() - mean.item()) < 5 * std.item() / math.sqrt(samples)


def test_step_kl_is_zero_for_equal_distributions_and_positive_otherwise():
    logits = torch.randn(2, 3, 5)
    log_g = torch.log_softmax(logits, -1)
    assert step_kl(log_g, log_g).abs().max() < 1e-6
    assert (step_kl(log_g, torch.log_softmax(torch.randn(2, 3, 5), -1)) > 0).all()


def test_the_mediator_loss_is_mle_on_the_balanced_mixture():
    """Half real, half generated whatever the rows of each: per-token NLL of each half, weighted 1/2 each (a
    pooled NLL over 4 real and 12 generated rows would weight them 1:3)."""
    torch.manual_seed(0)
    mediator = Mediator(lstm_config(), VOCAB, LENGTH)
    real, fake = torch.randint(VOCAB, (4, LENGTH)), torch.randint(VOCAB, (12, LENGTH))
    loss = CotEstimator().discriminator_loss(mediator, real, fake, RSGANLoss())
    real_nll, fake_nll = -mediator.log_prob(real).mean(), -mediator.log_prob(fake).mean()
    torch.testing.assert_close(loss, 0.5 * real_nll + 0.5 * fake_nll)
    pooled = -mediator.log_prob(torch.cat([real, fake])).mean()
    assert not torch.isclose(loss, pooled)
    loss.backward()  # an MLE step of the mediator's own parameters
    assert all(p.grad is not None for p in mediator.parameters())


@pytest.mark.parametrize("discriminator", small_discriminators(VOCAB, 6), ids=lambda d: type(d).__name__)
def test_a_discriminator_that_is_not_a_generator_class_model_is_refused(discriminator):
    with pytest.raises(ValueError, match="discriminator=mediator"):
        CotEstimator().setup(small_generators(VOCAB, LENGTH)[0], discriminator)


def lstm_config(**sizes) -> dict:
    return {"_target_": "textgan.models.lstm.LSTMGenerator", "embedding_dim": 8, "hidden_dim": 8, **sizes}


def test_the_mediator_is_another_instance_of_the_generators_class():
    rmc = {"_target_": "textgan.models.rmc.RMCGenerator", "embedding_dim": 8, "head_size": 4, "num_heads": 2}
    mediator = Mediator({**rmc, "pretrained": "ignored.pt"}, vocab_size=7, max_length=5)
    assert type(mediator.language_model) is RMCGenerator and mediator.language_model.vocab_size == 7
    wider = Mediator(lstm_config(), 7, 5, changes={"embedding_dim": 16, "hidden_dim": 16})
    assert type(wider.language_model) is LSTMGenerator and wider.language_model.hidden_dim == 16
    assert wider(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 7)
    CotEstimator().setup(small_generators(7, 5)[1], mediator)  # accepted
    with pytest.raises(ValueError, match="token ids"):
        wider(torch.rand(2, 5, 7))  # relaxed rows: the mediator serves estimator=cot only
    with pytest.raises(ValueError, match="refused"):
        Mediator({"_target_": "torch.nn.Linear", "in_features": 1, "out_features": 1}, 7, 5)


class RealBatches(IterableDataset):
    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        while True:
            yield torch.randint(VOCAB, (16, LENGTH), generator=generator)  # 1 generator + 1 mediator batch of 8


def test_the_mediator_trains_and_checkpoints_with_the_adversarial_module(tmp_path):
    torch.manual_seed(0)

    def module() -> AdversarialModule:
        generator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
        mediator = Mediator(lstm_config(embedding_dim=4, hidden_dim=4), VOCAB, LENGTH)
        return AdversarialModule(
            generator, mediator, CotEstimator(), RSGANLoss(), generator_steps=1, discriminator_steps=1,
            num_iterations=3, release_memory=False,
        )  # fmt: skip

    model = module()
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    trainer = L.Trainer(
        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(model, DataLoader(RealBatches(), batch_size=None))
    assert model.iteration == 3
    after = model.discriminator.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the mediator's MLE steps ran
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    restored = module()
    restored.load_state_dict(torch.load(path, weights_only=False)["state_dict"])
    for key, value in after.items():
        assert torch.equal(restored.discriminator.state_dict()[key], value), key
