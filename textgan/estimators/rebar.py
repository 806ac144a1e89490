"""REBAR (Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein, NeurIPS 2017): REINFORCE with a Gumbel-Softmax control
variate, unbiased for the discrete objective, with its scale ``eta`` and temperature ``tau`` learned online.

The objective is the one every estimator targets, ``L(theta) = E_y[f(y)]`` with ``f(y)`` the configured GAN
loss's per-sentence generator loss of the hard sentence (the discriminator frozen; the relativistic loss pairs
sentence ``i`` with real row ``i``). Sentences are autoregressive: ``y_t = b_t = argmax(theta_t(b_<t) + g_t)``
(Gumbel-Max with noise ``g_t``, hard tokens fed back).

One categorical (``T = 1``). With ``z = theta + g``, ``b = argmax z`` and ``z~ ~ p(z | b)`` drawn by
:func:`textgan.sampling.conditional_gumbel` (a differentiable function of ``theta`` for fixed uniforms), and a
control variate ``c(z) = eta * f_relaxed(sigma_tau(z))`` where ``sigma_tau(z) = softmax(z / tau)`` and
``f_relaxed(rows)`` is the per-sentence GAN loss of ``D(rows)``, the paper's estimator is

    g = [f(b) - c(z~)] grad log p(b) + grad c(z) - grad c(z~),

unbiased for any ``eta`` and ``tau``: ``E[grad c(z)]`` (reparameterised) and ``E[c(z~) grad log p(b) +
grad c(z~)]`` (score function of ``b`` plus the conditional reparameterisation) are two estimates of the same
``grad E_z[c(z)]``.

Sequences. The relaxed sentence must be a *smooth* function of ``theta`` for fixed noise, or the pathwise
``grad c(z)`` misses the jumps of ``theta_t(b_<t)`` where an earlier argmax flips, and the estimator is biased:
with the hard tokens fed back into the relaxed rows too, ``r_t = softmax((theta_t(b_<t) + g_t) / tau)``, the
mean of 800 estimates lies 7 standard errors from the exact gradient on the tests' enumerable problem (V = 4,
T = 3; ``tests/estimators/test_control_variates.py``). So the relaxed rows are the Concrete relaxation of
the whole sequence, the generator fed its own relaxed rows (their embedding ``r_t @ E``) rather than the hard
tokens, with the same noise as the hard sentence:

    r_t(g) = softmax((theta_t(r_<t) + g_t) / tau),        the relaxed sentence of noise g (B, T, V);
    b_t = argmax(theta_t(b_<t) + g_t),                    the hard sentence, hard tokens fed back;
    g~_t = z~_t - log softmax(theta_t(b_<t)),  z~_t = conditional_gumbel(log softmax(theta_t(b_<t)), b_t),

(``g~`` is noise drawn given the hard sentence ``b``, a smooth function of ``theta`` for fixed uniforms), and

    g = [f(b) - c(r(g~))] sum_t grad log p(b_t | b_<t) + grad c(r(g)) - grad c(r(g~)),

unbiased for any control variate ``c`` that is smooth in the rows: ``(b, g~)`` has the joint distribution of
``(b, g)``, so ``grad E_g[c(r(g))] = E[c(r(g~)) grad log p(b) + grad c(r(g~))]``, while ``grad c(r(g))`` is
pathwise in a function without jumps. At ``t = 1`` this is the paper's estimator; as ``tau -> 0`` the relaxed
rows tend to the one-hot hard sentence, so ``c(r(g~)) -> eta f(b)``. The generator minimises the surrogate

    loss = mean_i [ (f(b_i) - c~_i) s_i + c(r(g_i)) - c~_i ],   s_i = log p(b_i) - stop_gradient(log p(b_i)),

whose gradient in ``theta`` is the batch mean of ``g`` (its value is shifted to ``mean_i f(b_i)``, the batch's
GAN loss, for logging); ``c~_i = c(r(g~_i))`` keeps its graph, so the gradient stays a function of ``eta`` and
``tau``.

The discriminator is called as it is (in training mode RelGAN's dropout draws a mask per call), so ``f`` and
``c`` may see different masks: still unbiased for the dropout-averaged objective, with a weaker correlation.

Learning ``eta`` and ``tau``. ``E[g]`` does not depend on them, so minimising ``E ||g||^2`` minimises the
estimator's variance (the paper's online adaptation): ``generator_loss`` asks for ``create_graph`` and
:meth:`RebarEstimator.after_backward` sets their ``.grad`` from ``grad ||g||^2`` (``g`` in the generator's
``.grad``), then detaches the generator's gradient before its step. ``tau`` is learned as ``log tau``.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from textgan.config_ranges import integer, number, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.losses.gan import GANLoss, paired_real_logits
from textgan.models.generator import Generator
from textgan.sampling import conditional_gumbel, gumbel_noise


class RebarEstimator(Estimator):
    """REBAR for autoregressive sentences: control variate ``c = eta * f_relaxed`` (see the module docstring).

    Subclasses change the control variate (:meth:`control_variate`, RELAX's learned network).

    Args:
        num_samples: sentences per generator update (default: the real batch size).
        eta: initial scale of the control variate.
        temperature: initial ``tau`` of the relaxation.
        learn_eta / learn_temperature: adapt ``eta`` / ``log tau`` to minimise the variance; with neither, the
            estimator has no parameters to learn and needs no optimiser.
        optimizer: factory ``parameters -> optimizer`` for the learned parameters (a Hydra partial).
    """

    config_ranges = {"num_samples": optional(integer(1)), "temperature": number(0, above=True)}

    def __init__(
        self,
        num_samples: int | None = None,
        eta: float = 1.0,
        temperature: float = 0.5,
        learn_eta: bool = True,
        learn_temperature: bool = True,
        optimizer=None,
    ) -> None:
        super().__init__(optimizer)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if num_samples is not None and num_samples < 1:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        self.num_samples = num_samples
        self.eta = nn.Parameter(torch.tensor(float(eta)), requires_grad=learn_eta)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)), requires_grad=learn_temperature)

    @property
    def temperature(self) -> torch.Tensor:
        """``tau = exp(log tau)``, a scalar with a graph."""
        return self.log_temperature.exp()

    def learned_parameters(self) -> list[nn.Parameter]:
        """The parameters ``after_backward`` trains (those that require a gradient)."""
        return [p for p in self.parameters() if p.requires_grad]

    def control_variate(self, rows: torch.Tensor, relaxed_losses: torch.Tensor) -> torch.Tensor:
        """``c`` of relaxed sentences: rows (N, T, V) and their per-sentence GAN losses (N,) -> (N,) float32."""
        return self.eta * relaxed_losses

    # ------------------------------------------------------------------------------------------ sampling
    def sample(self, generator: Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hard sentences by Gumbel-Max: tokens (B, T), log-probabilities (B, T, V) float32 with a graph, and the
        noise ``g`` (B, T, V) that chose them (``b_t = argmax(log_probs_t + g_t)``)."""
        noise_steps: list[torch.Tensor] = []

        def choose(logits: torch.Tensor) -> torch.Tensor:
            noise = gumbel_noise(logits.shape, device=logits.device)
            noise_steps.append(noise)
            return (logits.float() + noise).argmax(dim=-1)

        tokens, logits, _ = generator.unroll(batch, length, choose, keep_logits=True)
        return tokens, torch.log_softmax(logits.float(), dim=-1), torch.stack(noise_steps, dim=1)

    def relaxed_rows(
        self, generator: Generator, log_probs: torch.Tensor, noise: torch.Tensor, temperature: torch.Tensor
    ) -> torch.Tensor:
        """The relaxed sentences ``r(noise)`` (N, T, V), the generator fed its own relaxed rows.

        ``r_t = softmax((theta_t(r_<t) + noise_t) / tau)``, next input ``r_t @ embedding``: a smooth function of
        the generator's parameters and ``tau`` for fixed noise. ``log_probs`` (B, T, V), the hard sentences'
        log-probabilities, are unused here (a hard-feedback variant would use them).
        """
        return generator.rsample_relaxed_feedback(noise, temperature)

    # ------------------------------------------------------------------------------------------ protocol
    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        learning = torch.is_grad_enabled() and bool(self.learned_parameters())
        # attention's fused kernels (flash, memory-efficient) have no double backward: the RMC's attention runs in
        # the math kernel when the gradient must stay differentiable in the estimator's parameters
        with sdpa_kernel(SDPBackend.MATH) if learning else contextlib.nullcontext():
            return self._estimate(generator, discriminator, real_tokens, gan_loss, learning)

    def _estimate(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        learning: bool,
    ) -> EstimatorOutput:
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        tokens, log_probs, noise = self.sample(generator, batch, length)  # (B, T), (B, T, V), (B, T, V)
        log_p = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).sum(dim=1)  # (B,) log p(b)
        # noise given the hard sentence: z~ - log softmax(theta), a function of theta for fixed uniforms
        conditional_noise = conditional_gumbel(log_probs, tokens) - log_probs  # (B, T, V)
        temperature = self.temperature
        rows = self.relaxed_rows(generator, log_probs, torch.cat([noise, conditional_noise]), temperature)

        real_logits = None
        if gan_loss.uses_real_in_generator_loss:
            with torch.no_grad():
                real_logits = discriminator(real_tokens).float()  # (B_real, R)
            real_logits = paired_real_logits(real_logits, batch)
        with torch.no_grad():
            losses = gan_loss.generator_loss(real_logits, discriminator(tokens).float(), reduction="none")  # (B,)
        paired = None if real_logits is None else real_logits.repeat(2, 1)  # (2B, R): row i and B + i with real i
        relaxed_losses = gan_loss.generator_loss(paired, discriminator(rows).float(), reduction="none")  # (2B,)
        control = self.control_variate(rows, relaxed_losses).float()  # (2B,)
        control_unconditional, control_conditional = control.split(batch)

        score = log_p - log_p.detach()  # zero, with the gradient of log p(b)
        surrogate = (losses - control_conditional) * score + control_unconditional - control_conditional
        logs: dict[str, torch.Tensor | float] = {
            "reward": -losses.mean(),
            "control_variate": control_conditional.detach().mean(),
            "relaxed_loss": relaxed_losses.detach().mean(),
            "advantage_std": (losses - control_conditional.detach()).std() if batch > 1 else losses.new_zeros(()),
            "log_prob": log_p.detach().mean(),
            "temperature": temperature.detach(),
            "eta": self.eta.detach(),
        }
        loss = surrogate.mean() + (losses.mean() - surrogate.mean().detach())  # value: the batch's GAN loss
        return EstimatorOutput(loss=loss, logs=logs, create_graph=learning)

    def after_backward(self, generator: Generator) -> dict[str, torch.Tensor | float]:
        """Set the learned parameters' ``.grad`` to ``grad ||g||^2`` and detach the generator's gradient ``g``."""
        parameters = self.learned_parameters()
        grads = [p.grad for p in generator.parameters() if p.grad is not None]
        squared_norm = sum(g.float().square().sum() for g in grads)
        if parameters and isinstance(squared_norm, torch.Tensor) and squared_norm.requires_grad:
            variance_grads = torch.autograd.grad(squared_norm, parameters, allow_unused=True)
            for parameter, grad in zip(parameters, variance_grads, strict=True):
                parameter.grad = torch.zeros_like(parameter) if grad is None else grad.detach()
        for parameter in generator.parameters():  # the generator steps on the plain estimate
            if parameter.grad is not None:
                parameter.grad = parameter.grad.detach()
        squared_norm = torch.as_tensor(squared_norm, dtype=torch.float32)
        return {"gradient_squared_norm": squared_norm.detach()}
