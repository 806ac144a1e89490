"""LeakGAN: a Manager rewarded by rescaled rollouts, a Worker by its progress along the Manager's goals.

Guo, Lu, Cai, Zhang, Yu and Wang, "Long Text Generation via Adversarial Training with Leaked Information"
(AAAI 2018); the generator is :class:`textgan.models.leakgan.LeakGANGenerator` (``generator=leakgan``), whose
indices and goal arithmetic (:mod:`textgan.models.leakgan_goals`) this module uses. Per generator update, on
``B`` free-running samples of length ``T``, with goal horizon ``c``:

* **Rollout values.** For each window end ``e = c, 2c, .. < T`` the prefix ``y_<e`` is completed ``K`` times
  (``rollout_num``) by the generator itself and ``Q(b, e)`` is the mean of ``D``'s probability of "real" for the
  completions; for ``e = T`` it is ``D``'s probability of the complete sentence. The completions of all windows,
  rollouts and sentences come from one time loop (rows join as it reaches their window's end) and are scored
  together, identical rows once.
* **Bootstrapped rescaled activation** (the paper's Sec. "Training Techniques"): each column of the reward
  matrix ``R`` (B x W) is replaced by ``sigma(delta * (0.5 - rank(b) / B))``, ``rank`` 1 for the highest value of
  the column (ties share the better rank); ``delta = 16`` in the authors' code (``redistribution``).
* **Manager** (Eq. 8): ``loss_M = -1/(B W) sum_{b, k} Q~(b, e_k) cos(f_{e_k} - f_{t_k}, g_{t_k})`` over the windows
  ``t_k = kc``, ``e_k = min(t_k + c, T)``.
* **Worker** (Eqs. 9-10): REINFORCE with the intrinsic reward ``r_t`` of each token,
  ``loss_W = -1/(B T) sum_{b, t} r_t log p(y_t | s_t)``: the Worker raises the likelihood of tokens that moved
  the features along its goals (``r_t`` held fixed, goals without gradient).

The two losses reach disjoint parameters (the Worker reads the goals detached), so their sum back-propagated once
gives each module its own gradient, and one optimiser step updates both: there is no order of two steps to get
wrong. ``mle_every`` interleaves MLE (the paper's "interleaved training"): at every ``mle_every``-th iteration the
update also minimises the generator's MLE loss (Worker NLL and the Manager's unweighted cosine) on the real batch.

The discriminator's features leak through the generator's own copy of its CNN: ``setup`` first gives the
discriminator the extractor the generator was pretrained with (so the Manager reads the features it learned
on), then every generator update copies the discriminator's current weights into the generator's extractor
(the authors' ``update_feature_function`` after each discriminator round). The discriminator trains with the
configured GAN loss (the paper: the standard cross-entropy, ``loss=standard``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import integer, number, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.rewards import DiscriminatorReward, evaluation_mode
from textgan.estimators.rollout import Scorer, score_rows
from textgan.models.discriminator import TextDiscriminator
from textgan.models.generator import Generator
from textgan.models.leakgan import LeakGANGenerator, LeakGANState
from textgan.models.leakgan_goals import intrinsic_rewards, window_cosines, window_ends
from textgan.sampling import categorical_sample

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


def rescaled_rewards(rewards: torch.Tensor, delta: float) -> torch.Tensor:
    """LeakGAN's bootstrapped rescaled activation per column: (B, W) -> ``sigma(delta (0.5 - rank / B))``.

    ``rank[b, w] = 1 + #{b' : R[b', w] > R[b, w]}`` (1 = best; equal values share a rank, as the authors'
    code maps equal rewards to one value). One (B, B, W) comparison, no sort loop.
    """
    batch = rewards.shape[0]
    greater = (rewards.unsqueeze(0) > rewards.unsqueeze(1)).sum(dim=1)  # [b, w]: rows b' beating row b
    rank = (greater + 1).to(torch.float32)
    return torch.sigmoid(delta * (0.5 - rank / batch))


def manager_loss(rewards: torch.Tensor, cosines: torch.Tensor) -> torch.Tensor:
    """``-mean Q~ cos``: rescaled rewards (B, W), held fixed, times the goals' cosines (B, W) -> scalar."""
    return -(rewards.detach() * cosines).mean()


def worker_loss(intrinsic: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """REINFORCE of the intrinsic rewards: ``-mean r_t log p(y_t | s_t)`` over (B, T), ``r`` held fixed.

    Descending it raises the likelihood of tokens with a positive reward (those that moved the features along
    the goals) and lowers it for a negative one."""
    return -(intrinsic.detach() * log_probs).mean()


def leaked_feature_refusal(discriminator_class: type) -> str | None:
    """Why LeakGAN cannot leak features from a discriminator of ``discriminator_class`` (None: it can)."""
    if (
        issubclass(discriminator_class, TextDiscriminator)
        and discriminator_class.embedded_features is not TextDiscriminator.embedded_features
    ):
        return None
    return (
        "estimator=leakgan needs a discriminator with sentence features to leak, discriminator=seqgan (the "
        "paper's CNN), relgan, relgan_cpu, textgan_cnn or lstm, "
        f"got {discriminator_class.__name__}"
    )


@torch.no_grad()
def complete_windows(
    generator: LeakGANGenerator,
    tokens: torch.Tensor,
    states: list[LeakGANState],
    ends: list[int],
    num_rollouts: int,
    choose: Callable[[torch.Tensor], torch.Tensor] = categorical_sample,
) -> torch.Tensor:
    """``K`` completions of each prefix ``y_<e`` (``ends`` increasing, below T) of sentences (B, T): (P K B, T),
    rows ordered (window, rollout, sentence).

    One time loop over the positions after the first end: at position ``s`` the rows of every window that ends at
    or before ``s`` take one step together (a window's rows join when the loop reaches its end, from
    ``states[e - 1]``, the state after ``e`` tokens), so no step is spent on a known prefix and nothing loops over
    windows or rollouts.
    """
    batch, length = tokens.shape
    per_window = num_rollouts * batch
    completions = torch.cat([tokens.repeat(num_rollouts, 1)] * len(ends))  # prefixes kept, the rest overwritten
    active, inputs, joined = None, None, 0
    for position in range(ends[0], length):
        if joined < len(ends) and ends[joined] == position:  # this window's rows join the batch
            fresh = states[position - 1].repeat(num_rollouts)
            fresh_inputs = tokens[:, position - 1].repeat(num_rollouts)
            active = fresh if active is None else LeakGANState.cat(active, fresh)
            inputs = fresh_inputs if inputs is None else torch.cat([inputs, fresh_inputs])
            joined += 1
        logits, active = generator.step(inputs, active)
        inputs = choose(logits)
        active = generator.extend(active, inputs, in_place=True)
        completions[: joined * per_window, position] = inputs
    return completions


@torch.no_grad()
def window_rewards(
    generator: LeakGANGenerator,
    tokens: torch.Tensor,
    states: list[LeakGANState],
    score: Scorer,
    num_rollouts: int,
    *,
    max_batch: int = 1024,
    deduplicate: bool = True,
) -> torch.Tensor:
    """``Q(b, e)`` for each window end ``e`` (:func:`window_ends`): (B, W), the last column ``score(tokens)``.

    ``states[e - 1]`` is the generator's state after ``e`` tokens (``unroll(..., keep_states=True)``). The
    completions of every window, rollout and sentence come from one loop (:func:`complete_windows`) and are
    scored together (:func:`score_rows`: chunks of ``max_batch``, identical rows once).
    """
    batch, length = tokens.shape
    ends = [end for end in window_ends(length, generator.step_size) if end < length]
    final = score(tokens).float().unsqueeze(1)  # (B, 1): the complete sentences, D's own verdict
    if not ends:
        return final
    completions = complete_windows(generator, tokens, states, ends, num_rollouts)
    scores, _ = score_rows(completions, score, max_batch, deduplicate)
    partial = scores.view(len(ends), num_rollouts, batch).mean(dim=1).t()  # (B, W - 1)
    return torch.cat([partial, final], dim=1)


class LeakganEstimator(Estimator):
    """LeakGAN's Manager and Worker objectives (see the module docstring).

    Args:
        rollout_num: ``K`` completions per window end (the authors' synthetic code: 4).
        delta: the rescaling's sharpness (the authors' code: 16).
        num_samples: sentences per generator update (default: the real batch size).
        mle_every: every this many iterations also take the MLE loss on the real batch (0: never, the authors'
            synthetic code; their COCO code runs one MLE epoch every 15 iterations).
        max_batch: sentences per discriminator call when scoring completions.
        deduplicate: score identical completions once (exact with the discriminator in ``eval()`` mode).
        discriminator_dropout: score with the discriminator's dropout on (the authors' rewards: off).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {
        "rollout_num": integer(1),
        "delta": number(0, above=True),
        "num_samples": optional(integer(1)),
        "mle_every": integer(0),
        "max_batch": integer(1),
    }

    def __init__(
        self,
        rollout_num: int = 4,
        delta: float = 16.0,
        num_samples: int | None = None,
        mle_every: int = 0,
        max_batch: int = 1024,
        deduplicate: bool = True,
        discriminator_dropout: bool = False,
    ) -> None:
        super().__init__()
        if rollout_num < 1 or delta <= 0 or mle_every < 0:
            raise ValueError(
                f"need rollout_num >= 1, delta > 0, mle_every >= 0; got {rollout_num}, {delta}, {mle_every}"
            )
        self.rollout_num, self.delta, self.num_samples = rollout_num, delta, num_samples
        self.mle_every, self.max_batch, self.deduplicate = mle_every, max_batch, deduplicate
        self.discriminator_dropout = discriminator_dropout

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        return leaked_feature_refusal(discriminator_class)

    @classmethod
    def generator_refusal(cls, generator_class: type) -> str | None:
        if issubclass(generator_class, LeakGANGenerator):
            return None
        return f"estimator=leakgan needs generator=leakgan (the Manager and Worker), got {generator_class.__name__}"

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        """Refuse mismatched models; give the discriminator the generator's feature extractor (module docstring)."""
        leakgan = self.check_generator(generator)
        self.check_discriminator(discriminator)
        extractor = leakgan.feature_extractor

        def shapes(module: nn.Module) -> dict[str, torch.Size]:
            return {name: value.shape for name, value in module.state_dict().items()}

        if type(extractor) is not type(discriminator) or shapes(extractor) != shapes(discriminator):
            raise ValueError(
                f"estimator=leakgan: the generator's feature extractor ({type(extractor).__name__}, "
                "generator.feature_extractor) must have the discriminator's class and sizes "
                f"({type(discriminator).__name__}, discriminator=): build both from one config "
                "(conf/generator/leakgan.yaml interpolates ${discriminator})"
            )
        discriminator.load_state_dict(extractor.state_dict())

    @staticmethod
    def leak(generator: LeakGANGenerator, discriminator: nn.Module) -> None:
        """Copy the discriminator's current weights into the generator's feature extractor."""
        with torch.no_grad():
            for mine, theirs in zip(
                generator.feature_extractor.state_dict().values(), discriminator.state_dict().values(), strict=True
            ):
                mine.copy_(theirs)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        leakgan = self.check_generator(generator)
        self.leak(leakgan, discriminator)
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        step_size = leakgan.step_size
        with torch.no_grad():
            tokens, _, states = leakgan.unroll(batch, length, categorical_sample, keep_states=True)
            with evaluation_mode(discriminator, enabled=not self.discriminator_dropout):
                score = DiscriminatorReward(discriminator, transform="prob")
                values = window_rewards(
                    leakgan, tokens, states, score, self.rollout_num, max_batch=self.max_batch,
                    deduplicate=self.deduplicate,
                )  # fmt: skip
            rewards = rescaled_rewards(values, self.delta)  # (B, W)
        run = leakgan.teacher_forced(tokens)
        log_probs = torch.log_softmax(run.logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        cosines = window_cosines(run.features, run.goals, step_size)  # (B, W), the Manager's graph
        intrinsic = intrinsic_rewards(run.features, run.goals.detach(), step_size)  # (B, T)
        manager, worker = manager_loss(rewards, cosines), worker_loss(intrinsic, log_probs)
        loss = manager + worker
        logs: dict[str, torch.Tensor | float] = {
            "manager_loss": manager.detach(),
            "worker_loss": worker.detach(),
            "reward": values[:, -1].mean(),
            "goal_cosine": cosines.detach().mean(),
            "intrinsic_reward": intrinsic.mean(),
        }
        if self.mle_every and step % self.mle_every == 0:
            mle_loss, nll = leakgan.mle_loss(real_tokens)
            loss = loss + mle_loss
            logs["interleaved_nll"] = nll
        return EstimatorOutput(loss=loss, logs=logs)
