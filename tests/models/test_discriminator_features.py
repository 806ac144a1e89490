"""``sentence_features(x)`` is the vector the discriminator's output map reads inside ``forward(x)``.

For every discriminator (SeqGAN's and RelGAN's CNNs, GSGAN's LSTM), for token ids, one-hot rows and relaxed rows:
the features equal the intermediate that a hook on the last module before the output map records during
``forward`` (highway + dropout for the CNNs, concatenated over RelGAN's representations; dropout of the last
hidden state for the LSTM), and ``score(sentence_features(x))`` equals ``forward(x)``, in evaluation mode and, with
the same random stream, in training mode (one dropout mask per call).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textgan.models.lstm_discriminator import LSTMDiscriminator
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

VOCAB, LENGTH, BATCH = 7, 6, 4
NAMES = ["seqgan", "relgan", "lstm"]


def small_discriminators(vocab: int, length: int) -> list[torch.nn.Module]:
    return [
        SeqGANDiscriminator(vocab, length, embedding_dim=8, filter_sizes=[2, 3], num_filters=[4, 4]),
        RelGANDiscriminator(vocab, length, embedding_dim=8, num_rep=4, num_filters=[4] * 4),
        LSTMDiscriminator(vocab, length, embedding_dim=8, hidden_size=8),
    ]


def inputs(kind: str) -> torch.Tensor:
    tokens = torch.randint(VOCAB, (BATCH, LENGTH))
    if kind == "tokens":
        return tokens
    if kind == "one_hot":
        return F.one_hot(tokens, VOCAB).float()
    return torch.softmax(torch.randn(BATCH, LENGTH, VOCAB), dim=-1)


def last_module_before_output(discriminator: torch.nn.Module) -> torch.nn.Module:
    return discriminator.dropout if hasattr(discriminator, "lstm") else discriminator.highway


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("kind", ["tokens", "one_hot", "relaxed"])
@pytest.mark.parametrize("index", range(3), ids=NAMES)
def test_features_are_the_input_of_the_output_map_inside_forward(index, kind, training):
    torch.manual_seed(0)
    discriminator = small_discriminators(VOCAB, LENGTH)[index].train(training)
    x = inputs(kind)
    recorded = []
    hook = last_module_before_output(discriminator).register_forward_hook(lambda m, a, out: recorded.append(out))
    torch.manual_seed(1)
    logits = discriminator(x)
    hook.remove()
    torch.manual_seed(1)
    features = discriminator.sentence_features(x)
    assert features.shape[0] == BATCH and features.dim() == 2
    assert torch.equal(features, recorded[0].reshape(BATCH, -1))
    assert torch.equal(discriminator.score(features), logits)


def test_relgan_features_are_every_representations_highway_output_side_by_side():
    torch.manual_seed(0)
    discriminator = small_discriminators(VOCAB, LENGTH)[1].eval()
    features = discriminator.sentence_features(inputs("tokens"))
    assert features.shape == (BATCH, discriminator.num_rep * discriminator.features.out_features)


def test_features_carry_the_gradient_of_relaxed_rows():
    torch.manual_seed(0)
    for discriminator in small_discriminators(VOCAB, LENGTH):
        rows = inputs("relaxed").requires_grad_()
        discriminator.eval().sentence_features(rows).square().sum().backward()
        assert rows.grad.abs().sum() > 0
