"""The estimator protocol holds learned estimators: a minimal learned-baseline REINFORCE, one class, trains its
own parameter from the generator's gradient through ``after_backward`` with the optimiser its config names,
and its parameter and optimiser state checkpoint with the adversarial module."""

from __future__ import annotations

import functools

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.losses.gan import RSGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.sampling import categorical_sample
from textgan.training.adversarial import AdversarialModule

VOCAB, LENGTH, BATCH = 8, 4, 16


class LearnedBaselineReinforce(Estimator):
    """REINFORCE with a scalar baseline ``b`` learned to minimise ``||g||^2`` of the gradient estimate ``g``.

    ``loss = -1/B sum_i (r_i - b) log p(y_i)``; since ``E[g]`` does not depend on ``b``, minimising the
    expected squared norm minimises the estimator's variance (the RELAX recipe with a constant control variate).
    """

    def __init__(self, optimizer=None) -> None:
        super().__init__(optimizer)
        self.baseline = nn.Parameter(torch.zeros(()))
        self.setup_calls = 0

    def setup(self, generator, discriminator) -> None:
        self.setup_calls += 1

    def generator_loss(self, generator, discriminator, real_tokens, gan_loss, step) -> EstimatorOutput:
        tokens, logits, _ = generator.unroll(BATCH, LENGTH, lambda o: categorical_sample(o.detach()), keep_logits=True)
        log_p = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1).sum(1)  # (B,)
        with torch.no_grad():
            reward = -gan_loss.generator_loss(discriminator(real_tokens), discriminator(tokens), reduction="none")
        loss = -((reward - self.baseline) * log_p).mean()
        return EstimatorOutput(loss, {"reward": reward.mean()}, create_graph=True)

    def after_backward(self, generator) -> dict:
        grads = [p.grad for p in generator.parameters() if p.grad is not None]
        squared_norm = sum(g.square().sum() for g in grads)
        (self.baseline.grad,) = torch.autograd.grad(squared_norm, [self.baseline])
        for parameter in generator.parameters():  # the generator steps on the plain estimate
            if parameter.grad is not None:
                parameter.grad = parameter.grad.detach()
        return {"gradient_squared_norm": squared_norm.detach()}


class Critic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens).sum(dim=1)  # (B, 1)


class RealBatches(IterableDataset):
    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        while True:
            yield torch.randint(VOCAB, (2 * BATCH, LENGTH), generator=generator)


def module(estimator: Estimator) -> AdversarialModule:
    torch.manual_seed(0)
    return AdversarialModule(
        LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4),
        Critic(),
        estimator,
        RSGANLoss(),
        generator_steps=1,
        discriminator_steps=1,
        num_iterations=40,
        release_memory=False,
    )


def fit(model: AdversarialModule, ckpt_path=None) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(model, DataLoader(RealBatches(), batch_size=None), ckpt_path=ckpt_path)
    return trainer


def test_a_learned_estimator_trains_its_own_parameter_from_the_generators_gradient(tmp_path):
    estimator = LearnedBaselineReinforce(optimizer=functools.partial(torch.optim.Adam, lr=0.05))
    model = module(estimator)
    assert estimator.setup_calls == 1
    trainer = fit(model)
    assert model.iteration == 40
    assert len(trainer.optimizers) == 3  # generator, discriminator, and the estimator's own
    # rewards are minus a softplus (negative): the variance-minimising baseline is negative too
    assert float(estimator.baseline) < -0.3

    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=False)
    assert torch.equal(saved["state_dict"]["estimator.baseline"], estimator.baseline.detach())
    assert len(saved["optimizer_states"]) == 3 and saved["optimizer_states"][2]["state"]

    restored_estimator = LearnedBaselineReinforce(optimizer=functools.partial(torch.optim.Adam, lr=0.05))
    restored = module(restored_estimator)
    restored.load_state_dict(saved["state_dict"])
    assert torch.equal(restored_estimator.baseline, estimator.baseline)


def test_an_estimator_with_parameters_but_no_optimizer_is_refused():
    import pytest

    with pytest.raises(ValueError, match="configure its `optimizer`"):
        LearnedBaselineReinforce().configure_optimizer()


def test_estimators_without_parameters_add_no_optimizer():
    from textgan.estimators.reinforce import ReinforceEstimator

    assert ReinforceEstimator("sequence").configure_optimizer() is None


def test_update_counts_are_checked_with_a_named_error():
    import pytest

    for name, value in (("generator_steps", 0), ("discriminator_steps", -1), ("num_iterations", 1.5)):
        with pytest.raises(ValueError, match=f"{name} must be an integer"):
            AdversarialModule(
                LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4), Critic(),
                LearnedBaselineReinforce(), RSGANLoss(), **{name: value},
            )  # fmt: skip
