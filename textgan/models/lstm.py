"""An LSTM generator with the same interface as the RMC generator (SeqGAN's and RelGAN's LSTM baseline)."""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer
from textgan.models.generator import Generator, State


class LSTMGenerator(Generator):
    """Single-layer LSTM over token embeddings (SeqGAN: embedding 32, hidden 32).

    Teacher forcing runs the whole sequence through ``nn.LSTM`` (one fused kernel; in float32 on CPU, also
    under bf16 autocast); free-running loops use the same weights one step at a time, with the input product
    precomputed by ``project_inputs``.
    """

    config_ranges = {"hidden_dim": integer(1)}

    def __init__(
        self, vocab_size: int, max_length: int, embedding_dim: int = 32, hidden_dim: int = 32, start_token: int = 0
    ) -> None:
        super().__init__(vocab_size, embedding_dim, hidden_dim, max_length, start_token)
        self.hidden_dim = hidden_dim
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        nn.init.normal_(self.embedding.weight, std=0.1)

    def initial_state(self, batch_size: int, device: torch.device) -> State:
        zeros = torch.zeros(batch_size, self.hidden_dim, device=device)
        return (zeros, zeros)

    def project_inputs(self, embedded: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(
            embedded, self.lstm.weight_ih_l0, self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0
        )

    def cell(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        hidden, memory = state
        gates = projected + hidden @ self.lstm.weight_hh_l0.T  # (B, 4H), PyTorch order i, f, g, o
        input_gate, forget_gate, candidate, output_gate = gates.chunk(4, dim=-1)
        memory = torch.sigmoid(forget_gate) * memory + torch.sigmoid(input_gate) * torch.tanh(candidate)
        hidden = torch.sigmoid(output_gate) * torch.tanh(memory)
        return hidden, (hidden, memory)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(self._shifted_inputs(tokens))
        if embedded.device.type != "cpu":
            return self.lstm(embedded)[0]
        # oneDNN's CPU LSTM refuses bfloat16 inputs on CPUs without bf16 units: run the fused recurrence in
        # float32 under CPU autocast (the output projection after it still runs in bfloat16)
        with torch.autocast("cpu", enabled=False):
            return self.lstm(embedded.float())[0]
