"""Class-conditional generators: ``p(y_t | y_<t, c)`` for ``k`` classes, on the RMC and the LSTM.

The class enters the input of every step: the token embedding ``e(y_{t-1})`` becomes
``e(y_{t-1}) + u_c``, with ``u`` a (k, E) table of class embeddings. Why the input and not the initial memory:

* it is the same for both cells and needs nothing of their state (the RMC's memory and the LSTM's zero state
  differ in shape and meaning), and both cells' input projection is affine, so the class adds one vector to
  the projected input of every step;
* with ``u = 0`` the model *is* the unconditional one, bit for bit: the class embeddings start at zero, so a
  conditional generator initialised from an unconditional MLE checkpoint (:func:`initialise_from`) starts as
  that model and conditional MLE only has to learn the offsets;
* the class is seen at every step, so it cannot be forgotten over a long sentence (CatGAN's generator,
  Liu et al. 2020, also feeds its category vector with every input).

Every method of :class:`textgan.models.generator.Generator` keeps its returns and gains ``labels``, a
LongTensor (B,) of class ids: ``log_prob(tokens, labels)``, ``nll(tokens, labels)``,
``sample(num, labels=...)``, ``rsample(num, beta, labels=...)``, ``unroll(..., labels=...)``. Without labels
(code written for unconditional generators: evaluation, NLL_gen) the model is the mixture with a uniform class
prior, ``p(y) = mean_c p(y | c)``: ``sample`` draws the classes first, ``log_prob`` returns the mixture's
per-token conditionals ``log p(y_t | y_<t)``, whose sum is ``log p(y)``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer
from textgan.models.generator import Generator, RelaxedSample
from textgan.models.lstm import LSTMGenerator
from textgan.models.rmc import RMCGenerator


def check_labels(labels: torch.Tensor, batch: int, num_classes: int) -> torch.Tensor:
    """``labels`` as a LongTensor (batch,) of ids in [0, num_classes), or ValueError saying what is wrong."""
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise ValueError(
            f"labels must be a LongTensor ({batch},), one class id per sentence, got {tuple(labels.shape)}"
        )
    if labels.is_floating_point():
        raise ValueError("labels must be integer class ids, got a floating-point tensor")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got values from {int(labels.min())} to {int(labels.max())}"
        )
    return labels.long()


def uniform_labels(num: int, num_classes: int, device: torch.device, generator: torch.Generator | None = None):
    """``num`` class ids drawn uniformly (the mixture's prior): LongTensor (num,)."""
    return torch.randint(num_classes, (num,), device=device, generator=generator)


class ClassConditionalEmbedding(nn.Embedding):
    """The token embedding plus a class embedding: ``forward(tokens) = weight[tokens] + class_weight[labels]``.

    ``labels`` (B,) are set for the duration of one call of the generator (:meth:`conditioned_on`); the class
    row is broadcast over the time axis of (B, T) tokens. ``weight`` is the token table, so code that reads it
    (RelGAN's initialisation, the input table) sees the unconditional embedding. ``class_weight`` starts at zero.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, num_classes: int) -> None:
        super().__init__(num_embeddings, embedding_dim)
        self.class_weight = nn.Parameter(torch.zeros(num_classes, embedding_dim))
        self.labels: torch.Tensor | None = None

    @contextlib.contextmanager
    def conditioned_on(self, labels: torch.Tensor) -> Iterator[None]:
        previous, self.labels = self.labels, labels
        try:
            yield
        finally:
            self.labels = previous

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.labels is None:
            raise RuntimeError("a class-conditional generator's embedding was called without labels")
        rows = self.class_weight[self.labels]  # (B, E)
        return F.embedding(tokens, self.weight) + rows.view(rows.shape[0], *([1] * (tokens.dim() - 1)), -1)


class ClassConditional:
    """Mixin over a :class:`Generator` subclass: the class-conditional API (see the module docstring)."""

    num_classes: int
    embedding: ClassConditionalEmbedding

    def _condition(self, num_classes: int) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 for a class-conditional generator, got {num_classes}")
        self.num_classes = num_classes
        plain = self.embedding
        embedding = ClassConditionalEmbedding(plain.num_embeddings, plain.embedding_dim, num_classes)
        embedding.weight = plain.weight  # the same (already initialised) token table
        self.embedding = embedding

    def _labels(self, labels: torch.Tensor, batch: int) -> torch.Tensor:
        return check_labels(labels.to(self.device), batch, self.num_classes)

    def log_prob(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-token ``log p(y_t | y_<t, c)`` (B, T); without labels the uniform mixture's ``log p(y_t | y_<t)``."""
        if labels is None:
            return self.mixture_log_prob(tokens)
        with self.embedding.conditioned_on(self._labels(labels, tokens.shape[0])):
            return super().log_prob(tokens)

    def mixture_log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """The uniform mixture's per-token conditionals (:func:`mixture_log_prob`)."""
        return mixture_log_prob(self, tokens)

    def nll(self, tokens: torch.Tensor, labels: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """Mean per-token negative log-likelihood (scalar) given the classes (the mixture's without labels)."""
        token_nll = -self.log_prob(tokens, labels)
        if mask is None:
            return token_nll.mean()
        mask = mask.to(token_nll.dtype)
        return (token_nll * mask).sum() / mask.sum().clamp_min(1.0)

    def unroll(self, batch_size: int, length: int, choose, *, labels: torch.Tensor | None = None, **options):
        """:meth:`Generator.unroll` given the classes ``labels`` (B,) (required)."""
        if options.get("input_table") is not None:
            raise ValueError("a class-conditional generator's steps cannot use a token-only input table")
        if labels is None:  # inside sample / rsample, which set the classes for the whole loop
            if self.embedding.labels is None:
                raise ValueError("a class-conditional generator's unroll needs labels (B,)")
            return super().unroll(batch_size, length, choose, **options)
        with self.embedding.conditioned_on(self._labels(labels, batch_size)):
            return super().unroll(batch_size, length, choose, **options)

    def input_table(self) -> None:
        """None: each step's input depends on the class as well as the token, so it is not a table lookup."""
        return None

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        length: int | None = None,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        batch_size: int = 1024,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sentences (N, T) of the classes ``labels`` (N,); without labels, classes drawn uniformly first."""
        if labels is None:
            labels = uniform_labels(num_samples, self.num_classes, self.device, generator)
        labels = self._labels(labels, num_samples)
        chunks = []
        for start in range(0, num_samples, batch_size):
            part = labels[start : start + batch_size]
            with self.embedding.conditioned_on(part):
                chunks.append(
                    super().sample(
                        part.shape[0], length, temperature=temperature, batch_size=batch_size, generator=generator
                    )
                )
        return torch.cat(chunks, dim=0)

    def rsample(
        self,
        num_samples: int,
        inverse_temperature,
        length: int | None = None,
        *,
        labels: torch.Tensor | None = None,
        **options,
    ) -> RelaxedSample:
        """RelGAN's Gumbel-Softmax sequences (:meth:`Generator.rsample`) of the classes ``labels`` (N,)."""
        if labels is None:
            labels = uniform_labels(num_samples, self.num_classes, self.device, options.get("generator"))
        with self.embedding.conditioned_on(self._labels(labels, num_samples)):
            return super().rsample(num_samples, inverse_temperature, length, **options)

    def rsample_relaxed_feedback(self, noise: torch.Tensor, temperature) -> torch.Tensor:
        raise NotImplementedError("relaxed feedback (GSGAN, REBAR, RELAX) is not class-conditional")

    def load_unconditional(self, source: Generator) -> None:
        """Copy an unconditional generator of the same architecture; the class embeddings are set to zero, so
        this model then computes exactly ``source``'s distribution for every class."""
        missing, unexpected = self.load_state_dict(source.state_dict(), strict=False)
        if unexpected or set(missing) != {"embedding.class_weight"}:
            raise ValueError(
                f"{type(source).__name__} does not fit {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        with torch.no_grad():
            self.embedding.class_weight.zero_()


class ConditionalRMCGenerator(ClassConditional, RMCGenerator):
    """RelGAN's RMC generator with a class embedding in every step's input (CatGAN's category-aware RMC).

    Args: ``num_classes`` (from the data), then those of :class:`RMCGenerator`.
    """

    config_ranges = {"num_classes": integer(1)}  # with those of RMCGenerator (inherited)

    def __init__(self, num_classes: int, vocab_size: int, max_length: int, **options) -> None:
        super().__init__(vocab_size, max_length, **options)
        self._condition(num_classes)


class ConditionalLSTMGenerator(ClassConditional, LSTMGenerator):
    """The LSTM generator with a class embedding in every step's input.

    Args: ``num_classes`` (from the data), then those of :class:`LSTMGenerator`.
    """

    config_ranges = {"num_classes": integer(1)}  # with those of LSTMGenerator (inherited)

    def __init__(self, num_classes: int, vocab_size: int, max_length: int, **options) -> None:
        super().__init__(vocab_size, max_length, **options)
        self._condition(num_classes)


def mixture_log_prob(generator: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Per-token ``log p(y_t | y_<t)`` (B, T) of the uniform mixture ``p(y) = mean_c p(y | c)`` of a conditional
    generator: the differences over t of ``log mean_c p(y_<=t | c)``, so that their sum is ``log p(y)``."""
    batch, classes = tokens.shape[0], generator.num_classes
    per_class = [
        generator.log_prob(tokens, torch.full((batch,), c, dtype=torch.long, device=tokens.device))
        for c in range(classes)
    ]
    prefix = torch.stack(per_class).cumsum(dim=-1)  # (k, B, T): log p(y_<=t | c)
    joint = torch.logsumexp(prefix, dim=0) - math.log(classes)  # (B, T): log p(y_<=t)
    return torch.cat([joint[:, :1], joint.diff(dim=1)], dim=1)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes class labels (``num_classes > 0``)."""
    return getattr(generator, "num_classes", 0) > 0


def balanced_labels(num_per_class: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``[0] * n + [1] * n + ... + [k - 1] * n``: LongTensor (k * n,)."""
    return torch.arange(num_classes, device=device).repeat_interleave(num_per_class)


@torch.no_grad()
def sample_per_class(generator: nn.Module, num_per_class: int, length: int | None = None, **options):
    """``num_per_class`` sentences of every class from a conditional generator: (tokens (k n, T), labels (k n,)),
    the classes in blocks (class 0 first)."""
    if not is_conditional(generator):
        raise ValueError(f"{type(generator).__name__} is not class-conditional (num_classes = 0)")
    labels = balanced_labels(num_per_class, generator.num_classes, generator.device)
    return generator.sample(labels.shape[0], length, labels=labels, **options), labels


def initialise_from(generator: nn.Module, source: nn.Module) -> None:
    """Load ``source``'s weights into ``generator``: the same class, or an unconditional generator into a
    conditional one (:meth:`ClassConditional.load_unconditional`, or every member of a
    :class:`textgan.models.per_class.GeneratorPerClass`)."""
    if type(source) is type(generator) or not hasattr(generator, "load_unconditional") or is_conditional(source):
        generator.load_state_dict(source.state_dict())
    else:
        generator.load_unconditional(source)
