"""Labelled batches: the MLE module trains a conditional generator on nll(tokens, labels) (an unconditional one
ignores the labels), and the adversarial module hands the labels to a conditional estimator only."""

from __future__ import annotations

import pytest
import torch

from textgan.estimators.base import Estimator
from textgan.losses.gan import RSGANLoss
from textgan.models.conditional import ConditionalLSTMGenerator
from textgan.models.lstm import LSTMGenerator
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.training.adversarial import AdversarialModule
from textgan.training.batches import labels_for, split_batch
from textgan.training.mle import MLEPretrainModule


def test_split_batch_takes_both_layouts_apart():
    tokens, labels = torch.zeros(3, 4, dtype=torch.long), torch.tensor([0, 1, 0])
    assert split_batch(tokens) == (tokens, None)
    assert split_batch((tokens, labels))[1] is labels
    with pytest.raises(ValueError, match="one label per sentence"):
        split_batch((tokens, labels[:2]))
    with pytest.raises(TypeError, match=r"\(tokens, labels\) pair"):
        split_batch([tokens])


def test_conditional_mle_loss_is_the_nll_given_the_labels():
    torch.manual_seed(0)
    generator = ConditionalLSTMGenerator(2, 6, 4, embedding_dim=4, hidden_dim=4)
    with torch.no_grad():
        generator.embedding.class_weight.normal_()
    module = MLEPretrainModule(generator)
    module.log = lambda *args, **kwargs: None
    tokens, labels = torch.randint(6, (3, 4)), torch.tensor([1, 0, 1])
    loss = module.training_step((tokens, labels), 0)
    assert loss.item() == pytest.approx(generator.nll(tokens, labels).item())
    loss.backward()
    assert generator.embedding.class_weight.grad.abs().sum() > 0
    plain = LSTMGenerator(6, 4, embedding_dim=4, hidden_dim=4)
    assert labels_for(plain, labels) == {}
    module = MLEPretrainModule(plain)
    module.log = lambda *args, **kwargs: None
    assert module.training_step((tokens, labels), 0).item() == pytest.approx(plain.nll(tokens).item())


class Recorder(torch.nn.Module):
    def __init__(self, conditional: bool) -> None:
        super().__init__()
        self.conditional = conditional


@pytest.mark.parametrize("conditional", [True, False])
def test_the_adversarial_module_passes_labels_to_conditional_estimators_only(conditional):
    module = AdversarialModule.__new__(AdversarialModule)
    torch.nn.Module.__init__(module)
    module.estimator = Recorder(conditional)
    labels = torch.tensor([0, 1])
    assert module._labels(labels) == ({"real_labels": labels} if conditional else {})
    assert module._labels(None) == {}


class ConditionalFakes(Estimator):
    """A conditional estimator whose fakes are the classes they were asked for, as token ids."""

    conditional = True

    def discriminator_fakes(self, generator, batch_size, length, step, real_labels=None):
        self.asked = real_labels
        return real_labels.view(-1, 1).expand(batch_size, length).clone()


def test_seqgans_schedule_draws_positives_with_their_classes_for_a_conditional_estimator():
    torch.manual_seed(0)
    tokens = torch.arange(6).view(6, 1).expand(6, 4).clone()  # sentence i is token i repeated
    labels = torch.tensor([0, 1, 0, 1, 0, 1])  # the class of sentence i is i mod 2
    estimator = ConditionalFakes()
    module = AdversarialModule(
        LSTMGenerator(6, 4, embedding_dim=4, hidden_dim=4), RelGANDiscriminator(6, 4, 4, num_rep=2, filter_sizes=[2],
        num_filters=[2]), estimator, RSGANLoss(), discriminator_epochs=1, num_negatives=8, real_tokens=tokens,
        real_labels=labels,
    )  # fmt: skip
    batches = list(module._fresh_negative_batches(1, 4, 4))
    assert len(batches) == 2
    for real, fake, real_labels in batches:
        assert torch.equal(real_labels, real[:, 0] % 2)  # each positive with its own class
        assert torch.equal(fake[:, 0], real_labels)  # the fakes were made for those classes, row by row
