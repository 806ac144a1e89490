"""DGSAN: the implicit discriminator is its formula, finite where probabilities underflow, the frozen copy is
refreshed on schedule and checkpointed, and the gradient is the exact gradient of the stated objective."""

from __future__ import annotations

import pytest
import torch
from small_models import small_generators
from torch import nn

from textgan.estimators.dgsan import DgsanEstimator, RefreshSchedule, dgsan_losses, implicit_discriminator
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH = 3, 3


def all_sentences() -> torch.Tensor:
    return torch.cartesian_prod(*[torch.arange(VOCAB)] * LENGTH)  # (27, T)


def tiny_generator(seed: int) -> LSTMGenerator:
    torch.manual_seed(seed)
    generator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    for parameter in generator.parameters():
        nn.init.normal_(parameter, std=0.7)
    return generator


def flat_gradient(generator: nn.Module, objective: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(objective, list(generator.parameters()), retain_graph=True)
    return torch.cat([g.reshape(-1) for g in grads])


def perturb(generator: nn.Module, seed: int, scale: float = 0.3) -> None:
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(scale * torch.randn_like(parameter))


def test_implicit_discriminator_is_its_formula():
    new, old = tiny_generator(0), tiny_generator(1)
    sentences = all_sentences()
    with torch.no_grad():
        p_new = new.log_prob(sentences).double().sum(dim=-1).exp()
        p_old = old.log_prob(sentences).double().sum(dim=-1).exp()
        verdict = implicit_discriminator(new.log_prob(sentences).sum(-1), old.log_prob(sentences).sum(-1))
    torch.testing.assert_close(verdict.double(), p_new / (p_new + p_old), rtol=1e-5, atol=1e-6)
    # a sentence-level ratio: not the product of per-token verdicts
    tokens_new, tokens_old = new.log_prob(sentences).detach(), old.log_prob(sentences).detach()
    per_token = torch.sigmoid(tokens_new - tokens_old).prod(dim=-1)
    assert not torch.allclose(per_token, verdict, atol=1e-3)


def test_finite_and_exact_when_probabilities_underflow():
    """Sentence log-likelihoods of -2000: p = 0 in float32 and float64. D and the loss stay finite and equal the
    formula; TextGAN-PyTorch's per-token ratios with eps = 0 give nan / inf on such sentences."""
    real_new, real_old = torch.tensor([-2000.0, -900.0], requires_grad=True), torch.tensor([-2001.0, -3000.0])
    fake_new, fake_old = torch.tensor([-1500.0], requires_grad=True), torch.tensor([-1499.0])
    verdict = implicit_discriminator(real_new, real_old)
    torch.testing.assert_close(verdict, torch.tensor([torch.sigmoid(torch.tensor(1.0)).item(), 1.0]))
    real, fake = dgsan_losses(real_new, real_old, fake_new, fake_old)
    expected_real = torch.nn.functional.softplus(-torch.tensor([1.0, 2100.0]))  # -log sigmoid(gap)
    torch.testing.assert_close(real.detach(), expected_real)
    torch.testing.assert_close(fake.detach(), torch.nn.functional.softplus(torch.tensor([-1.0])))
    loss = real.mean() + fake.mean()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real_new.grad).all() and torch.isfinite(fake_new.grad).all()

    def defective_loss(new_probs: torch.Tensor, old_probs: torch.Tensor) -> torch.Tensor:  # per-token, eps = 0
        return -torch.sum(torch.log(1 / (1 + old_probs / (new_probs + 0) + 0) + 0))

    token_new = torch.tensor([[-200.0, -1.0, -800.0]]).exp()  # a token at e^-200 underflows to 0 in float32
    token_old = torch.tensor([[-201.0, -1.0, -799.0]]).exp()
    assert not torch.isfinite(defective_loss(token_new, token_old))
    ours = dgsan_losses(torch.tensor([-1001.0]), torch.tensor([-1001.0]), torch.tensor([-5.0]), torch.tensor([-6.0]))
    assert all(torch.isfinite(value).all() for value in ours)


def test_refresh_every_fixed_interval_and_the_copy_is_frozen_between():
    generator = tiny_generator(0)
    estimator = DgsanEstimator(refresh="every", refresh_every=3)
    estimator.setup(generator, nn.Identity())
    real = torch.randint(VOCAB, (4, LENGTH))
    refreshed = []
    for step in range(8):
        before = [p.clone() for p in estimator.old_generator.parameters()]
        estimator.generator_loss(generator, nn.Identity(), real, None, step)
        changed = any(not torch.equal(a, b) for a, b in zip(before, estimator.old_generator.parameters(), strict=True))
        if changed or step == 0:
            refreshed.append(step)
            assert all(
                torch.equal(a, b)
                for a, b in zip(generator.parameters(), estimator.old_generator.parameters(), strict=True)
            )
        perturb(generator, step)  # the generator moves every step; the copy only at refreshes
    assert refreshed == [0, 3, 6]
    assert estimator.schedule.refreshed_at == 6
    assert all(not p.requires_grad for p in estimator.old_generator.parameters())


def test_refresh_when_converged_as_the_authors_rule():
    """Epochs of 2 iterations; refresh once the std of the last 3 epoch losses < 0.01, 4 to 6 epochs apart."""
    schedule = RefreshSchedule("converged", every=2, window=3, tolerance=0.01, min_epochs=4, max_epochs=6)
    due = []
    losses = iter([5.0, 4.0, 3.0, 2.0, 1.0] + [0.5] * 19 + [9.0, 9.0, 1.0, 1.0] * 5)
    for step in range(40):
        if schedule.due(step):
            schedule.refreshed(step)
            due.append(step)
        schedule.record(torch.tensor(next(losses)))
    # 0: the first sync. Epoch means 4.5, 2.5, 0.75, 0.5, ...: at 12 the last three are 0.5 (std 0), 6 epochs
    # after the sync. At 22 (5 epochs later, past min_epochs) they still are. Then the means alternate 9, 1: the
    # std never falls below the tolerance, and max_epochs forces the refresh 6 epochs later, at 34.
    assert due == [0, 12, 22, 34]
    state = schedule.get_extra_state()
    restored = RefreshSchedule("converged", every=2, window=3, tolerance=0.01, min_epochs=4, max_epochs=6)
    restored.set_extra_state(state)
    assert restored.get_extra_state() == state


def test_gradient_is_the_exact_gradient_of_the_objective():
    """J = -sum_x p_d(x) log D(x) - sum_y p_old(y) log(1 - D(y)) by enumeration; its gradient also has the closed
    form sum_x [-p_d (1 - D) + p_old D] grad log p_new; the estimator's gradient averages to it."""
    generator, data = tiny_generator(0), tiny_generator(5)
    estimator = DgsanEstimator(refresh_every=10**6, num_samples=64)
    estimator.setup(generator, nn.Identity())
    estimator.generator_loss(generator, nn.Identity(), torch.zeros(2, LENGTH, dtype=torch.long), None, 0)  # sync
    perturb(generator, 7)  # now p_new != p_old
    sentences = all_sentences()
    log_new = generator.log_prob(sentences).sum(dim=-1)
    with torch.no_grad():
        log_old = estimator.old_generator.log_prob(sentences).sum(dim=-1)
        p_data = data.log_prob(sentences).sum(dim=-1).exp()
    verdict = implicit_discriminator(log_new, log_old)
    objective = -(p_data * torch.log(verdict)).sum() - (log_old.exp() * torch.log1p(-verdict)).sum()
    exact = flat_gradient(generator, objective)
    weights = (-p_data * (1 - verdict) + log_old.exp() * verdict).detach()
    torch.testing.assert_close(flat_gradient(generator, (weights * log_new).sum()), exact)

    torch.manual_seed(3)
    draws = []
    for step in range(1, 201):
        real = sentences[torch.multinomial(p_data, 64, replacement=True)]
        draws.append(flat_gradient(generator, estimator.generator_loss(generator, None, real, None, step).loss))
    draws = torch.stack(draws)
    standard_error = draws.std(dim=0) / len(draws) ** 0.5
    z = (draws.mean(dim=0) - exact).abs() / standard_error.clamp_min(1e-8)
    assert z.max() < 5.0, z.max()


def test_the_copy_checkpoints_and_resumes():
    generator = tiny_generator(0)
    estimator = DgsanEstimator(refresh_every=2)
    estimator.setup(generator, nn.Identity())
    real = torch.randint(VOCAB, (4, LENGTH))
    for step in range(3):
        estimator.generator_loss(generator, None, real, None, step)
        perturb(generator, step)
    state = estimator.state_dict()
    assert any(key.startswith("old.policy.") for key in state)
    for setup_first in (True, False):  # setup() before the checkpoint loads (the module's order), or after
        resumed = DgsanEstimator(refresh_every=2)
        if setup_first:
            resumed.setup(tiny_generator(9), nn.Identity())
        resumed.load_state_dict(state)
        resumed.setup(tiny_generator(9), nn.Identity())
        for a, b in zip(estimator.old_generator.parameters(), resumed.old_generator.parameters(), strict=True):
            assert torch.equal(a, b)
        assert resumed.schedule.refreshed_at == 2 and resumed.old.synced
        torch.manual_seed(4)
        expected = estimator.generator_loss(generator, None, real, None, 3).loss
        torch.manual_seed(4)
        assert torch.equal(resumed.generator_loss(generator, None, real, None, 3).loss, expected)


@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
def test_trains_every_generator_without_a_discriminator(generator_index: int):
    torch.manual_seed(0)
    generator = small_generators(7, 5)[generator_index]
    estimator = DgsanEstimator()
    assert estimator.trains_discriminator is False
    estimator.setup(generator, nn.Identity())
    estimator.generator_loss(generator, None, torch.randint(7, (4, 5)), None, 0)
    perturb(generator, 1, scale=0.05)
    out = estimator.generator_loss(generator, None, torch.randint(7, (4, 5)), None, 1)
    gradient = flat_gradient(generator, out.loss)
    assert torch.isfinite(out.loss) and torch.isfinite(gradient).all() and gradient.abs().sum() > 0
