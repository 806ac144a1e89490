"""MaliGAN: normalised weights, the paper's target gradient (exact with exact weights, consistent when
self-normalised), the mixed-MLE schedule, and rollouts that score fresh completions."""

from __future__ import annotations

import itertools

import pytest
import torch
from small_models import small_discriminators, small_generators
from torch import nn

from textgan.estimators.maligan import (
    MaliganEstimator,
    MeanWeightBaseline,
    maligan_group_losses,
    normalized_weights,
    prefix_length_at,
)
from textgan.estimators.rewards import normalize_importance_weights, reward_from_logits
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH = 3, 3  # 27 sentences: expectations are exact sums


class TableDiscriminator(nn.Module):
    """A fixed logit per sentence (B, 1), recording every sentence it scores."""

    def __init__(self, table: torch.Tensor, vocab: int, length: int) -> None:
        super().__init__()
        self.register_buffer("table", table)
        self.register_buffer("powers", vocab ** torch.arange(length - 1, -1, -1))
        self.seen: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen.append(tokens.clone())
        return self.table[(tokens * self.powers).sum(dim=-1)].unsqueeze(-1)


def all_sentences(vocab: int = VOCAB, length: int = LENGTH) -> torch.Tensor:
    return torch.cartesian_prod(*[torch.arange(vocab)] * length)  # (V^T, T), TableDiscriminator's order


def tiny_problem(seed: int = 0, vocab: int = VOCAB, length: int = LENGTH) -> tuple[LSTMGenerator, TableDiscriminator]:
    torch.manual_seed(seed)
    generator = LSTMGenerator(vocab, length, embedding_dim=4, hidden_dim=4)
    for parameter in generator.parameters():
        nn.init.normal_(parameter, std=0.7)
    return generator, TableDiscriminator(torch.randn(vocab**length), vocab, length)


def flat_gradient(generator: nn.Module, objective: torch.Tensor) -> torch.Tensor:
    return torch.cat(
        [g.reshape(-1) for g in torch.autograd.grad(objective, list(generator.parameters()), retain_graph=True)]
    )


def target_gradient(generator: LSTMGenerator, discriminator: TableDiscriminator) -> torch.Tensor:
    """The paper's target: grad KL(q || p_theta) = -sum_x q(x) grad log p_theta(x), q = p r_D / Z frozen."""
    log_p = generator.log_prob(all_sentences()).sum(dim=-1)  # (27,)
    odds = reward_from_logits(discriminator.table.unsqueeze(-1), "maligan")  # r_D = D / (1 - D)
    q = (log_p.exp() * odds / (log_p.exp() * odds).sum()).detach()
    return flat_gradient(generator, -(q * log_p).sum())


def test_weights_sum_to_one_and_the_baseline_is_their_mean():
    odds = torch.rand(5, 7) * 10
    weights = normalized_weights(odds)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(5))
    columns = normalize_importance_weights(odds.t())  # the REINFORCE path: per rollout position, over the batch
    torch.testing.assert_close(columns.sum(dim=0), torch.ones(5))
    torch.testing.assert_close(MeanWeightBaseline()(columns), columns.mean(dim=0, keepdim=True).expand_as(columns))


def test_the_baseline_on_a_hand_built_batch():
    """Discriminator outputs D = (0.5, 0.75, 0.9, 0.5) give odds r = D / (1 - D) = (1, 3, 9, 1), weights
    r / sum r = (1, 3, 9, 1) / 14 and the baseline b = 1/m = 1/4 (TextGAN-PyTorch's ``rewards -= mean``): the
    advantages are (-5, -1, 11, -5) / 28. With D = 0.5 everywhere (r = 1) every advantage is 0, and the mixed
    loss is the prefix's MLE loss alone. ``baseline: none`` keeps the weights themselves (b = 0)."""
    odds = reward_from_logits(torch.logit(torch.tensor([[0.5], [0.75], [0.9], [0.5]])), "maligan").view(1, 4)
    torch.testing.assert_close(odds, torch.tensor([[1.0, 3.0, 9.0, 1.0]]))
    torch.testing.assert_close(normalized_weights(odds), torch.tensor([[1.0, 3.0, 9.0, 1.0]]) / 14)
    torch.testing.assert_close(MeanWeightBaseline()(normalized_weights(odds).t()), torch.full((4, 1), 0.25))
    log_probs = torch.tensor([-1.0, -2.0, -3.0, -4.0]).view(1, 4, 1).expand(1, 4, 3).clone()  # (G, n, T)
    suffix = log_probs[0, :, 1:].sum(dim=-1)  # (n,): -2, -4, -6, -8
    loss = maligan_group_losses(log_probs, odds, prefix_length=1)
    torch.testing.assert_close(loss, 1.0 - (torch.tensor([-5.0, -1.0, 11.0, -5.0]) / 28 * suffix).sum().view(1))
    no_baseline = maligan_group_losses(log_probs, odds, prefix_length=1, baseline=False)
    torch.testing.assert_close(no_baseline, 1.0 - (torch.tensor([1.0, 3.0, 9.0, 1.0]) / 14 * suffix).sum().view(1))
    torch.testing.assert_close(maligan_group_losses(log_probs, torch.ones(1, 4), prefix_length=1), torch.ones(1))


def test_exact_weights_give_the_papers_target_gradient():
    """With ``r_D / Z`` in place of the normalised weights, the expectation over ``p_theta`` of the estimate
    equals grad KL(q || p_theta) exactly, for the baseline b = 1 (any constant): the paper's importance-sampling
    identity. Self-normalising over the whole support, each sentence counted p(x) times, gives the weights q."""
    generator, discriminator = tiny_problem()
    expected = target_gradient(generator, discriminator)
    log_p = generator.log_prob(all_sentences())  # (27, T)
    sentence = log_p.sum(dim=-1)
    odds = reward_from_logits(discriminator.table.unsqueeze(-1), "maligan")
    p = sentence.exp().detach()
    exact = (odds / (p * odds).sum() - 1.0).detach()  # r_D / Z - b
    torch.testing.assert_close(flat_gradient(generator, -(p * exact * sentence).sum()), expected)
    # the infinite-batch limit of the self-normalised weights, through the estimator's loss
    limit = maligan_group_losses(log_p.unsqueeze(0), (p * odds).unsqueeze(0), baseline=False).sum()
    torch.testing.assert_close(flat_gradient(generator, limit), expected)


def exact_expectation(generator: LSTMGenerator, discriminator: TableDiscriminator, samples: int) -> torch.Tensor:
    """E[gradient] of the self-normalised estimator over every ``samples``-tuple of sentences, weighted by p."""
    log_p = generator.log_prob(all_sentences())  # (27, T)
    p = log_p.sum(dim=-1).exp().detach()
    odds = reward_from_logits(discriminator.table.unsqueeze(-1), "maligan")
    tuples = torch.tensor(list(itertools.product(range(len(p)), repeat=samples)))  # (27^n, n)
    losses = maligan_group_losses(log_p[tuples], odds[tuples])  # (27^n,)
    return flat_gradient(generator, (p[tuples].prod(dim=-1) * losses).sum())


def test_self_normalised_weights_are_consistent_not_unbiased():
    """The paper's estimator is biased at a finite batch (the normaliser is estimated), the bias shrinks as the
    batch grows, and the estimator's own loss averaged over many batches of 256 reaches the target."""
    generator, discriminator = tiny_problem()
    target = target_gradient(generator, discriminator)
    bias = [(exact_expectation(generator, discriminator, n) - target).norm() / target.norm() for n in (1, 2, 3)]
    assert bias[0] > 0.5  # one sample: its weight is 1 and the baseline 1, no signal at all
    assert bias[1] > 0.05 and bias[2] < bias[1]  # biased, decreasingly

    estimator = MaliganEstimator(mixed_mle=False, num_samples=256)
    torch.manual_seed(1)
    draws = torch.stack([
        flat_gradient(generator, estimator.generator_loss(generator, discriminator, torch.zeros(8, LENGTH,
        dtype=torch.long), None, 0).loss) for _ in range(60)
    ])  # fmt: skip
    error = (draws.mean(dim=0) - target).norm() / target.norm()
    noise = draws.std(dim=0).norm() / target.norm() / 60**0.5  # the mean's standard error, relative
    assert error < 3 * noise + 0.02, (error, noise)


def test_mixed_schedule_prefix_length():
    """Algorithm 2: N starts at T - K and drops by K every I iterations, down to whole samples (N = 0)."""
    lengths = [prefix_length_at(step, 20, 2, 100) for step in (0, 99, 100, 250, 899, 900, 10_000)]
    assert lengths == [18, 18, 16, 14, 2, 0, 0]
    estimator = MaliganEstimator(suffix_step=3, suffix_every=10)
    assert [estimator.prefix_length(step, 7) for step in (0, 9, 10, 20)] == [4, 4, 1, 0]
    assert MaliganEstimator(mixed_mle=False).prefix_length(0, 7) == 0


def test_mixed_rows_keep_the_real_prefix_and_sample_the_suffix():
    generator, _ = tiny_problem(vocab=5, length=6)
    estimator = MaliganEstimator(samples_per_prefix=8)
    real = torch.randint(5, (4, 6))
    rows = estimator.sample_suffixes(generator, real, 2).view(4, 8, 6)
    assert torch.equal(rows[:, :, :2], real[:, None, :2].expand(4, 8, 2))
    assert all(len({tuple(row.tolist()) for row in group[:, 2:]}) > 1 for group in rows)  # fresh suffixes


def test_mixed_loss_estimates_mle_of_the_prefix_plus_the_conditional_target():
    """With one real prefix x_1 and many samples, the estimator's gradient reaches
    -grad log p(x_1) - sum_s q(s | x_1) grad log p(s | x_1), q(s | x_1) ~ p(s | x_1) r_D(x_1 s)."""
    generator, discriminator = tiny_problem(seed=3)
    real = torch.tensor([[2, 0, 1]])
    sentences = torch.cat([real[:, :1].expand(VOCAB**2, 1), all_sentences(VOCAB, 2)], dim=1)  # x_1 + every suffix
    log_p = generator.log_prob(sentences)  # (9, T)
    odds = reward_from_logits(discriminator(sentences), "maligan")
    conditional = log_p[:, 1:].sum(dim=-1)
    q = (conditional.exp() * odds / (conditional.exp() * odds).sum()).detach()
    target = flat_gradient(generator, -log_p[0, 0] - (q * conditional).sum())

    estimator = MaliganEstimator(samples_per_prefix=2048, suffix_step=2)
    torch.manual_seed(2)
    draws = torch.stack([
        flat_gradient(generator, estimator.generator_loss(generator, discriminator, real, None, 0).loss)
        for _ in range(10)
    ])  # fmt: skip
    error = (draws.mean(dim=0) - target).norm() / target.norm()
    assert error < 0.05, error


def test_rollouts_score_fresh_completions():
    """Each rollout of a prefix is a new completion (TextGAN-PyTorch's MaliGAN scores the sampled sentences
    themselves rollout_num times, so every reward of a sentence is that sentence's own weight)."""
    generator, discriminator = tiny_problem(vocab=5, length=4)
    estimator = MaliganEstimator(mixed_mle=False, reward="rollout", rollout_num=4, num_samples=8)
    torch.manual_seed(0)
    samples = generator.sample(8, 4)
    torch.manual_seed(0)
    estimator.generator_loss(generator, discriminator, torch.zeros(8, 4, dtype=torch.long), None, 0)
    scored = {tuple(row.tolist()) for rows in discriminator.seen for row in rows}
    sampled = {tuple(row.tolist()) for row in samples}
    assert sampled <= scored  # the final column: the samples themselves, once
    assert len(scored - sampled) >= 8  # and completions of their prefixes that are other sentences
    defective = sampled  # what re-scoring the same samples 16 times would have shown the discriminator
    assert not scored <= defective


@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
@pytest.mark.parametrize("mixed_mle", [True, False])
def test_trains_every_generator(generator_index: int, mixed_mle: bool):
    torch.manual_seed(0)
    generator = small_generators(7, 5)[generator_index]
    discriminator = small_discriminators(7, 5)[1]
    estimator = MaliganEstimator(mixed_mle=mixed_mle, samples_per_prefix=3)
    estimator.setup(generator, discriminator)
    out = estimator.generator_loss(generator, discriminator, torch.randint(7, (4, 5)), None, 0)
    gradient = flat_gradient(generator, out.loss)
    assert torch.isfinite(out.loss) and torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_refuses_rollouts_with_the_mixed_schedule():
    with pytest.raises(ValueError, match="mixed_mle=false"):
        MaliganEstimator(reward="rollout")
    with pytest.raises(ValueError, match="baseline"):
        MaliganEstimator(baseline="moving_average")
