"""SeqGAN's delayed rollout network: a copy of the generator that follows it with a lag."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from textgan.models.generator import Generator


class DelayedPolicy(nn.Module):
    """SeqGAN's delayed rollout network: ``theta_rollout <- rate * theta_rollout + (1 - rate) * theta``.

    SeqGAN's ``ROLLOUT.update_params`` (update_rate 0.8, called after every generator update) was meant to
    move the rollout network slowly towards the generator, copying the embedding outright. In the released
    TensorFlow code the rollout graph is built once in ``__init__`` from ``tf.identity`` of the generator's
    variables, and ``update_params`` only rebinds Python attributes, so the rollouts in fact always use the
    current generator (as do the paper's Algorithm 1, ``beta <- theta``, and TextGAN-PyTorch). This class
    implements the *intended* update; the estimator's default (``rollout_update_rate: null``) is the behaviour
    of the released code.

    The copy is created by :meth:`setup` (or on first use), holds no gradients, and is checkpointed as a
    submodule. A state dict loaded before the copy exists is kept and applied when it is created.
    """

    def __init__(self, update_rate: float) -> None:
        super().__init__()
        if not 0.0 <= update_rate < 1.0:
            raise ValueError(f"update_rate must be in [0, 1), got {update_rate}")
        self.update_rate = update_rate
        self.policy: Generator | None = None
        self.synced = False  # the copy has been aligned with the generator at the first update
        self._pending: dict[str, torch.Tensor] = {}

    def setup(self, generator: Generator) -> None:
        """Create the copy from ``generator`` (idempotent)."""
        if self.policy is not None:
            return
        self.policy = copy.deepcopy(generator).requires_grad_(False)
        if self._pending:
            self.policy.load_state_dict(self._pending)
            self._pending = {}

    @torch.no_grad()
    def update(self, generator: Generator) -> Generator:
        """One delayed update towards ``generator`` (a full copy the first time); returns the copy."""
        self.setup(generator)
        target = dict(generator.named_parameters())
        for name, parameter in self.policy.named_parameters():
            source = target[name].detach()
            if not self.synced or name.startswith("embedding."):  # SeqGAN copies the embedding outright
                parameter.copy_(source)
            else:
                parameter.lerp_(source, 1.0 - self.update_rate)
        target_buffers = dict(generator.named_buffers())
        for name, buffer in self.policy.named_buffers():
            buffer.copy_(target_buffers[name])
        self.synced = True
        return self.policy

    def get_extra_state(self) -> dict[str, Any]:
        return {"synced": self.synced}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.synced = bool(state.get("synced", False))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors):
        if self.policy is None:  # keep the copy's weights until setup() creates it
            for key in [key for key in state_dict if key.startswith(prefix + "policy.")]:
                self._pending[key[len(prefix + "policy.") :]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors)
