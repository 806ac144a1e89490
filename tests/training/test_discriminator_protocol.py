"""The protocol's two discriminator points: a scheme without a discriminator network
(``trains_discriminator = False``) leaves the discriminator untouched, and a scheme's own
``discriminator_loss`` is the loss its discriminator-like module is trained on."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from textgan.estimators.reinforce import ReinforceEstimator
from textgan.losses.gan import RSGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.training.adversarial import AdversarialModule

VOCAB, LENGTH, BATCH, D_STEPS, ITERATIONS = 8, 4, 6, 2, 2


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
            yield torch.randint(VOCAB, ((1 + D_STEPS) * BATCH, LENGTH), generator=generator)


class NoDiscriminatorScheme(ReinforceEstimator):
    trains_discriminator = False

    def __init__(self) -> None:
        super().__init__("sequence")


class OwnObjectiveScheme(ReinforceEstimator):
    """Trains the critic to push every real token's weight up, whatever the GAN loss says."""

    def __init__(self) -> None:
        super().__init__("sequence")
        self.calls = 0

    def discriminator_loss(self, discriminator, real, fake, gan_loss):
        self.calls += 1
        return -discriminator(real).mean()


def _fit(estimator, critic) -> None:
    torch.manual_seed(0)
    module = AdversarialModule(
        LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4), critic, estimator, RSGANLoss(),
        generator_steps=1, discriminator_steps=D_STEPS, num_iterations=ITERATIONS, release_memory=False,
        grad_clip=None,
    )  # fmt: skip
    trainer = L.Trainer(
        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(module, DataLoader(RealBatches(), batch_size=None))


def test_a_scheme_without_a_discriminator_network_leaves_it_untouched():
    critic = Critic()
    before = critic.embedding.weight.detach().clone()
    _fit(NoDiscriminatorScheme(), critic)
    assert torch.equal(critic.embedding.weight, before)


def test_a_schemes_own_discriminator_loss_is_what_the_discriminator_learns():
    critic, scheme = Critic(), OwnObjectiveScheme()
    before = critic.embedding.weight.detach().clone()
    _fit(scheme, critic)
    assert scheme.calls == D_STEPS * ITERATIONS
    # -mean(D(real)) only ever raises the weights of tokens that occur (Adam moves each by ~lr per step)
    assert (critic.embedding.weight > before).all()
