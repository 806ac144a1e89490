"""SentiGAN (Wang and Wan, IJCAI 2018): k generators, one per class, against a (k+1)-class discriminator.

Generator ``G_i`` minimises the penalty-based objective of the paper's Eq. 2 (its Eqs. 7 and 9 compare it with
GAN's and SeqGAN's): for a sentence ``Y ~ G_i``,

    J(G_i) = sum_t G_i(y_t | Y_{1:t-1}) * V_i(Y_{1:t}),    V_i(Y_{1:t}) = 1 - D_i(Y_{1:t})

where ``D_i`` is the discriminator's softmax probability that the sentence is a *real sentence of class i*, and
``V_i`` of a prefix is the mean over ``N`` Monte-Carlo completions by ``G_i`` (Eq. 3; the complete sentence is
scored as it is). The penalty is a constant of the gradient (no graph through the rollouts), so the gradient
lowers the probability of the tokens with the highest penalties: minimised, not maximised (TextGAN-PyTorch's
SentiGAN negates it), and with generator ``i`` read from column ``i`` of the discriminator (its oracle
instructor rewards every generator with column 1). ``token_weight="probability"`` is the paper's and the
authors' code's ``G_i(y_t | .)`` (``Real_dataset/generator.py``: ``sum(onehot * clip(prob, 1e-20, 1) *
rewards)``); ``"log_probability"`` weighs the penalty by ``log G_i(y_t | .)`` instead (the score-function form).

What the probability weight optimises: for one step with the penalty ``V`` of each next token held fixed, the
expected gradient over the sampled token is ``sum_y G(y) grad G(y) V(y) = grad (1/2) sum_y G(y)^2 V(y)``, the
gradient of a penalty-weighted *collision probability*, not of the expected penalty ``sum_y G(y) V(y)`` (which
``log_probability`` estimates without bias). Where ``V`` varies little between tokens (every penalty near 1, as
against a discriminator that wins), lowering ``sum_y G(y)^2`` flattens each step's distribution: the most
probable tokens lose most, ``<eos>`` at a sentence's end among them, and sentences run on
(docs/experiments/conditional-movie-reviews.md). The authors' code counters the drift with MLE between adversarial
iterations; ``mle_every`` adds the conditional MLE loss of the real batch (each sentence under its class's
generator) to every ``mle_every``-th generator update.

The discriminator minimises the (k+1)-class cross-entropy of Eq. 5: real sentences of class ``i`` labelled
``i``, generated sentences (from all generators) labelled ``k``, plus its own ``regularization()``.

Needs labelled data (``(tokens, labels)`` batches), a :class:`textgan.models.per_class.GeneratorPerClass`
(``generator=lstm_per_class``) and a multi-class discriminator (``discriminator=seqgan_classes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer, one_of, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.rewards import evaluation_mode
from textgan.estimators.rollout import rollout_rewards, stack_states
from textgan.models.class_discriminator import ClassDiscriminator
from textgan.models.generator import Generator
from textgan.models.per_class import GeneratorPerClass
from textgan.sampling import categorical_sample

if TYPE_CHECKING:
    from textgan.losses.gan import GANLoss

TOKEN_WEIGHTS = ("probability", "log_probability")


def penalty_objective(log_probs: torch.Tensor, penalties: torch.Tensor, token_weight: str = "probability"):
    """``mean_b sum_t w(y_t) * V[b, t]`` with ``w = G(y_t | .)`` or ``log G(y_t | .)``: the loss to minimise.

    ``log_probs`` (B, T) with a graph, ``penalties`` (B, T) constants in [0, 1].
    """
    if token_weight not in TOKEN_WEIGHTS:
        raise ValueError(f"token_weight must be one of {TOKEN_WEIGHTS}, got {token_weight!r}")
    weights = log_probs.exp() if token_weight == "probability" else log_probs
    return (weights * penalties.detach()).sum(dim=1).mean()


def class_penalty(discriminator: nn.Module, class_index: int):
    """The penalty ``1 - D_i(Y)`` of sentences (N, T): one minus the softmax probability of real class ``i``."""

    def penalty(tokens: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.softmax(discriminator(tokens).float(), dim=-1)[:, class_index]

    return penalty


class SentiganEstimator(Estimator):
    """SentiGAN's penalty objective with Monte-Carlo rollouts (see the module docstring).

    Args:
        rollout_num: completions per prefix (the paper's N = 15; its code 16).
        num_samples: sentences each generator draws per update (None: the real batch size).
        token_weight: ``probability`` (the paper's Eq. 2) or ``log_probability``.
        mle_every: every this many iterations also take the conditional MLE loss on the real batch (0: never,
            the paper; the authors' code runs 10 MLE epochs after every iteration).
        discriminator_dropout: keep the discriminator's dropout on while scoring (SentiGAN's code scores with
            ``dropout_keep_prob = 1``: False).
        max_batch / sample_batch: rollout chunk sizes (:mod:`textgan.estimators.rollout`).
    """

    conditional = True
    objective_is_gan_loss = False
    config_ranges = {
        "rollout_num": integer(1),
        "num_samples": optional(integer(1)),
        "token_weight": one_of(*TOKEN_WEIGHTS),
        "mle_every": integer(0),
        "max_batch": integer(1),
        "sample_batch": integer(1),
    }

    def __init__(
        self,
        rollout_num: int = 16,
        num_samples: int | None = None,
        token_weight: str = "probability",
        mle_every: int = 0,
        discriminator_dropout: bool = False,
        max_batch: int = 1024,
        sample_batch: int = 256,
    ) -> None:
        super().__init__()
        if token_weight not in TOKEN_WEIGHTS:
            raise ValueError(f"token_weight must be one of {TOKEN_WEIGHTS}, got {token_weight!r}")
        if mle_every < 0:
            raise ValueError(f"mle_every must be >= 0 (0: never), got {mle_every}")
        self.rollout_num, self.num_samples, self.token_weight = rollout_num, num_samples, token_weight
        self.mle_every = mle_every
        self.discriminator_dropout = discriminator_dropout
        self.max_batch, self.sample_batch = max_batch, sample_batch

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        if issubclass(discriminator_class, ClassDiscriminator):
            return None
        return (
            f"SentiGAN needs a (k+1)-class discriminator (discriminator=seqgan_classes or relgan_classes), "
            f"not {discriminator_class.__name__}"
        )

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        if not isinstance(generator, GeneratorPerClass):
            raise ValueError(
                f"SentiGAN trains one generator per class: generator=lstm_per_class (or rmc_per_class), "
                f"not {type(generator).__name__}"
            )
        if generator.num_classes != discriminator.num_classes:
            raise ValueError(
                f"SentiGAN: {generator.num_classes} generators but a discriminator of "
                f"{discriminator.num_classes} classes"
            )

    @staticmethod
    def _require(real_labels: torch.Tensor | None) -> torch.Tensor:
        if real_labels is None:
            raise ValueError(
                "SentiGAN needs labelled data (data=movie_reviews, k_oracle, ...): the batch has no labels"
            )
        return real_labels

    def class_loss(self, member: Generator, discriminator: nn.Module, class_index: int, batch: int, length: int):
        """Generator ``class_index``'s penalty objective on ``batch`` of its own sentences; (loss, mean penalty)."""

        def choose(logits: torch.Tensor) -> torch.Tensor:
            return categorical_sample(logits.detach())

        tokens, logits, states = member.unroll(batch, length, choose, keep_logits=True, keep_states=True)
        log_probs = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad(), evaluation_mode(discriminator, enabled=not self.discriminator_dropout):
            policy_states = stack_states(member.initial_state(batch, tokens.device), states)
            penalties, _ = rollout_rewards(
                member, tokens, class_penalty(discriminator, class_index), self.rollout_num, states=policy_states,
                max_batch=self.max_batch, sample_batch=self.sample_batch, deduplicate=not self.discriminator_dropout,
            )  # fmt: skip  # (B, T)
        return penalty_objective(log_probs, penalties, self.token_weight), penalties.mean()

    def generator_loss(
        self,
        generator: GeneratorPerClass,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
        real_labels: torch.Tensor | None = None,
    ) -> EstimatorOutput:
        """The sum over classes of each generator's objective (each generator's parameters see only its own),
        plus the conditional MLE loss of the real batch at every ``mle_every``-th iteration."""
        labels = self._require(real_labels)
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        loss, logs = real_tokens.new_zeros((), dtype=torch.float32), {}
        for index in range(generator.num_classes):
            class_loss, penalty = self.class_loss(generator.member(index), discriminator, index, batch, length)
            loss = loss + class_loss
            logs[f"penalty_class{index}"] = penalty
        if self.mle_every and step % self.mle_every == 0:
            mle_loss, nll = generator.mle_loss(real_tokens, labels=labels.to(real_tokens.device))
            loss = loss + mle_loss
            logs["interleaved_nll"] = nll
        return EstimatorOutput(loss=loss, logs=logs)

    @torch.no_grad()
    def discriminator_fakes(
        self, generator: GeneratorPerClass, batch_size: int, length: int, step: int, real_labels=None
    ) -> torch.Tensor:
        """``batch_size`` sentences from all generators, in turn (row ``b`` from generator ``b mod k``)."""
        labels = torch.arange(batch_size, device=generator.device) % generator.num_classes
        return generator.sample(batch_size, length, labels=labels, batch_size=batch_size)

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss, real_labels=None
    ) -> torch.Tensor:
        """Eq. 5: cross-entropy of real sentences against their classes and of fakes against class ``k``."""
        labels = self._require(real_labels).to(real.device)
        fake_labels = torch.full((fake.shape[0],), discriminator.fake_class, dtype=torch.long, device=fake.device)
        loss = F.cross_entropy(discriminator(real).float(), labels) + F.cross_entropy(
            discriminator(fake).float(), fake_labels
        )
        return loss + discriminator.regularization()
