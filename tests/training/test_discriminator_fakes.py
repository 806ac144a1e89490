"""An iteration's discriminator updates get their fakes from one generator pass over all of their rows (the
generator does not change between them), split into one distinct batch per update."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from textgan.estimators.reinforce import ReinforceEstimator
from textgan.losses.gan import RSGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.training.adversarial import AdversarialModule

VOCAB, LENGTH, BATCH, D_STEPS, ITERATIONS = 8, 4, 6, 3, 2


class CountingReinforce(ReinforceEstimator):
    def __init__(self) -> None:
        super().__init__("sequence")
        self.fake_requests: list[int] = []

    def discriminator_fakes(self, generator, batch_size, length, step):
        self.fake_requests.append(batch_size)
        return super().discriminator_fakes(generator, batch_size, length, step)


class RecordingCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and self.embedding.weight.requires_grad:  # a discriminator update
            self.seen.append(tokens.detach().clone())
        return self.embedding(tokens).sum(dim=1)  # (B, 1)


class RealBatches(IterableDataset):
    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        while True:
            yield torch.randint(VOCAB, ((1 + D_STEPS) * BATCH, LENGTH), generator=generator)


def test_the_discriminator_updates_fakes_come_from_one_pass_one_batch_each():
    torch.manual_seed(0)
    estimator, critic = CountingReinforce(), RecordingCritic()
    module = AdversarialModule(
        LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4), critic, estimator, RSGANLoss(),
        generator_steps=1, discriminator_steps=D_STEPS, num_iterations=ITERATIONS, release_memory=False,
    )  # fmt: skip
    trainer = L.Trainer(
        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(module, DataLoader(RealBatches(), batch_size=None))

    assert estimator.fake_requests == [D_STEPS * BATCH] * ITERATIONS
    # each update scores its real batch and its own slice of the fakes: 2 calls per update
    fakes = critic.seen[1::2]
    assert len(fakes) == D_STEPS * ITERATIONS and all(f.shape == (BATCH, LENGTH) for f in fakes)
    first_iteration = torch.cat(fakes[:D_STEPS])
    assert len({tuple(row.tolist()) for row in first_iteration}) > BATCH  # distinct rows, not one batch reused
