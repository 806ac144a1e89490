"""LeakGAN's hierarchical generator: a Manager that reads leaked discriminator features, a Worker that follows.

Guo, Lu, Cai, Zhang, Yu and Wang, "Long Text Generation via Adversarial Training with Leaked Information"
(AAAI 2018). Time steps are 0-based: ``s_t`` is the prefix ``y_0 .. y_{t-1}`` (``t`` tokens, ``s_0`` empty) and
``y_t`` is drawn given ``s_t``. With ``c`` the goal horizon (``step_size``):

    f_t        = F(s_t)                                   the leaked feature of the prefix, (F,)
    h^M_t      = LSTM_M(f_t, h^M_{t-1});  g_t = u_t / |u_t|, u_t = W_g h^M_t        the Manager's goal, (F,)
    w_t        = W_psi sum_{i=0}^{c-1} g_{t-i}            (goals before g_0 do not exist), (k,)
    h^W_t      = LSTM_W(e(y_{t-1}), h^W_{t-1});  O_t = reshape(W_O h^W_t + b_O, (V, k))
    p(y_t | s_t) = softmax(O_t w_t)

``F`` is the feature extractor: the discriminator's CNN up to the vector its output layer reads
(``TextDiscriminator.sentence_features``), applied to the prefix padded to the full length with zero
embeddings, as the authors' code pads with the index -1 (whose embedding lookup is a zero row on their GPU).
The Worker reads the goals without their gradient: the Manager learns from its own objectives only
(:mod:`textgan.estimators.leakgan`). ``O_t w_t`` is computed as one linear map of the outer product
``h^W_t (x) w_t`` (plus ``B w_t`` for the bias), the same numbers without materialising a (V, k) matrix per
step and sentence.

The generator owns its feature extractor: a submodule built from the ``discriminator=`` config
(``feature_extractor``, interpolated from it in ``conf/generator/leakgan.yaml``), so that MLE pretraining, a saved
generator file, ``textgan-generate`` and ``textgan-evaluate`` work without the discriminator. Its parameters take
no gradient (features are computed without a graph, in ``eval()`` mode); during adversarial training the LeakGAN
estimator copies the discriminator's weights into it (the leak), as the authors' ``update_feature_function`` shares
them. The paper's index ``w_t = psi(sum_{i=1}^{c} g_{t-i})`` is shifted by one here, so the goals that shape
``y_t`` are the goals whose progress the Worker's intrinsic reward for ``y_t`` measures (see the estimator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer, optional
from textgan.models.discriminator import TextDiscriminator
from textgan.models.generator import Generator
from textgan.models.io import build_from_config
from textgan.models.leakgan_goals import window_cosines, window_sums


@dataclass
class LeakGANState:
    """Where a free-running LeakGAN loop stands after ``position`` tokens (every tensor batch-first)."""

    worker: tuple[torch.Tensor, torch.Tensor]  # (B, H) hidden and memory of the Worker
    manager: tuple[torch.Tensor, torch.Tensor]  # (B, H_M) of the Manager
    recent_goals: torch.Tensor  # (B, c - 1, F): g_{t-c+1} .. g_{t-1}, zeros before g_0
    prefix: torch.Tensor  # (B, T, E_D): the extractor's embeddings of the prefix, zero rows after it
    position: int

    @staticmethod
    def cat(first: LeakGANState, second: LeakGANState) -> LeakGANState:
        """The rows of ``first`` then those of ``second``, at one position."""
        if first.position != second.position:
            raise ValueError(f"states at positions {first.position} and {second.position} do not join")

        def join(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.cat([a, b])

        return LeakGANState(
            worker=(join(first.worker[0], second.worker[0]), join(first.worker[1], second.worker[1])),
            manager=(join(first.manager[0], second.manager[0]), join(first.manager[1], second.manager[1])),
            recent_goals=join(first.recent_goals, second.recent_goals),
            prefix=join(first.prefix, second.prefix),
            position=first.position,
        )

    def repeat(self, times: int) -> LeakGANState:
        """The state of ``times`` copies of the batch, rows ordered (copy, sentence)."""

        def rep(x: torch.Tensor) -> torch.Tensor:
            return x.repeat(times, *([1] * (x.dim() - 1)))

        return LeakGANState(
            worker=(rep(self.worker[0]), rep(self.worker[1])),
            manager=(rep(self.manager[0]), rep(self.manager[1])),
            recent_goals=rep(self.recent_goals),
            prefix=rep(self.prefix),
            position=self.position,
        )


@dataclass
class LeakGANPass:
    """A teacher-forced pass over sentences (B, T)."""

    logits: torch.Tensor  # (B, T, V): logits of y_t given s_t
    goals: torch.Tensor  # (B, T, F): g_t, unit vectors, with the Manager's graph
    features: torch.Tensor  # (B, T + 1, F): f_0 .. f_T, no graph


class LeakGANGenerator(Generator):
    """LeakGAN's Manager-Worker generator (module docstring): (B, T) ids -> (B, T, V) logits, and free runs.

    Args:
        vocab_size, max_length, start_token: from the data.
        feature_extractor: the build config of a :class:`TextDiscriminator` (``_target_`` and its arguments
            other than ``vocab_size`` / ``max_length``): the leaked feature CNN; its feature size is ``F``.
        embedding_dim, hidden_dim: the Worker's token embedding and LSTM size (paper, synthetic: 32, 32).
        goal_size: ``k``, the width of the Worker's goal embedding ``w_t`` (16).
        step_size: ``c``, the goal horizon (4).
        manager_hidden_dim: the Manager's LSTM size (the authors' code: ``hidden_dim``); None: ``hidden_dim``.
    """

    config_ranges = {
        "hidden_dim": integer(1),
        "goal_size": integer(1),
        "step_size": integer(1),
        "manager_hidden_dim": optional(integer(1)),
    }
    #: the one ``estimator=`` choice that trains this generator (its Manager has LeakGAN's objectives only)
    scheme_required = "leakgan"

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        feature_extractor: Mapping[str, Any],
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        goal_size: int = 16,
        step_size: int = 4,
        manager_hidden_dim: int | None = None,
        start_token: int = 0,
    ) -> None:
        super().__init__(vocab_size, embedding_dim, hidden_dim * goal_size, max_length, start_token)
        if step_size < 1 or goal_size < 1:
            raise ValueError(f"step_size and goal_size must be >= 1, got {step_size}, {goal_size}")
        extractor_build = {**dict(feature_extractor), "vocab_size": vocab_size, "max_length": max_length}
        self.feature_extractor = build_from_config(extractor_build, base=TextDiscriminator)
        self.feature_extractor.requires_grad_(False)
        self.hidden_dim, self.goal_size, self.step_size = hidden_dim, goal_size, step_size
        manager_hidden_dim = manager_hidden_dim or hidden_dim
        self.feature_size = self._probe_feature_size()
        self.worker = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.manager = nn.LSTM(self.feature_size, manager_hidden_dim, batch_first=True)
        self.goal_head = nn.Linear(manager_hidden_dim, self.feature_size)  # u_t = W_g h^M_t
        self.goal_projection = nn.Linear(self.feature_size, goal_size, bias=False)  # W_psi
        # O_t w_t = W_O-part applied to h (x) w, plus the bias part b_O applied to w (module docstring)
        self.output = nn.Linear(hidden_dim * goal_size, vocab_size, bias=False)
        self.output_bias = nn.Linear(goal_size, vocab_size, bias=False)
        nn.init.normal_(self.embedding.weight, std=0.1)

    def _probe_feature_size(self) -> int:
        with torch.no_grad():
            probe = torch.zeros(1, self.max_length, dtype=torch.long)
            was = self.feature_extractor.training
            self.feature_extractor.eval()
            size = self.feature_extractor.sentence_features(probe).shape[-1]
            self.feature_extractor.train(was)
        return int(size)

    def manager_parameters(self) -> list[nn.Parameter]:
        """The Manager's parameters (its LSTM and goal head)."""
        return [*self.manager.parameters(), *self.goal_head.parameters()]

    def worker_parameters(self) -> list[nn.Parameter]:
        """The Worker's parameters (embedding, LSTM, ``W_psi``, the output maps)."""
        manager = {id(p) for p in self.manager_parameters()}
        extractor = {id(p) for p in self.feature_extractor.parameters()}
        return [p for p in self.parameters() if id(p) not in manager and id(p) not in extractor]

    # ----------------------------------------------------------------- the leaked features
    def _extract(self, embedded: torch.Tensor) -> torch.Tensor:
        """The extractor's features of embedded, zero-padded sentences (N, T, E_D) -> (N, F), eval mode, no graph."""
        with torch.no_grad():
            was = self.feature_extractor.training
            self.feature_extractor.eval()
            try:
                return self.feature_extractor.embedded_features(embedded).float()
            finally:
                self.feature_extractor.train(was)

    def prefix_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``f_0 .. f_L`` of sentences (B, L), L <= T: (B, L + 1, F), every prefix in one extractor call."""
        batch, length = tokens.shape
        if length > self.max_length:
            raise ValueError(f"LeakGAN's features cover at most max_length={self.max_length} tokens, got {length}")
        with torch.no_grad():
            padded = tokens.new_zeros(batch, self.max_length)
            padded[:, :length] = tokens
            embedded = self.feature_extractor.embed(padded)  # (B, T, E_D)
            positions = torch.arange(self.max_length, device=tokens.device)
            keep = positions.view(1, -1) < torch.arange(length + 1, device=tokens.device).view(-1, 1)  # (L+1, T)
            rows = embedded.unsqueeze(1) * keep.view(1, length + 1, -1, 1).to(embedded.dtype)  # (B, L+1, T, E_D)
            return self._extract(rows.flatten(0, 1)).view(batch, length + 1, -1)

    # ----------------------------------------------------------------- teacher forcing
    def goals_of(self, features: torch.Tensor) -> torch.Tensor:
        """The Manager's unit goals for features (B, T, F) -> (B, T, F), with the Manager's graph."""
        with torch.autocast(features.device.type, enabled=False):
            hidden = self.manager(features.float())[0]
        return F.normalize(self.goal_head(hidden), dim=-1).float()

    def _logits(self, worker_hidden: torch.Tensor, goal_sums: torch.Tensor) -> torch.Tensor:
        """``O_t w_t`` from the Worker's output (..., H) and the goal sums (..., F): (..., V)."""
        weights = self.goal_projection(goal_sums)  # (..., k)
        outer = (worker_hidden.unsqueeze(-1) * weights.unsqueeze(-2)).flatten(-2)  # (..., H * k)
        return self.output(outer) + self.output_bias(weights)

    def teacher_forced(self, tokens: torch.Tensor) -> LeakGANPass:
        """Logits, goals and features of sentences (B, T) under teacher forcing (fused LSTMs over time)."""
        features = self.prefix_features(tokens)  # (B, T + 1, F)
        goals = self.goals_of(features[:, :-1])  # g_t from f_t, t < T
        embedded = self.embedding(self._shifted_inputs(tokens))
        with torch.autocast(tokens.device.type, enabled=False):  # oneDNN's CPU LSTM: float32 (LSTMGenerator)
            worker_hidden = self.worker(embedded.float())[0]  # (B, T, H)
        logits = self._logits(worker_hidden, window_sums(goals.detach(), self.step_size))
        return LeakGANPass(logits=logits, goals=goals, features=features)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: (B, T) token ids -> (B, T, V) (the Worker's likelihood, MLE and NLL_gen)."""
        return self.teacher_forced(tokens).logits

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("LeakGAN's logits are O_t w_t, not a map of one hidden state: use forward")

    def mle_loss(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MLE pretraining of both modules on real sentences (B, T): (loss, the Worker's NLL).

        The Worker's mean NLL plus the Manager's pretraining loss, minus the mean cosine of each goal with the
        feature change over its horizon (:func:`textgan.models.leakgan_goals.window_cosines`), as the
        authors' ``pretrain_worker_loss`` and ``pretrain_goal_loss`` (their gradients reach disjoint parameters).
        """
        run = self.teacher_forced(tokens)
        log_probs = torch.log_softmax(run.logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        nll = -log_probs.mean()
        return nll - window_cosines(run.features, run.goals, self.step_size).mean(), nll.detach()

    # ----------------------------------------------------------------- free-running loops
    def start_state(self, batch_size: int, device: torch.device) -> LeakGANState:
        """The state before the first token."""
        worker = torch.zeros(batch_size, self.hidden_dim, device=device)
        manager = torch.zeros(batch_size, self.manager.hidden_size, device=device)
        return LeakGANState(
            worker=(worker, worker),
            manager=(manager, manager),
            recent_goals=torch.zeros(batch_size, self.step_size - 1, self.feature_size, device=device),
            prefix=torch.zeros(
                batch_size, self.max_length, self.feature_extractor.embedding.embedding_dim, device=device
            ),
            position=0,
        )

    @staticmethod
    def _lstm_step(lstm: nn.LSTM, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        hidden, memory = state
        gates = F.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0) + hidden @ lstm.weight_hh_l0.T
        input_gate, forget_gate, candidate, output_gate = gates.chunk(4, dim=-1)  # PyTorch's order
        memory = torch.sigmoid(forget_gate) * memory + torch.sigmoid(input_gate) * torch.tanh(candidate)
        hidden = torch.sigmoid(output_gate) * torch.tanh(memory)
        return hidden, memory

    def step(self, token: torch.Tensor, state: LeakGANState) -> tuple[torch.Tensor, LeakGANState]:
        """One step from ``state`` after feeding ``token`` (B,) (the last prefix token or the start token):
        the logits (B, V) of the next token, and the state with the goal recorded (the prefix is not yet
        extended: :meth:`extend` does that once the token is chosen)."""
        feature = self._extract(state.prefix)  # f_t, (B, F)
        with torch.autocast(token.device.type, enabled=False):  # the recurrences in float32, as teacher forcing
            worker = self._lstm_step(self.worker, self.embedding(token).float(), state.worker)
            manager = self._lstm_step(self.manager, feature, state.manager)
        goal = F.normalize(self.goal_head(manager[0]), dim=-1).float()  # g_t
        logits = self._logits(worker[0], goal.detach() + state.recent_goals.sum(dim=1))
        recent = torch.cat([state.recent_goals, goal.detach().unsqueeze(1)], dim=1)[:, 1:]
        return logits, replace(state, worker=worker, manager=manager, recent_goals=recent)

    def extend(self, state: LeakGANState, token: torch.Tensor, *, in_place: bool = False) -> LeakGANState:
        """``state`` with ``token`` (B,) appended to its prefix (written into ``state.prefix`` itself when
        ``in_place``, which a loop that keeps no earlier state may do)."""
        if state.position >= self.max_length:
            raise ValueError(f"LeakGAN's prefix is full: max_length={self.max_length}")
        with torch.no_grad():
            prefix = state.prefix if in_place else state.prefix.clone()
            prefix[:, state.position] = self.feature_extractor.embedding(token).to(prefix.dtype)
        return replace(state, prefix=prefix, position=state.position + 1)

    def unroll(
        self,
        batch_size: int,
        length: int,
        choose: Callable[[torch.Tensor], torch.Tensor],
        *,
        state: LeakGANState | None = None,
        first_input: torch.Tensor | None = None,
        keep_logits: bool = False,
        keep_states: bool = False,
        input_table: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, list[LeakGANState] | None]:
        """The free-running loop (:meth:`Generator.unroll`'s contract; ``state`` is a :class:`LeakGANState`,
        ``input_table`` is ignored): tokens (B, L), logits (B, L, V) or None, the state after each step or None.

        Each step computes the leaked feature of the prefix so far (one extractor call of B sentences).
        """
        device = self.device
        if state is None:
            state = self.start_state(batch_size, device)
        elif not keep_states:  # the loop writes its prefix in place: the caller's state stays as it was
            state = replace(state, prefix=state.prefix.clone())
        token = first_input
        if token is None:
            token = torch.full((batch_size,), self.start_token, dtype=torch.long, device=device)
        tokens, logits_steps, states = [], [], []
        for _ in range(length):
            logits, state = self.step(token, state)
            token = choose(logits.detach())
            state = self.extend(state, token, in_place=not keep_states)
            tokens.append(token)
            if keep_logits:
                logits_steps.append(logits)
            if keep_states:
                states.append(state)
        stacked = torch.stack(logits_steps, dim=1) if keep_logits else None
        return torch.stack(tokens, dim=1), stacked, (states if keep_states else None)

    def input_table(self) -> None:
        """None: LeakGAN's loop embeds its inputs itself (callers pass the table on to ``unroll``, which ignores it)."""
        return None

    def initial_state(self, batch_size: int, device: torch.device):
        raise NotImplementedError("LeakGAN's state is a LeakGANState: see start_state")
