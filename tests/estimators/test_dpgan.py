"""DPGAN: the novelty rewards and discounted returns on a hand-built language model, the discriminator's loss and
its sign, the policy gradient of free-running samples (not TextGAN-PyTorch's teacher-forced argmax), and the
setup's check that the discriminator is a language model."""

from __future__ import annotations

import math

import pytest
import torch
from small_models import small_generators
from test_reinforce import all_sequences, assert_unbiased, flat_gradient
from torch import nn

from textgan.estimators.dpgan import DpganEstimator, discounted_returns, dpgan_rewards
from textgan.models.language_model_discriminator import LanguageModelDiscriminator
from textgan.models.lstm import LSTMGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

VOCAB = 3
# bigram table D(next | previous); the start token 0 is the first "previous"
BIGRAM = [[0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]


class BigramLanguageModel(LanguageModelDiscriminator):
    """A language model whose conditionals are a fixed table: ``D(y_t | y_<t) = BIGRAM[y_{t-1}][y_t]``."""

    def __init__(self, length: int) -> None:
        super().__init__(VOCAB, length, embedding_dim=2, hidden_size=2)
        self.table = nn.Parameter(torch.tensor(BIGRAM).log())
        self.scored: list[torch.Tensor] = []

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        self.scored.append(tokens.clone())
        previous = torch.cat([torch.zeros_like(tokens[:, :1]), tokens[:, :-1]], dim=1)
        return self.table.log_softmax(dim=-1)[previous, tokens]  # (B, T)


def hand_rewards(sentence: list[int], discount: float) -> list[float]:
    """``q_t = mean_i r_i * sum_{i >= t} discount^(i - t) r_i`` with ``r_i = -log BIGRAM[y_{i-1}][y_i]``."""
    previous = [0, *sentence[:-1]]
    words = [-math.log(BIGRAM[p][y]) for p, y in zip(previous, sentence, strict=True)]
    mean = sum(words) / len(words)
    return [mean * sum(discount ** (i - t) * words[i] for i in range(t, len(words))) for t in range(len(words))]


def test_rewards_and_returns_on_a_hand_built_language_model():
    sentences = [[1, 2, 2], [0, 1, 0]]
    novelty = BigramLanguageModel(3).novelty(torch.tensor(sentences))
    assert novelty[0].tolist() == pytest.approx([math.log(4), -math.log(0.3), -math.log(0.6)])
    word, sentence, rewards = dpgan_rewards(novelty, discount=0.5)
    assert sentence[:, 0].tolist() == pytest.approx([sum(row) / 3 for row in novelty.tolist()])
    assert rewards.tolist() == [pytest.approx(hand_rewards(s, 0.5)) for s in sentences]
    # the cap clips each word reward before the mean and the returns
    _, _, capped = dpgan_rewards(novelty, discount=0.5, cap=1.0)
    clipped = novelty.clamp_max(1.0)
    assert capped[1, 2].item() == pytest.approx(clipped[1].mean().item() * clipped[1, 2].item())


@pytest.mark.parametrize("discount", [0.0, 0.5, 0.95, 1.0])
def test_discounted_returns_match_a_loop(discount):
    rewards = torch.rand(4, 6)
    expected = torch.zeros_like(rewards)
    running = torch.zeros(4)
    for t in reversed(range(6)):
        running = rewards[:, t] + discount * running
        expected[:, t] = running
    assert torch.allclose(discounted_returns(rewards, discount), expected, atol=1e-6)


def test_the_generator_loss_weights_the_scored_samples_log_probabilities_by_their_rewards():
    """The sentences the language model scores are the ones whose log-probabilities carry the loss."""
    torch.manual_seed(0)
    generator = LSTMGenerator(VOCAB, 3, embedding_dim=4, hidden_dim=4)
    language_model = BigramLanguageModel(3)
    estimator = DpganEstimator(discount=0.5, num_samples=5)
    out = estimator.generator_loss(generator, language_model, torch.zeros(5, 3, dtype=torch.long), None, 0)
    (tokens,) = language_model.scored
    rewards = torch.tensor([hand_rewards(sentence, 0.5) for sentence in tokens.tolist()])
    expected = -(rewards * generator.log_prob(tokens)).sum(dim=1).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_discriminator_loss_on_a_hand_built_case():
    """``mean novelty(fake) - real_weight * mean min(novelty(real), cap)``, by hand."""
    language_model = BigramLanguageModel(2)
    real, fake = torch.tensor([[1, 0], [2, 2]]), torch.tensor([[0, 0], [1, 1]])
    estimator = DpganEstimator(real_weight=0.5, novelty_cap=2.0)
    loss = estimator.discriminator_loss(language_model, real, fake, None)
    fake_terms = [-math.log(0.5), -math.log(0.5), -math.log(0.25), -math.log(0.6)]
    real_terms = [-math.log(0.25), min(-math.log(0.1), 2.0), -math.log(0.25), -math.log(0.6)]  # 2.30 capped
    assert loss.item() == pytest.approx(sum(fake_terms) / 4 - 0.5 * sum(real_terms) / 4)


def test_the_discriminator_learns_to_raise_real_novelty_and_lower_generated_novelty():
    """The paper's sign (and both released implementations'): a few steps on the loss move the novelties apart."""
    torch.manual_seed(0)
    language_model = LanguageModelDiscriminator(5, 4, embedding_dim=8, hidden_size=8)
    real, fake = torch.tensor([[1, 2, 3, 4]] * 4), torch.tensor([[4, 3, 2, 1]] * 4)
    before_real, before_fake = (language_model(x).mean().item() for x in (real, fake))
    estimator = DpganEstimator(novelty_cap=12.0)
    optimizer = torch.optim.Adam(language_model.parameters(), lr=1e-2)
    for _ in range(40):
        optimizer.zero_grad()
        estimator.discriminator_loss(language_model, real, fake, None).backward()
        optimizer.step()
    assert language_model(real).mean().item() > before_real + 0.1
    assert language_model(fake).mean().item() < before_fake - 0.1


def test_setup_names_the_language_model_choice():
    generator = LSTMGenerator(VOCAB, 3, embedding_dim=4, hidden_dim=4)
    discriminator = SeqGANDiscriminator(VOCAB, 3, embedding_dim=4, filter_sizes=[1, 2], num_filters=[2, 2])
    with pytest.raises(ValueError, match="estimator=dpgan needs discriminator=language_model"):
        DpganEstimator().setup(generator, discriminator)
    DpganEstimator().setup(generator, BigramLanguageModel(3))


# ------------------------------------------------------------------ free-running samples, not TextGAN-PyTorch's
LENGTH, DRAWS, BATCH = 2, 400, 8


def tiny_generator() -> LSTMGenerator:
    torch.manual_seed(3)
    generator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    for parameter in generator.parameters():
        nn.init.normal_(parameter, std=0.7)
    return generator


def exact_policy_gradient(generator: LSTMGenerator, language_model: BigramLanguageModel) -> torch.Tensor:
    """``sum_y p(y) sum_t q_t(y) grad log p(y_t | y_<t)`` over all ``V^T`` sentences, ``q`` held fixed."""
    sequences = all_sequences(VOCAB, LENGTH)
    with torch.no_grad():
        _, _, rewards = dpgan_rewards(language_model.novelty(sequences), discount=0.9)
    log_probs = generator.log_prob(sequences)  # (V^T, T)
    weights = log_probs.sum(dim=1).exp().detach()
    return flat_gradient(generator, (weights * (rewards * log_probs).sum(dim=1)).sum())


def textgan_pytorch_gradient(generator, language_model, real: torch.Tensor) -> torch.Tensor:
    """TextGAN-PyTorch's DPGAN step: teacher-force real sentences, take the argmax predictions as "samples"."""
    log_softmax = torch.log_softmax(generator(real), dim=-1)  # (B, T, V), inputs from real text
    tokens = log_softmax.argmax(dim=-1)
    with torch.no_grad():
        _, _, rewards = dpgan_rewards(language_model.novelty(tokens), discount=0.9)
    log_probs = log_softmax.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return flat_gradient(generator, (rewards * log_probs).sum(dim=1).mean())


@pytest.mark.slow  # statistical: hundreds of estimates (about a second)
def test_the_estimate_is_the_policy_gradient_of_free_running_samples():
    generator, language_model = tiny_generator(), BigramLanguageModel(LENGTH)
    exact = exact_policy_gradient(generator, language_model)
    assert exact.abs().max() > 1e-2
    estimator = DpganEstimator(discount=0.9, num_samples=BATCH)
    real = torch.zeros(BATCH, LENGTH, dtype=torch.long)  # only its shape matters
    torch.manual_seed(0)
    ours = torch.stack(
        [flat_gradient(generator, -estimator.generator_loss(generator, language_model, real, None, i).loss)
         for i in range(DRAWS)]
    )  # fmt: skip
    assert_unbiased(ours, exact)
    # TextGAN-PyTorch's variant, averaged over as many random real batches, misses the policy gradient
    defect = torch.stack(
        [textgan_pytorch_gradient(generator, language_model, torch.randint(VOCAB, (BATCH, LENGTH)))
         for _ in range(DRAWS)]
    )  # fmt: skip
    with pytest.raises(AssertionError, match="standard errors"):
        assert_unbiased(defect, exact)


@pytest.mark.parametrize("index", [0, 1], ids=["lstm", "rmc"])
def test_every_generator_trains_against_the_language_model(index):
    torch.manual_seed(0)
    generator = small_generators(7, 5)[index]
    language_model = LanguageModelDiscriminator(7, 5, embedding_dim=4, hidden_size=4)
    estimator = DpganEstimator(discount=0.9, baseline="moving_average")
    estimator.setup(generator, language_model)
    out = estimator.generator_loss(generator, language_model, torch.randint(7, (6, 5)), None, 0)
    out.loss.backward()
    assert torch.isfinite(out.loss) and generator.output.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in language_model.parameters())  # rewards carry no graph into D
    fake = estimator.discriminator_fakes(generator, 6, 5, 0)
    loss = estimator.discriminator_loss(language_model, torch.randint(7, (6, 5)), fake, None)
    loss.backward()
    assert torch.isfinite(loss) and language_model.language_model.output.weight.grad.abs().sum() > 0
