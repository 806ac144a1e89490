"""The synthetic oracle of SeqGAN / LeakGAN / RelGAN: a fixed LSTM whose samples are the "real" data.

Layout of the parameters (``../shared/data/README.md``), row-vector convention ``x @ W``::

    i = sigmoid(x W_i + h U_i + b_i)   f = sigmoid(x W_f + h U_f + b_f)   o = sigmoid(x W_o + h U_o + b_o)
    g = tanh(x W_c + h U_c + b_c)      c' = f * c + i * g                 h' = o * tanh(c')
    logits = h' W_out + b_out

``h`` and ``c`` start at zero; the first input is the embedding of the start token 0 (an ordinary vocabulary
item), each later input the embedding of the previous token. NLL_oracle is the mean per-token negative
log-likelihood (nats) of sequences under this model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from textgan.sampling import categorical_sample

_GATES = ("i", "f", "o", "c")
NPZ_KEYS = ("embedding", "W_out", "b_out") + tuple(f"{k}_{g}" for k in ("W", "U", "b") for g in _GATES)


class OracleLSTM(nn.Module):
    """The oracle LSTM; parameters are buffers (the oracle is data, never trained)."""

    def __init__(
        self,
        vocab_size: int = 5000,
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        max_length: int = 20,
        start_token: int = 0,
        seed: int | None = 0,
    ) -> None:
        super().__init__()
        self.vocab_size, self.hidden_dim, self.max_length = vocab_size, hidden_dim, max_length
        self.start_token = start_token
        rng = torch.Generator().manual_seed(seed if seed is not None else 0)

        def normal(*shape: int) -> torch.Tensor:  # SeqGAN's oracle draws every parameter from N(0, 1)
            return torch.randn(*shape, generator=rng)

        self.register_buffer("embedding", normal(vocab_size, embedding_dim))
        self.register_buffer("input_weight", normal(embedding_dim, 4 * hidden_dim))  # [W_i W_f W_o W_c]
        self.register_buffer("recurrent_weight", normal(hidden_dim, 4 * hidden_dim))
        self.register_buffer("bias", normal(4 * hidden_dim))
        self.register_buffer("output_weight", normal(hidden_dim, vocab_size))
        self.register_buffer("output_bias", normal(vocab_size))

    @classmethod
    def from_npz(cls, path: str | Path, max_length: int = 20, start_token: int = 0) -> OracleLSTM:
        """Load the parameters from an ``.npz`` in the documented layout (e.g. the SeqGAN oracle)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"oracle parameters not found: {path}")
        with np.load(path) as arrays:
            missing = [key for key in NPZ_KEYS if key not in arrays]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}; expected {list(NPZ_KEYS)}")
            params = {key: torch.from_numpy(np.asarray(arrays[key], dtype=np.float32)) for key in NPZ_KEYS}
        vocab_size, embedding_dim = params["embedding"].shape
        hidden_dim = params["U_i"].shape[0]
        oracle = cls(vocab_size, embedding_dim, hidden_dim, max_length, start_token, seed=None)
        oracle.embedding.copy_(params["embedding"])
        oracle.input_weight.copy_(torch.cat([params[f"W_{g}"] for g in _GATES], dim=1))
        oracle.recurrent_weight.copy_(torch.cat([params[f"U_{g}"] for g in _GATES], dim=1))
        oracle.bias.copy_(torch.cat([params[f"b_{g}"] for g in _GATES]))
        oracle.output_weight.copy_(params["W_out"])
        oracle.output_bias.copy_(params["b_out"])
        return oracle

    def _step(self, projected: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor):
        gates = projected + hidden @ self.recurrent_weight  # (B, 4H)
        input_gate, forget_gate, output_gate, candidate = gates.chunk(4, dim=-1)
        memory = torch.sigmoid(forget_gate) * memory + torch.sigmoid(input_gate) * torch.tanh(candidate)
        hidden = torch.sigmoid(output_gate) * torch.tanh(memory)
        return hidden, memory

    @torch.no_grad()
    def sample(
        self, n: int, length: int | None = None, generator: torch.Generator | None = None, batch_size: int = 1024
    ) -> torch.Tensor:
        """Draw ``n`` sequences of ``length`` tokens (default ``max_length``): LongTensor (n, length).

        Chunks of ``batch_size`` sequences keep each step's (batch, V) probabilities in cache.
        """
        length = length or self.max_length
        chunks = [
            self._sample_chunk(min(batch_size, n - start), length, generator) for start in range(0, n, batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.empty(0, length, dtype=torch.long)

    def _sample_chunk(self, n: int, length: int, generator: torch.Generator | None) -> torch.Tensor:
        device = self.embedding.device
        hidden = torch.zeros(n, self.hidden_dim, device=device)
        memory = torch.zeros_like(hidden)
        projected_table = self.embedding @ self.input_weight + self.bias  # (V, 4H): one row per input token
        token = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        tokens = []
        for _ in range(length):
            hidden, memory = self._step(projected_table[token], hidden, memory)
            token = categorical_sample(hidden @ self.output_weight + self.output_bias, generator=generator)
            tokens.append(token)
        return torch.stack(tokens, dim=1)

    @torch.no_grad()
    def token_log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-token ``log p_oracle(y_t | y_<t)``: (N, T) -> (N, T) float32."""
        tokens = tokens.to(self.embedding.device)
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (N, T), got {tuple(tokens.shape)}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}); got {tokens.min()}..{tokens.max()}")
        start = tokens.new_full((tokens.shape[0], 1), self.start_token)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        projected = self.embedding[inputs] @ self.input_weight + self.bias  # (N, T, 4H), all steps at once
        hidden = torch.zeros(tokens.shape[0], self.hidden_dim, device=tokens.device)
        memory = torch.zeros_like(hidden)
        hiddens = []
        for t in range(tokens.shape[1]):
            hidden, memory = self._step(projected[:, t], hidden, memory)
            hiddens.append(hidden)
        logits = torch.stack(hiddens, dim=1) @ self.output_weight + self.output_bias  # (N, T, V)
        return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def nll(self, tokens: torch.Tensor, batch_size: int = 256) -> float:
        """NLL_oracle: mean per-token negative log-likelihood (nats) of ``tokens`` (N, T).

        Scored ``batch_size`` sequences at a time, so that one chunk's (batch, T, V) logits bound the memory.
        """
        total, count = 0.0, 0
        for chunk in torch.split(tokens, batch_size):
            total += float(-self.token_log_prob(chunk).double().sum())
            count += chunk.numel()
        if count == 0:
            raise ValueError("nll() needs at least one token")
        return total / count
