"""Small instances of every generator and discriminator, for tests that must hold for all of them."""

import warnings

from torch import nn

from textgan.models.lstm import LSTMGenerator
from textgan.models.lstm_discriminator import LSTMDiscriminator
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.rmc import RMCGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator


def small_generators(vocab: int, length: int) -> list[nn.Module]:
    """An LSTM and a relational-memory generator."""
    return [
        LSTMGenerator(vocab, length, embedding_dim=8, hidden_dim=8),
        RMCGenerator(vocab, length, embedding_dim=8, head_size=4, num_heads=2),
    ]


def small_discriminators(vocab: int, length: int) -> list[nn.Module]:
    """SeqGAN's and RelGAN's CNN discriminators and GSGAN's LSTM discriminator."""
    with warnings.catch_warnings():  # SeqGAN's windows longer than the sentences are dropped, with a warning
        warnings.simplefilter("ignore")
        seqgan = SeqGANDiscriminator(vocab, length, embedding_dim=8, num_filters=[4] * 12)
    relgan = RelGANDiscriminator(vocab, length, embedding_dim=8, num_rep=4, num_filters=[4] * 4)
    return [seqgan, relgan, LSTMDiscriminator(vocab, length, embedding_dim=8, hidden_size=8)]
