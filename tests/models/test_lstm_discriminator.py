"""GSGAN's LSTM discriminator: the recurrence it computes, its two input forms, gradients and dropout."""

import torch
import torch.nn.functional as F

from textgan.models.lstm_discriminator import LSTMDiscriminator

V, T, B, E, H = 30, 9, 6, 8, 7


def discriminator() -> LSTMDiscriminator:
    torch.manual_seed(0)
    return LSTMDiscriminator(V, T, embedding_dim=E, hidden_size=H)


def hand_written(model: LSTMDiscriminator, tokens: torch.Tensor) -> torch.Tensor:
    """The LSTM recurrence step by step from the module's weights, then the output layer: (B, T) -> (B, 1)."""
    lstm = model.lstm
    hidden = memory = torch.zeros(tokens.shape[0], H)
    for step in range(tokens.shape[1]):
        x = model.embedding.weight[tokens[:, step]]
        gates = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + hidden @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, f, g, o = gates.chunk(4, dim=-1)
        memory = torch.sigmoid(f) * memory + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(memory)
    return model.logit(hidden)


def test_scores_are_the_lstm_recurrence_read_at_the_last_position():
    model = discriminator().eval()
    tokens = torch.randint(0, V, (B, T))
    logits = model(tokens)
    assert logits.shape == (B, 1) and model.num_outputs == 1
    torch.testing.assert_close(logits, hand_written(model, tokens), rtol=1e-5, atol=1e-6)
    changed = tokens.clone()
    changed[:, 0] = (changed[:, 0] + 1) % V  # the first token still reaches the score
    assert not torch.allclose(model(changed), logits)


def test_token_and_one_hot_inputs_give_identical_logits():
    model = discriminator().eval()
    tokens = torch.randint(0, V, (B, T))
    assert torch.equal(model(tokens), model(F.one_hot(tokens, V).float()))


def test_relaxed_inputs_receive_gradients_and_dropout_acts_in_train_mode_only():
    model = discriminator()
    relaxed = torch.softmax(torch.randn(B, T, V), dim=-1).requires_grad_()
    model(relaxed).sum().backward()
    assert relaxed.grad is not None and relaxed.grad[:, 0].abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())
    tokens = torch.randint(0, V, (B, T))
    assert not torch.equal(model(tokens), model(tokens))
    model.eval()
    assert torch.equal(model(tokens), model(tokens))
