"""CatGAN's hierarchical evolutionary learning: a population of generators, mutated and selected by fitness.

One generation (one adversarial iteration): every parent makes one child per mutation, a mutation being a
choice of the generator's adversarial loss and of the Gumbel-Softmax inverse temperature; each child takes the
parent's weights and optimiser state and one optimiser step under its mutation; the ``num_parents`` fittest
children become the next parents. Fitness (Liu et al., AAAI 2020, after E-GAN, Wang et al. 2019), as the
authors' code (TextGAN-PyTorch ``catgan_instructor.py``, ``evaluation``) computes it, is

    F = F_q + gamma * F_d,

quality ``F_q = mean_c mean_{x_f ~ G(.|c)} sigmoid(D(x_f) - mean_{x_r in class c} D(x_r))``, the relativistic
average score of the child's sentences of class ``c`` against the real sentences of that class (the authors'
code's ``Ra`` evaluation), and diversity ``F_d = mean_c NLL_G(x_f | c)``, the child's mean per-token negative
log-likelihood of its own samples, an entropy estimate: higher is more diverse. Means replace the authors'
sums over 512 sentences per class (their gamma = 0.001 with sums is gamma = 0.001 / 512 ~ 2e-6 with means).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Member:
    """One generator of the population: its weights, its optimiser's state, its fitness and how it was made."""

    weights: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    fitness: float = float("-inf")
    mutation: tuple[str, float] | None = None


def snapshot(generator: nn.Module, optimizer: torch.optim.Optimizer) -> Member:
    """A copy of ``generator``'s weights and ``optimizer``'s state (nothing shared with the live objects)."""
    weights = {name: value.detach().clone() for name, value in generator.state_dict().items()}
    return Member(weights, copy.deepcopy(optimizer.state_dict()))


def restore(member: Member, generator: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Put ``member``'s weights into ``generator`` and its state into ``optimizer``."""
    generator.load_state_dict(member.weights)
    optimizer.load_state_dict(copy.deepcopy(member.optimizer_state))


def quality_fitness(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_labels, fake_labels, num_classes):
    """``F_q``: mean over classes of ``mean_f sigmoid(D(x_f) - mean_r D(x_r))`` within the class (float tensor).

    Logits (N, R) are averaged over the ``R`` outputs first; classes without real or fake sentences are skipped.
    """
    real, fake = real_logits.float().mean(dim=-1), fake_logits.float().mean(dim=-1)
    scores = []
    for c in range(num_classes):
        real_c, fake_c = real[real_labels == c], fake[fake_labels == c]
        if real_c.numel() and fake_c.numel():
            scores.append(torch.sigmoid(fake_c - real_c.mean()).mean())
    if not scores:
        raise ValueError("quality fitness: no class has both real and generated sentences")
    return torch.stack(scores).mean()


def diversity_fitness(token_log_probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``F_d``: mean over classes of the mean per-token NLL of the generator's own sentences of that class."""
    per_sentence = -token_log_probs.float().mean(dim=1)  # (N,)
    values = [per_sentence[labels == c].mean() for c in range(num_classes) if bool((labels == c).any())]
    return torch.stack(values).mean()


def select(children: list[Member], num_parents: int) -> list[Member]:
    """The ``num_parents`` fittest children, fittest first (ties: the earlier child)."""
    order = sorted(range(len(children)), key=lambda i: (-children[i].fitness, i))
    return [children[i] for i in order[:num_parents]]
