"""RankGAN: rank scores on a hand-built comparison set equal the paper's formula, they average over the references
(not Texygen's comparison with the mean reference), the ranker's loss on a hand-built case, the rollout rewards
with both generators, and the setup's check that the discriminator is a ranker."""

from __future__ import annotations

import math

import pytest
import torch
from small_models import small_generators

from textgan.estimators.rankgan import RankganEstimator, log_rank_scores
from textgan.models.lstm import LSTMGenerator
from textgan.models.ranker import Ranker
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

# hand-set features of sentences, indexed by their first token
FEATURES = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [1.0, -1.0], [-2.0, 1.0], [0.5, 2.0]]


class FeatureTable(Ranker):
    """A stand-in ranker whose feature of a sentence is ``FEATURES[first token]``."""

    def __init__(self, length: int = 3) -> None:
        super().__init__(len(FEATURES), length, embedding_dim=2, filter_sizes=[1], num_filters=[2])
        self.register_buffer("table", torch.tensor(FEATURES))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.table[inputs[:, 0]]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)


def hand_rank_score(u: list[float], comparison: list[list[float]], references: list[list[float]], gamma: float):
    """``R(u | U, C) = 1/|U| sum_s exp(g a(u|s)) / sum_{u' in C + {u}} exp(g a(u'|s))``, in plain Python."""
    total = 0.0
    for s in references:
        denominator = sum(math.exp(gamma * cosine(v, s)) for v in [u, *comparison])
        total += math.exp(gamma * cosine(u, s)) / denominator
    return total / len(references)


def rows(*indices: int) -> torch.Tensor:
    return torch.tensor([FEATURES[i] for i in indices])


@pytest.mark.parametrize("gamma", [1.0, 3.0])
def test_rank_scores_on_a_hand_built_comparison_set_equal_the_formula(gamma):
    candidates, comparison, references = (0, 1), (2, 3, 4), (5, 3)
    scores = log_rank_scores(rows(*candidates), rows(*comparison), rows(*references), gamma).exp()
    expected = [
        hand_rank_score(FEATURES[u], [FEATURES[c] for c in comparison], [FEATURES[s] for s in references], gamma)
        for u in candidates
    ]
    assert scores.tolist() == pytest.approx(expected, rel=1e-5)


def mean_reference_scores(candidates, comparison, references, gamma):
    """Texygen's RankGAN: one softmax of the relevance to the references' mean (of unit features)."""
    unit = [torch.nn.functional.normalize(x, dim=-1) for x in (candidates, comparison, references)]
    mean = unit[2].mean(dim=0)
    own, others = gamma * unit[0] @ mean, gamma * unit[1] @ mean
    return own.exp() / (own.exp() + others.exp().sum())


def test_rank_scores_average_over_the_references_not_against_their_mean():
    candidates, comparison = rows(0, 1), rows(2, 3, 4)
    first, second = rows(5), rows(3)
    both = log_rank_scores(candidates, comparison, torch.cat([first, second]), 2.0).exp()
    each = [log_rank_scores(candidates, comparison, reference, 2.0).exp() for reference in (first, second)]
    assert torch.allclose(both, (each[0] + each[1]) / 2, atol=1e-6)  # the expectation over s in U
    texygen = mean_reference_scores(candidates, comparison, torch.cat([first, second]), 2.0)
    assert (texygen - both).abs().max() > 1e-2  # comparing with the mean reference is another score
    assert not torch.allclose(texygen, (each[0] + each[1]) / 2, atol=1e-3)


def test_the_ranker_loss_on_a_hand_built_case():
    """``-mean log R(human | U, generated) - mean log(1 - R(generated | U, human))``, U the batch's first half."""
    ranker = FeatureTable()
    real = torch.tensor([[5, 0, 0], [3, 0, 0], [0, 0, 0], [1, 0, 0]])  # references 5, 3; humans 0, 1
    fake = torch.tensor([[2, 0, 0], [4, 0, 0]])
    estimator = RankganEstimator(gamma=2.0, num_references=4)  # at most half the real batch: 2
    loss = estimator.discriminator_loss(ranker, real, fake, None)
    references, humans, generated = [FEATURES[5], FEATURES[3]], [FEATURES[0], FEATURES[1]], [FEATURES[2], FEATURES[4]]
    human_terms = [math.log(hand_rank_score(u, generated, references, 2.0)) for u in humans]
    fake_terms = [math.log(1 - hand_rank_score(u, humans, references, 2.0)) for u in generated]
    assert loss.item() == pytest.approx(-(sum(human_terms) / 2 + sum(fake_terms) / 2), rel=1e-5)


def test_the_generator_reward_is_the_log_rank_among_human_sentences():
    ranker = FeatureTable()
    real = torch.tensor([[5, 0, 0], [3, 0, 0], [0, 0, 0], [1, 0, 0]])
    score = RankganEstimator(gamma=2.0, num_references=2)._scorer(ranker, real, None)
    rewards = score(torch.tensor([[2, 1, 1], [4, 0, 0]]))
    expected = [math.log(hand_rank_score(FEATURES[u], [FEATURES[0], FEATURES[1]], [FEATURES[5], FEATURES[3]], 2.0))
                for u in (2, 4)]  # fmt: skip
    assert rewards.tolist() == pytest.approx(expected, rel=1e-5)


def test_setup_names_the_ranker_choice():
    generator = LSTMGenerator(6, 3, embedding_dim=4, hidden_dim=4)
    discriminator = SeqGANDiscriminator(6, 3, embedding_dim=4, filter_sizes=[1, 2], num_filters=[2, 2])
    with pytest.raises(ValueError, match="estimator=rankgan needs discriminator=ranker"):
        RankganEstimator().setup(generator, discriminator)
    RankganEstimator().setup(generator, FeatureTable())


def test_the_ranker_features_are_the_seqgan_cnn_before_its_output_layer():
    torch.manual_seed(0)
    cnn = SeqGANDiscriminator(7, 5, embedding_dim=4, filter_sizes=[1, 2, 3], num_filters=[3, 3, 3]).eval()
    tokens = torch.randint(7, (4, 5))
    assert torch.equal(cnn.logit(cnn.sentence_features(tokens)), cnn(tokens))  # the logits are unchanged
    ranker = Ranker(7, 5, embedding_dim=4, filter_sizes=[1, 2, 3], num_filters=[3, 3, 3])
    assert ranker(tokens).shape == (4, ranker.out_features)


@pytest.mark.parametrize("index", [0, 1], ids=["lstm", "rmc"])
def test_every_generator_trains_against_the_ranker(index):
    torch.manual_seed(0)
    generator = small_generators(7, 5)[index]
    ranker = Ranker(7, 5, embedding_dim=4, filter_sizes=[1, 2, 3], num_filters=[3, 3, 3])
    estimator = RankganEstimator(num_references=2, rollout_num=2, num_samples=3)
    estimator.setup(generator, ranker)
    real = torch.randint(7, (6, 5))
    out = estimator.generator_loss(generator, ranker, real, None, 0)
    out.loss.backward()
    assert torch.isfinite(out.loss) and generator.output.weight.grad.abs().sum() > 0
    assert (out.logs["reward"] < 0).item()  # a log rank score
    assert all(p.grad is None for p in ranker.parameters())
    fake = estimator.discriminator_fakes(generator, 6, 5, 0)
    loss = estimator.discriminator_loss(ranker, real, fake, None)
    loss.backward()
    assert torch.isfinite(loss) and ranker.cnn.embedding.weight.grad.abs().sum() > 0
