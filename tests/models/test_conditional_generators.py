"""Class-conditional generators: they start as the unconditional model they are initialised from, the class
changes the distribution once its embedding is learned, labels select the class row by row, the mixture without
labels is a distribution, and SentiGAN's generators per class route every sentence to its own member."""

from __future__ import annotations

import pytest
import torch

from textgan.models.conditional import (
    ConditionalLSTMGenerator,
    ConditionalRMCGenerator,
    initialise_from,
    sample_per_class,
)
from textgan.models.io import build_from_config, load_generator, save_generator
from textgan.models.lstm import LSTMGenerator
from textgan.models.per_class import GeneratorPerClass
from textgan.models.rmc import RMCGenerator

VOCAB, LENGTH = 5, 3


def pairs():
    torch.manual_seed(0)
    rmc = dict(embedding_dim=8, head_size=4, num_heads=2)
    lstm = dict(embedding_dim=8, hidden_dim=8)
    return [
        (RMCGenerator(VOCAB, LENGTH, **rmc), ConditionalRMCGenerator(2, VOCAB, LENGTH, **rmc)),
        (LSTMGenerator(VOCAB, LENGTH, **lstm), ConditionalLSTMGenerator(2, VOCAB, LENGTH, **lstm)),
    ]


def all_sentences() -> torch.Tensor:
    return torch.cartesian_prod(*[torch.arange(VOCAB)] * LENGTH)  # (125, 3)


@pytest.mark.parametrize("index", [0, 1])
def test_initialised_from_an_unconditional_model_it_is_that_model_for_every_class(index):
    plain, conditional = pairs()[index]
    with torch.no_grad():
        conditional.embedding.class_weight.normal_()  # anything: loading must zero it
    initialise_from(conditional, plain)
    tokens = all_sentences()
    for c in range(2):
        labels = torch.full((len(tokens),), c)
        assert torch.equal(conditional.log_prob(tokens, labels), plain.log_prob(tokens))
    assert torch.equal(conditional.embedding.class_weight, torch.zeros(2, 8))


@pytest.mark.parametrize("index", [0, 1])
def test_labels_select_each_rows_class(index):
    _, conditional = pairs()[index]
    with torch.no_grad():
        conditional.embedding.class_weight.normal_(std=2.0)
    tokens = all_sentences()[:6]
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    mixed = conditional.log_prob(tokens, labels)
    for c in range(2):
        alone = conditional.log_prob(tokens, torch.full((6,), c))
        assert torch.allclose(mixed[labels == c], alone[labels == c], atol=1e-6)
    zero, one = (conditional.log_prob(tokens, torch.full((6,), c)) for c in range(2))
    assert not torch.allclose(zero, one)  # the class embedding changes the distribution


@pytest.mark.parametrize("index", [0, 1])
def test_without_labels_the_uniform_mixture_sums_to_one(index):
    _, conditional = pairs()[index]
    with torch.no_grad():
        conditional.embedding.class_weight.normal_(std=2.0)
    tokens = all_sentences()
    mixture = conditional.log_prob(tokens).sum(dim=1).exp()
    per_class = [conditional.log_prob(tokens, torch.full((len(tokens),), c)).sum(dim=1).exp() for c in range(2)]
    assert torch.allclose(mixture, (per_class[0] + per_class[1]) / 2, atol=1e-6)
    assert mixture.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_sampling_a_class_draws_from_that_class():
    _, conditional = pairs()[1]
    with torch.no_grad():  # input and output gates open, candidate = tanh(sum of the input): h = +-tanh(1)
        conditional.output.bias.zero_()
        conditional.output.weight.zero_()
        conditional.lstm.weight_hh_l0.zero_()
        conditional.lstm.weight_ih_l0.zero_()
        conditional.lstm.weight_ih_l0[16:24] = 1.0 / 80  # the candidate gate's rows (PyTorch order i, f, g, o)
        conditional.lstm.bias_hh_l0.zero_()
        conditional.lstm.bias_ih_l0.copy_(torch.tensor([20.0] * 8 + [0.0] * 8 + [0.0] * 8 + [20.0] * 8))
        conditional.embedding.weight.zero_()  # so class 0 always writes token 1 first, class 1 token 3
        conditional.embedding.class_weight.copy_(torch.tensor([[10.0] * 8, [-10.0] * 8]))
        conditional.output.weight[1] = 1.0
        conditional.output.weight[3] = -1.0
        conditional.output.weight.mul_(20)
    tokens, labels = sample_per_class(conditional, 4)
    assert torch.equal(labels, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))
    assert torch.equal(tokens[:4, 0], torch.ones(4, dtype=torch.long))
    assert torch.equal(tokens[4:, 0], torch.full((4,), 3))
    relaxed = conditional.rsample(8, 1.0, labels=labels)
    assert torch.equal(relaxed.tokens[:, 0], tokens[:, 0])


def test_bad_labels_are_refused_with_the_reason():
    _, conditional = pairs()[0]
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        conditional.log_prob(all_sentences()[:2], torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="one class id per sentence"):
        conditional.sample(3, labels=torch.tensor([0, 1]))


def test_generator_per_class_routes_each_sentence_to_its_member():
    torch.manual_seed(1)
    per_class = GeneratorPerClass(2, "textgan.models.lstm.LSTMGenerator", VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    tokens = all_sentences()[:5]
    labels = torch.tensor([1, 0, 1, 1, 0])
    log_probs = per_class.log_prob(tokens, labels)
    for b in range(5):
        expected = per_class.member(int(labels[b])).log_prob(tokens[b : b + 1])[0]
        assert torch.allclose(log_probs[b], expected)
    loss = per_class.nll(tokens, labels)
    loss.backward()  # conditional MLE: both members learn, each from its own sentences only
    assert all(p.grad is not None for p in per_class.member(0).parameters())
    torch.manual_seed(2)
    sampled = per_class.sample(6, labels=torch.tensor([0, 1, 0, 1, 0, 1]))
    torch.manual_seed(2)
    first = per_class.member(0).sample(3)
    assert torch.equal(sampled[[0, 2, 4]], first)


def test_conditional_generators_save_and_load(tmp_path):
    torch.manual_seed(3)
    build = {
        "_target_": "textgan.models.per_class.GeneratorPerClass", "num_classes": 2,
        "member": "textgan.models.lstm.LSTMGenerator", "vocab_size": VOCAB, "max_length": LENGTH,
        "embedding_dim": 4, "hidden_dim": 4,
    }  # fmt: skip
    generator = build_from_config(build)
    save_generator(tmp_path / "g.pt", generator, build)
    loaded, _ = load_generator(tmp_path / "g.pt")
    tokens, labels = all_sentences()[:4], torch.tensor([0, 1, 0, 1])
    assert torch.equal(loaded.log_prob(tokens, labels), generator.log_prob(tokens, labels))
    plain = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    initialise_from(loaded, plain)  # every member starts as the unconditional model
    assert torch.equal(loaded.log_prob(tokens, labels), plain.log_prob(tokens))
