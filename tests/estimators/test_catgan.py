"""CatGAN: real and generated sentences are paired within their category, the fitness is the stated quality +
gamma * diversity, and one generation keeps the fittest child (and its optimiser state) in the generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.catgan import CatganEstimator, category_logits, per_class_loss
from textgan.estimators.evolution import diversity_fitness, quality_fitness
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import RSGANLoss
from textgan.models.conditional import ConditionalRMCGenerator
from textgan.models.relgan_discriminator import RelGANDiscriminator

VOCAB, LENGTH = 6, 4


def test_the_relativistic_loss_pairs_reals_and_fakes_of_one_class():
    real = torch.tensor([[1.0], [5.0], [2.0], [7.0]])
    fake = torch.tensor([[0.0], [4.0], [0.5], [6.0]])
    labels = torch.tensor([0, 1, 0, 1])
    loss = per_class_loss(RSGANLoss().discriminator_loss, real, fake, labels, 2)
    class0 = (F.softplus(torch.tensor(0.0 - 1.0)) + F.softplus(torch.tensor(0.5 - 2.0))) / 2
    class1 = (F.softplus(torch.tensor(4.0 - 5.0)) + F.softplus(torch.tensor(6.0 - 7.0))) / 2
    assert loss.item() == pytest.approx(((class0 + class1) / 2).item())
    # pairing across classes (real row b with the other class's fake) gives another value
    crossed = per_class_loss(RSGANLoss().discriminator_loss, real, fake[[1, 0, 3, 2]], labels, 2)
    assert crossed.item() != pytest.approx(loss.item())


class RecordingGenerator(nn.Module):
    num_classes = 2
    device = torch.device("cpu")

    def rsample(self, num, beta, length=None, *, labels=None):
        self.labels = labels
        relaxed = F.one_hot(labels.view(-1, 1).expand(num, LENGTH), VOCAB).float()  # row b "is" its class
        return type("Sample", (), {"relaxed": relaxed})


def test_the_discriminators_fakes_are_generated_for_the_real_rows_classes():
    estimator = CatganEstimator(InverseTemperatureSchedule(beta_max=2.0, adapt="no"))
    generator = RecordingGenerator()
    labels = torch.tensor([1, 0, 0, 1, 1])
    fakes = estimator.discriminator_fakes(generator, 5, LENGTH, 0, real_labels=labels)
    assert torch.equal(generator.labels, labels)
    assert torch.equal(fakes[:, 0].argmax(dim=-1), labels)


def test_quality_and_diversity_fitness_by_hand():
    real = torch.tensor([[1.0], [3.0], [0.0]])  # class 0 mean 2.0, class 1 mean 0.0
    fake = torch.tensor([[2.0], [1.0], [0.0], [0.5]])
    quality = quality_fitness(real, fake, torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1, 1]), 2)
    class0 = (torch.sigmoid(torch.tensor(0.0)) + torch.sigmoid(torch.tensor(-1.0))) / 2
    class1 = (torch.sigmoid(torch.tensor(0.0)) + torch.sigmoid(torch.tensor(0.5))) / 2
    assert quality.item() == pytest.approx(((class0 + class1) / 2).item())
    log_probs = torch.tensor([[-1.0, -3.0], [-2.0, -2.0], [-4.0, -4.0]])
    diversity = diversity_fitness(log_probs, torch.tensor([0, 0, 1]), 2)
    assert diversity.item() == pytest.approx((2.0 + 4.0) / 2)


def small_setup(seed: int = 0):
    torch.manual_seed(seed)
    generator = ConditionalRMCGenerator(2, VOCAB, LENGTH, embedding_dim=4, head_size=4, num_heads=2)
    discriminator = RelGANDiscriminator(
        VOCAB, LENGTH, embedding_dim=4, num_rep=2, filter_sizes=[2, 3], num_filters=[3, 3], hidden_size=4
    )
    estimator = CatganEstimator(
        InverseTemperatureSchedule(beta_max=10.0, adapt="exp", horizon=10), mutation_losses=("rsgan", "lsgan"),
        eval_samples=4, generator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
    )  # fmt: skip
    estimator.setup(generator, discriminator)
    return generator, discriminator, estimator


def test_one_generation_keeps_the_fittest_child():
    generator, discriminator, estimator = small_setup()
    real = torch.randint(VOCAB, (4, LENGTH))
    labels = torch.tensor([0, 1, 0, 1])
    assert estimator.temperatures(0) == [1.0, pytest.approx(10.0**0.1)]
    assert len(estimator.temperatures(5)) == 3  # step, step + 1, step - 1
    out = estimator.generator_loss(generator, discriminator, real, RSGANLoss(), 0, real_labels=labels)
    best = estimator.population[0]
    assert best.fitness == pytest.approx(out.logs["fitness"].item())
    assert out.logs["fitness"].item() == pytest.approx(
        out.logs["fitness_quality"].item() + estimator.gamma * out.logs["fitness_diversity"].item()
    )
    for name, value in generator.state_dict().items():  # the generator holds the selected child's weights
        assert torch.equal(value, best.weights[name])
    assert best.mutation[0] in ("rsgan", "lsgan")


def test_the_population_and_optimiser_go_into_the_checkpoint():
    generator, discriminator, estimator = small_setup()
    real, labels = torch.randint(VOCAB, (4, LENGTH)), torch.tensor([0, 1, 1, 0])
    estimator.generator_loss(generator, discriminator, real, RSGANLoss(), 0, real_labels=labels)
    state = estimator.state_dict()
    _, _, fresh = small_setup(seed=1)
    fresh.load_state_dict(state)
    assert fresh.population[0].fitness == estimator.population[0].fitness
    assert fresh.beta == estimator.beta
    assert fresh.optimizer.state_dict()["state"].keys() == estimator.optimizer.state_dict()["state"].keys()


def test_catgan_refuses_an_unconditional_generator():
    from textgan.models.rmc import RMCGenerator

    _, discriminator, estimator = small_setup()
    with pytest.raises(ValueError, match="generator=rmc_conditional"):
        estimator.setup(RMCGenerator(VOCAB, LENGTH, embedding_dim=4, head_size=4, num_heads=2), discriminator)


def test_a_multi_class_discriminator_scores_each_row_by_its_own_class():
    class ThreeLogits(nn.Module):
        num_classes = 2

        def forward(self, inputs):
            return torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    labels = torch.tensor([1, 0])
    assert torch.equal(category_logits(ThreeLogits(), torch.zeros(2, 3), labels), torch.tensor([[2.0], [4.0]]))
    plain = RelGANDiscriminator(VOCAB, LENGTH, embedding_dim=4, num_rep=2, filter_sizes=[2], num_filters=[2])
    tokens = torch.randint(VOCAB, (2, LENGTH))
    plain.eval()
    assert torch.equal(category_logits(plain, tokens, labels), plain(tokens))  # a real / fake CNN: all its outputs
