"""The generator interface shared by every recurrent text generator.

A generator is an autoregressive model ``p(y_t | y_<t)`` over a vocabulary of ``V`` tokens. Subclasses define
one recurrent cell through three small methods; this base class turns the cell into everything an estimator
needs, with one implementation of each loop:

* ``log_prob(tokens)``: teacher-forced per-token log-likelihood (MLE pretraining, NLL_gen);
* ``sample(n)``: hard samples without a graph (discriminator steps, evaluation);
* ``unroll(n, T, choose, keep_logits=True)``: the free-running loop itself, here with the logits that produced
  the tokens, with a graph (REINFORCE's score function; ``choose`` picks each next token);
* ``rsample(n, inverse_temperature)``: RelGAN's Gumbel-Softmax sequences, differentiable (reparameterised).

Inputs that do not depend on the recurrent state (embedding and the input-side projections of the cell) are
computed for all time steps in one product whenever the tokens are known in advance.

Shapes: ``B`` batch, ``T`` length, ``V`` vocabulary, ``H`` the cell's output size, ``P`` its projected input.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer
from textgan.kernels import gumbel_max, token_log_probs
from textgan.kernels.known_output_linear import known_output_linear
from textgan.kernels.weight_casts import autocast_dtype, weights_cast_once
from textgan.sampling import categorical_sample, draw_seeds, gumbel_noise, straight_through

State = tuple[torch.Tensor, ...]


@dataclass
class RelaxedSample:
    """RelGAN's Gumbel-Softmax sample of whole sequences.

    ``tokens[b, t] = argmax(logits + gumbel)`` is an exact sample of the generator (Gumbel-Max), and it is the
    token fed back as the next input; ``relaxed[b, t] = softmax(beta * (logits + gumbel))`` is its
    differentiable stand-in that the discriminator reads (or the straight-through one-hot).
    """

    tokens: torch.Tensor  # (B, T) long
    relaxed: torch.Tensor  # (B, T, V), rows sum to one
    logits: torch.Tensor | None = None  # (B, T, V), when asked for


def trunc_normal_linear_(module: nn.Module) -> None:
    """RelGAN's initialisation: truncated normal weights with std 1/sqrt(fan_in), zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            std = 1.0 / math.sqrt(layer.in_features)
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """Base class of autoregressive generators; subclasses implement the recurrent cell.

    Args:
        vocab_size: number of tokens ``V``.
        embedding_dim: size of the token embedding.
        hidden_size: size ``H`` of the cell's output, projected to ``V`` logits.
        max_length: default sequence length ``T`` of samples.
        start_token: id fed as the first input (token 0 in the SeqGAN / RelGAN convention).
    """

    config_ranges = {"embedding_dim": integer(1), "hidden_size": integer(1)}

    def __init__(
        self, vocab_size: int, embedding_dim: int, hidden_size: int, max_length: int, start_token: int = 0
    ) -> None:
        super().__init__()
        if not 0 <= start_token < vocab_size:
            raise ValueError(f"start_token={start_token} is outside the vocabulary of size {vocab_size}")
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.start_token = start_token
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.output = nn.Linear(hidden_size, vocab_size)

    # ----------------------------------------------------------------- the cell, defined by subclasses
    def initial_state(self, batch_size: int, device: torch.device) -> State:
        """The recurrent state before the first token, each tensor with the batch as first axis."""
        raise NotImplementedError

    def project_inputs(self, embedded: torch.Tensor) -> torch.Tensor:
        """State-independent work on embedded inputs: (..., E) -> (..., P)."""
        raise NotImplementedError

    def input_projector(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """``project_inputs`` for one loop, during which the weights do not change: a subclass may prepare work
        for all its steps once (the RMC multiplies its input-side matrices out)."""
        return self.project_inputs

    def cell(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One recurrent step: projected input (B, P) and state -> output (B, H) and next state."""
        raise NotImplementedError

    # ----------------------------------------------------------------- teacher forcing
    @property
    def device(self) -> torch.device:
        return self.output.weight.device

    def _shifted_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        start = tokens.new_full((tokens.shape[0], 1), self.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced cell outputs for predicting each token of ``tokens`` (B, T): (B, T, H)."""
        projected = self.input_projector()(self.embedding(self._shifted_inputs(tokens)))  # (B, T, P)
        state = self.initial_state(tokens.shape[0], tokens.device)
        outputs = []
        with weights_cast_once(tokens.device, self):
            for step_input in projected.unbind(dim=1):  # unbind: one backward op, not T zero-padded grads
                hidden, state = self.cell(step_input, state)
                outputs.append(hidden)
        return torch.stack(outputs, dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: (B, T) token ids -> (B, T, V)."""
        return self.output(self.hidden_states(tokens))

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-token log-likelihood ``log p(y_t | y_<t)`` under teacher forcing: (B, T) -> (B, T) float32."""
        logits = self(tokens)
        if token_log_probs.applies(logits):  # bf16 logits on a CPU: one native pass each way
            return token_log_probs.native(logits, tokens)
        log_probs = torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
        return log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def nll(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean per-token negative log-likelihood in nats (scalar), over the tokens where ``mask`` is true."""
        token_nll = -self.log_prob(tokens)
        if mask is None:
            return token_nll.mean()
        mask = mask.to(token_nll.dtype)
        return (token_nll * mask).sum() / mask.sum().clamp_min(1.0)

    def mle_loss(self, tokens: torch.Tensor, **conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss MLE pretraining minimises on real sentences (B, T), and the mean NLL it logs.

        Both are :meth:`nll` here (``conditions``: a class-conditional generator's ``labels``); a generator with
        modules that learn something besides the likelihood in pretraining (LeakGAN's Manager) adds their
        losses to the first.
        """
        nll = self.nll(tokens, **conditions)
        return nll, nll.detach()

    # ----------------------------------------------------------------- free-running loops
    def unroll(
        self,
        batch_size: int,
        length: int,
        choose: Callable[[torch.Tensor], torch.Tensor],
        *,
        state: State | None = None,
        first_input: torch.Tensor | None = None,
        keep_logits: bool = False,
        keep_states: bool = False,
        input_table: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, list[State] | None]:
        """Run the generator for ``length`` steps, feeding back the token that ``choose(logits)`` returns.

        Args:
            choose: maps one step's logits (B, V), computed without a graph, to the next tokens (B,).
            state / first_input: where to start (default: the initial state and the start token), so that
                a rollout can continue from any prefix.
            keep_logits: also return the stacked logits (B, T, V); when gradients are enabled they carry the
                graph of the output projection, built for all steps in one product (``known_output_linear``).
            keep_states: also return the state after each step (for Monte-Carlo rollouts).
            input_table: ``project_inputs`` of every vocabulary entry (V, P); when given, each step's input
                is a row lookup instead of a product (see ``input_table``).
        Returns:
            tokens (B, T), logits (B, T, V) or None, states (list of T states) or None.
        """
        device = self.device
        if state is None:
            state = self.initial_state(batch_size, device)
        if first_input is None:
            first_input = torch.full((batch_size,), self.start_token, dtype=torch.long, device=device)
        record = torch.is_grad_enabled()
        token, tokens, hiddens, states = first_input, [], [], []
        project = self.input_projector() if input_table is None else None
        logits_buffer: torch.Tensor | None = None  # (B, T, V), filled step by step without a graph
        with weights_cast_once(device, self):
            for step in range(length):
                projected = input_table[token] if project is None else project(self.embedding(token))
                hidden, state = self.cell(projected, state)
                with torch.no_grad():  # the graph of the projection is rebuilt for all steps at once below
                    logits = self.output(hidden)  # (B, V)
                token = choose(logits)
                tokens.append(token)
                if keep_logits:
                    if logits_buffer is None:
                        logits_buffer = logits.new_empty(batch_size, length, logits.shape[-1])
                    logits_buffer[:, step] = logits
                    if record:
                        hiddens.append(hidden)
                if keep_states:
                    states.append(state)
        stacked_logits = logits_buffer
        if keep_logits and record:  # the per-step values, with the gradients of one batched projection
            hidden_steps = torch.stack(hiddens, dim=1)  # (B, T, H)
            stacked_logits = known_output_linear(hidden_steps, self.output.weight, self.output.bias, logits_buffer)
        return torch.stack(tokens, dim=1), stacked_logits, (states if keep_states else None)

    def input_table(self) -> torch.Tensor:
        """``project_inputs`` of every token embedding: (V, P).

        Worth building when many more than ``V`` tokens will be generated without a graph: each step's
        state-independent input work then becomes a lookup (since the RMC folds its input-side products, see
        :meth:`input_projector`, a small saving for it; the LSTM's input product is 4H wide).
        """
        return self.input_projector()(self.embedding.weight)

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        length: int | None = None,
        *,
        temperature: float = 1.0,
        batch_size: int = 1024,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw ``num_samples`` sequences from ``softmax(logits / temperature)``, no graph: (N, T) long.

        Sampling runs in chunks of ``batch_size`` sequences to bound memory.
        """
        length = length or self.max_length

        def choose(logits: torch.Tensor) -> torch.Tensor:
            return categorical_sample(logits, temperature, generator=generator)

        table = self.input_table() if num_samples * length > 4 * self.vocab_size else None
        chunks = []
        for start in range(0, num_samples, batch_size):
            size = min(batch_size, num_samples - start)
            chunks.append(self.unroll(size, length, choose, input_table=table)[0])
        return torch.cat(chunks, dim=0)

    def rsample(
        self,
        num_samples: int,
        inverse_temperature: float | torch.Tensor,
        length: int | None = None,
        *,
        straight_through_estimator: bool = False,
        generator: torch.Generator | None = None,
        keep_logits: bool = False,
    ) -> RelaxedSample:
        """RelGAN's reparameterised sample of whole sequences.

        At each step ``o + g`` (logits plus Gumbel noise) picks the next token by argmax, which is also the
        next input, and gives that step's relaxed one-hot row ``softmax(beta * (o + g))`` for the
        discriminator. Without a graph (discriminator steps) each row is written in place into the (B, T, V)
        result as soon as it is known; with a graph the noise is kept and the rows are made for all steps in
        one softmax over the loop's exact logits, so the graph holds one (B, T, V) tensor and the output
        projection's backward is one batched product. ``keep_logits`` also returns ``o``. The rows are float32,
        or bfloat16 without a graph under CPU bf16 autocast with the native kernels (what the discriminator's
        first product would round them to anyway: the same values reach it, in half the bytes).
        """
        length = length or self.max_length
        record = torch.is_grad_enabled()
        probe = torch.empty(0, device=self.device)
        seeds = draw_seeds(length, generator) if gumbel_max.applies(probe) else None
        # with a graph: the noise of every step; without: the relaxed rows themselves, natively in bfloat16 under
        # bf16 autocast (the type, and the rounding, the discriminator's first product reads them in)
        low = (
            not record
            and seeds is not None
            and self.vocab_size <= gumbel_max.BF16_ROWS_MAX_VOCAB
            and autocast_dtype(self.device.type) == torch.bfloat16
        )
        dtype = torch.bfloat16 if low else torch.float32
        buffer = torch.empty(num_samples, length, self.vocab_size, device=self.device, dtype=dtype)
        step = itertools.count()

        def choose(logits: torch.Tensor) -> torch.Tensor:
            t = next(step)
            if seeds is not None and gumbel_max.applies(logits):  # CPU: one native pass
                return gumbel_max.gumbel_max(logits, seeds[t], buffer[:, t], inverse_temperature, write_noise=record)
            noise = gumbel_noise(logits.shape, device=logits.device, generator=generator)
            perturbed = logits.float() + noise
            if record:
                buffer[:, t] = noise
            elif buffer.dtype == torch.float32:
                torch.softmax(perturbed * inverse_temperature, dim=-1, out=buffer[:, t])
            else:
                buffer[:, t] = torch.softmax(perturbed * inverse_temperature, dim=-1)
            return perturbed.argmax(dim=-1)

        tokens, logits, _ = self.unroll(num_samples, length, choose, keep_logits=keep_logits or record)
        if record:  # the same sums as in the loop, now in the graph: softmax(beta * (o + g)) for all steps
            relaxed = torch.softmax(buffer.add_(logits.float()).mul_(inverse_temperature), dim=-1)
        else:
            relaxed = buffer
        if straight_through_estimator:
            relaxed = straight_through(relaxed, tokens)
        return RelaxedSample(tokens=tokens, relaxed=relaxed, logits=logits if keep_logits else None)


    def rsample_relaxed_feedback(self, noise: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
        """Relaxed sentences with the relaxed rows themselves fed back: (N, T, V) float32 for noise (N, T, V).

        ``r_t = softmax((o_t + noise_t) / tau)``, where ``o_t`` are the logits after the inputs
        ``r_1 @ E, ..., r_{t-1} @ E`` (each step's input is the embedding averaged under the previous row).
        For fixed noise the rows are a smooth function of the parameters and ``tau`` through every step, which
        GSGAN (Kusner and Hernandez-Lobato, 2016) trains with and REBAR / RELAX need for an unbiased control
        variate. As ``tau -> 0`` each row tends to the one-hot of ``argmax(o_t + noise_t)``, and the loop to
        the hard Gumbel-Max sample fed its own tokens. One step at a time with a graph: the fed-back rows make
        every step's input depend on the parameters, so nothing is batched over time here.
        """
        rows_count, length, _ = noise.shape
        device = noise.device
        state = self.initial_state(rows_count, device)
        start = torch.full((rows_count,), self.start_token, dtype=torch.long, device=device)
        project = self.input_projector()
        projected = project(self.embedding(start))
        rows = []
        with weights_cast_once(device, self):
            for step in range(length):
                hidden, state = self.cell(projected, state)
                logits = self.output(hidden).float()  # (N, V): softmax in float32 under autocast
                row = torch.softmax((logits + noise[:, step]) / temperature, dim=-1)  # shift-invariant in logits
                rows.append(row)
                if step + 1 < length:
                    embedding = self.embedding.weight
                    projected = project(row.to(embedding.dtype) @ embedding)  # (N, E) -> (N, P)
        return torch.stack(rows, dim=1)

def one_hot(tokens: torch.Tensor, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, T) token ids -> (B, T, V) one-hot floats."""
    return F.one_hot(tokens, vocab_size).to(dtype)
