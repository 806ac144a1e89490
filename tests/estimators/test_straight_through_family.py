"""The straight-through family: Gumbel-Rao, Gapped Straight-Through and ReinMax, per step of a sequence.

Each shows the discriminator the sampled sentence (one-hot rows) and differs only in the gradient it sends back
through the rows. Checked here: that the forward pass is the sample and gradients reach every generator
parameter (LSTM and RMC, SeqGAN's and RelGAN's discriminators, also under bf16 autocast); each paper's property
(Gumbel-Rao: ST Gumbel-Softmax's mean with less variance; GST: the gap; ReinMax: exact for a quadratic objective,
tau >= 1); that relaxed Gumbel-Softmax rows tend to the discrete objective as the temperature falls; and that
the estimators checkpoint (they have nothing to learn).
"""

from __future__ import annotations

import io
import warnings

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from textgan.estimators.diagnostics import (
    all_sequences,
    estimator_gradients,
    exact_gradient,
    gradient_statistics,
    sequence_rewards,
)
from textgan.estimators.gst import GappedStraightThroughEstimator, gapped_logits
from textgan.estimators.gumbel_rao import GumbelRaoEstimator
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.reinmax import ReinMaxEstimator
from textgan.estimators.relaxed import PerStepRelaxedEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import RSGANLoss, StandardGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.rmc import RMCGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator
from textgan.sampling import straight_through
from textgan.train import CONF_DIR

ESTIMATORS = {
    "gumbel_rao": lambda: GumbelRaoEstimator(num_gumbel_samples=3),
    "gst": GappedStraightThroughEstimator,
    "reinmax": ReinMaxEstimator,
}


def constant(beta: float = 1.0) -> InverseTemperatureSchedule:
    return InverseTemperatureSchedule(beta_max=beta, adapt="no", horizon=2)


# ------------------------------------------------------------------------------------------------ real models
VOCAB, LENGTH, BATCH = 30, 7, 4


def small_generator(kind: str) -> nn.Module:
    if kind == "lstm":
        return LSTMGenerator(VOCAB, LENGTH, embedding_dim=8, hidden_dim=8)
    return RMCGenerator(VOCAB, LENGTH, embedding_dim=8, head_size=4, num_heads=2)


def small_discriminator(kind: str) -> nn.Module:
    if kind == "relgan":
        return RelGANDiscriminator(VOCAB, LENGTH, embedding_dim=8, num_rep=4, num_filters=[4] * 4)
    with warnings.catch_warnings():  # SeqGAN's windows longer than the sentences are dropped, with a warning
        warnings.simplefilter("ignore")
        return SeqGANDiscriminator(VOCAB, LENGTH, embedding_dim=8, num_filters=[4] * 12)


class Spy(nn.Module):
    """The discriminator, recording the float rows it is shown."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.rows = inner, []

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.is_floating_point():
            self.rows.append(inputs)
        return self.inner(inputs)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_rows_are_exactly_the_one_hot_sampled_tokens_and_log_the_temperature(name):
    generator, estimator = small_generator("lstm"), ESTIMATORS[name]()
    tokens, logits = estimator.sample(generator, BATCH, LENGTH)
    rows, logs = estimator.relax(logits, tokens, step=0)
    assert rows.dtype == torch.float32 and rows.requires_grad
    assert torch.equal(rows.detach(), F.one_hot(tokens, VOCAB).float())
    assert logs == {"beta": 1.0}


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("discriminator_kind", ["seqgan", "relgan"])
@pytest.mark.parametrize("generator_kind", ["lstm", "rmc"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_gradients_reach_every_generator_parameter(name, generator_kind, discriminator_kind, bf16):
    generator = small_generator(generator_kind)
    discriminator = Spy(small_discriminator(discriminator_kind).train().requires_grad_(False))
    estimator = ESTIMATORS[name]()
    estimator.setup(generator, discriminator)
    real = torch.randint(VOCAB, (BATCH, LENGTH))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = estimator.generator_loss(generator, discriminator, real, RSGANLoss(), 0)
    (rows,) = discriminator.rows
    assert rows.dtype == torch.float32 and rows.shape == (BATCH, LENGTH, VOCAB)
    assert torch.equal(rows.detach(), F.one_hot(rows.detach().argmax(dim=-1), VOCAB).float())
    assert out.loss.shape == () and torch.isfinite(out.loss)
    out.loss.backward()
    for parameter_name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
    assert estimator.discriminator_fakes(generator, BATCH, LENGTH, 0).dtype == torch.long  # hard samples


# ------------------------------------------------------------------------------------------------ enumerable
V, T, B, DRAWS = 4, 3, 128, 400


class LinearCritic(nn.Module):
    """A frozen linear discriminator of token ids or (relaxed) one-hot rows: (N, T[, V]) -> (N, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(T * V, 1), requires_grad=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        rows = inputs if inputs.is_floating_point() else F.one_hot(inputs, V).float()
        return rows.flatten(1) @ self.weight


@pytest.fixture(scope="module")
def enumerable():
    """A generator small enough to enumerate (4^3 sentences), a frozen critic, the exact gradient and objective,
    and ST Gumbel-Softmax's estimates (beta = 1) to compare with."""
    torch.manual_seed(0)
    generator, critic, gan_loss = LSTMGenerator(V, T, embedding_dim=4, hidden_dim=4), LinearCritic(), StandardGANLoss()
    real = torch.zeros(B, T, dtype=torch.long)  # unread by the standard GAN loss; sets the batch size
    sequences = all_sequences(V, T)
    rewards = sequence_rewards(critic, gan_loss, sequences, V)
    problem = {
        "generator": generator, "critic": critic, "gan_loss": gan_loss, "real": real,
        "exact": exact_gradient(generator, sequences, rewards),
        "objective": float((generator.log_prob(sequences).sum(dim=1).exp() * rewards).sum().detach()),
    }  # fmt: skip
    problem["straight_through"] = estimates(GumbelSoftmaxEstimator(constant(), straight_through=True), problem)
    return problem


def estimates(estimator, problem: dict, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    grads, _ = estimator_gradients(
        estimator, problem["generator"], problem["critic"], problem["gan_loss"], problem["real"], DRAWS
    )
    return grads  # (N, P)


def standard_errors_apart(first: torch.Tensor, second: torch.Tensor) -> float:
    """``||mean_1 - mean_2||`` in units of its standard error ``sqrt(sum_p (var_1p + var_2p) / N)``."""
    spread = (first.var(dim=0).sum() / first.shape[0] + second.var(dim=0).sum() / second.shape[0]).sqrt()
    return float((first.mean(dim=0) - second.mean(dim=0)).norm() / spread)


def test_gumbel_rao_has_straight_through_gumbel_softmaxs_mean_with_less_variance(enumerable):
    straight = enumerable["straight_through"]
    rao = estimates(GumbelRaoEstimator(constant(), num_gumbel_samples=10), enumerable)
    # same mean: Rao-Blackwellisation over the noise given the token. Unconditional noise (a bug) is ~12 apart.
    assert standard_errors_apart(rao, straight) < 3.0
    exact = enumerable["exact"]
    rao_stats, straight_stats = gradient_statistics(rao, exact), gradient_statistics(straight, exact)
    # ST-GS is biased at tau = 1 (~0.36 of ||exact|| here) and so is its Rao-Blackwellisation, by as much
    assert rao_stats["relative_bias"] == pytest.approx(straight_stats["relative_bias"], abs=0.05)
    assert rao_stats["relative_std"] < 0.8 * straight_stats["relative_std"]  # ~0.66 measured


def test_gumbel_rao_with_one_draw_is_straight_through_gumbel_softmax(enumerable):
    straight = enumerable["straight_through"]
    single = estimates(GumbelRaoEstimator(constant(), num_gumbel_samples=1), enumerable, seed=2)
    assert standard_errors_apart(single, straight) < 3.0
    ratio = (
        gradient_statistics(single, enumerable["exact"])["relative_std"]
        / gradient_statistics(straight, enumerable["exact"])["relative_std"]
    )
    assert 0.8 < ratio < 1.25


def test_relaxed_gumbel_softmax_objective_tends_to_the_discrete_one_as_the_temperature_falls(enumerable):
    """E[loss_G(D(softmax(beta (theta + g))))] -> sum_y p(y) loss_G(D(onehot y)) as beta grows (claim 3)."""
    generator, critic, gan_loss = enumerable["generator"], enumerable["critic"], enumerable["gan_loss"]
    draws, exact = 100_000, enumerable["objective"]
    gaps = {}
    with torch.no_grad():
        for beta in [1.0, 3.0, 10.0, 100.0]:  # the same noise for every beta: the same sentences, relaxed less
            sample = generator.rsample(draws, beta, T, generator=torch.Generator().manual_seed(5))
            relaxed = gan_loss.generator_loss(None, critic(sample.relaxed), reduction="none")  # (N,)
            discrete = gan_loss.generator_loss(None, critic(sample.tokens), reduction="none")
            error = float(relaxed.std() / draws**0.5)
            gaps[beta] = float(relaxed.mean()) - exact
    assert abs(float(discrete.mean()) - exact) < 4 * float(discrete.std() / draws**0.5)  # the tokens are exact
    assert abs(gaps[1.0]) > 10 * error  # tau = 1: a different objective (~0.085 here)
    assert abs(gaps[1.0]) > abs(gaps[3.0]) > abs(gaps[10.0]) > abs(gaps[100.0])
    assert abs(gaps[100.0]) < 4 * error



def test_relaxed_feedback_objective_tends_to_the_discrete_one_as_the_temperature_falls(enumerable):
    """GSGAN's rows (the relaxed row fed back) also tend to the sampled sentence, so the objective gap closes."""
    generator, critic, gan_loss = enumerable["generator"], enumerable["critic"], enumerable["gan_loss"]
    draws, exact = 100_000, enumerable["objective"]
    noise = -torch.empty(draws, T, V).exponential_(generator=torch.Generator().manual_seed(5)).log()  # Gumbel
    gaps = {}
    with torch.no_grad():
        for beta in [1.0, 3.0, 10.0, 1000.0]:  # the same noise for every beta
            rows = generator.rsample_relaxed_feedback(noise, 1.0 / beta)
            losses = gan_loss.generator_loss(None, critic(rows), reduction="none")  # (N,)
            gaps[beta] = float(losses.mean()) - exact
            error = float(losses.std() / draws**0.5)
    assert abs(gaps[1.0]) > 10 * error
    assert abs(gaps[1.0]) > abs(gaps[3.0]) > abs(gaps[10.0]) > abs(gaps[1000.0])
    assert abs(gaps[1000.0]) < 4 * error  # the rows are the Gumbel-Max sentences: an exact sample

# ------------------------------------------------------------------------------------------------ papers
class StraightThrough(PerStepRelaxedEstimator):
    """Plain straight-through: ``row = onehot(y) + softmax(theta) - sg(softmax(theta))``."""

    def relax(self, logits, tokens, step):
        return straight_through(torch.softmax(logits, dim=-1), tokens), {}


def expected_single_step_gradient(estimator, theta: torch.Tensor, objective) -> torch.Tensor:
    """``E_y[grad_theta objective(row)]`` for one categorical step, by enumerating y ~ softmax(theta): (V,)."""
    total = torch.zeros_like(theta)
    for token, probability in enumerate(theta.softmax(dim=-1)):
        logits = theta.clone().requires_grad_(True)
        rows, _ = estimator.relax(logits.view(1, 1, -1), torch.tensor([[token]]), 0)
        total += probability * torch.autograd.grad(objective(rows.view(-1)), logits)[0]
    return total


def test_reinmax_is_exact_for_a_quadratic_objective_where_straight_through_is_not():
    """Second-order accuracy (Heun's trapezoid rule is exact for quadratics): at tau = 1 ReinMax's expected
    gradient of ``f(D) = D^T A D + b^T D`` equals the exact ``grad sum_i softmax(theta)_i f(e_i)``."""
    generator = torch.Generator().manual_seed(3)
    size = 5
    theta = torch.randn(size, dtype=torch.float64, generator=generator)
    weight = torch.randn(size, size, dtype=torch.float64, generator=generator)
    bias = torch.randn(size, dtype=torch.float64, generator=generator)

    def objective(row: torch.Tensor) -> torch.Tensor:
        return row @ weight @ row + bias @ row

    logits = theta.clone().requires_grad_(True)
    values = torch.stack([objective(row) for row in torch.eye(size, dtype=torch.float64)])
    (exact,) = torch.autograd.grad((logits.softmax(dim=-1) * values).sum(), logits)

    reinmax = expected_single_step_gradient(ReinMaxEstimator(constant(1.0)), theta, objective)
    torch.testing.assert_close(reinmax, exact)
    straight = expected_single_step_gradient(StraightThrough(), theta, objective)  # first order: biased
    assert (straight - exact).norm() > 0.02 * exact.norm()  # ~0.06 here


def test_reinmax_refuses_a_temperature_below_one():
    with pytest.raises(ValueError, match=r"tau >= 1.*tau=0\.5"):
        ReinMaxEstimator(constant(2.0))
    with pytest.raises(ValueError, match=r"tau >= 1"):
        ReinMaxEstimator(InverseTemperatureSchedule(beta_max=100.0, adapt="exp", horizon=10))  # RelGAN's rise
    hotter = ReinMaxEstimator(constant(0.5))  # tau = 2 is allowed, and differs from tau = 1
    theta, tokens = torch.randn(1, 3, 6), torch.randint(6, (1, 3))
    grads = {}
    for label, estimator in [("tau2", hotter), ("tau1", ReinMaxEstimator())]:
        logits = theta.clone().requires_grad_(True)
        rows, logs = estimator.relax(logits, tokens, 0)
        grads[label] = torch.autograd.grad(rows, logits, torch.ones_like(rows).cumsum(-1))[0]
    assert logs == {"beta": 1.0} and not torch.allclose(grads["tau1"], grads["tau2"])


def test_gst_logits_lead_with_the_sampled_token_by_the_gap_and_pass_gradients_unchanged():
    generator = torch.Generator().manual_seed(4)
    theta = (3 * torch.randn(64, 10, generator=generator)).requires_grad_(True)
    tokens = torch.randint(10, (64,), generator=generator)
    for gap in [1.0, 0.25]:
        moved = gapped_logits(theta, tokens, gap)
        assert torch.equal(moved.argmax(dim=-1), tokens)
        leader = moved.gather(-1, tokens.unsqueeze(-1))
        torch.testing.assert_close(leader, theta.max(dim=-1, keepdim=True).values)  # raised to the top
        others = moved.scatter(-1, tokens.unsqueeze(-1), float("-inf"))
        assert ((leader - others) >= gap - 1e-5).all()  # the strict gap
        low = (theta <= theta.max(dim=-1, keepdim=True).values - gap) & (others > float("-inf"))
        assert torch.equal(moved[low], theta[low])  # logits already far enough below are left alone
        upstream = torch.randn(64, 10, generator=generator)
        (grad,) = torch.autograd.grad(moved, theta, upstream)
        assert torch.equal(grad, upstream)  # the move carries no gradient


def test_gst_gradient_is_the_softmax_jacobian_at_the_gapped_logits_and_deterministic_given_the_token():
    generator = torch.Generator().manual_seed(6)
    theta = torch.randn(1, 5, 8, generator=generator, dtype=torch.float64)
    tokens = torch.randint(8, (1, 5), generator=generator)
    upstream = torch.randn(1, 5, 8, generator=generator, dtype=torch.float64)
    estimator = GappedStraightThroughEstimator(constant(2.0), gap=1.0)
    grads = []
    for _ in range(2):
        logits = theta.clone().requires_grad_(True)
        rows, logs = estimator.relax(logits, tokens, 0)
        grads.append(torch.autograd.grad(rows, logits, upstream)[0])
    assert torch.equal(grads[0], grads[1]) and logs == {"beta": 2.0}  # no noise beyond the token
    soft = torch.softmax(2.0 * gapped_logits(theta, tokens, 1.0), dim=-1)
    expected = 2.0 * soft * (upstream - (soft * upstream).sum(dim=-1, keepdim=True))
    torch.testing.assert_close(grads[0], expected)


# ------------------------------------------------------------------------------------------------ checkpoints
def from_config(name: str):
    overrides = [f"estimator={name}", "estimator.schedule.horizon=2"]  # a run sets it from adversarial.steps
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return instantiate(cfg.estimator, _convert_="object")


def settings(estimator) -> dict:
    keys = ["num_samples", "num_gumbel_samples", "gap"]
    out = {key: getattr(estimator, key) for key in keys if hasattr(estimator, key)}
    if hasattr(estimator, "schedule"):
        out["schedule"] = repr(estimator.schedule)
    return out


@pytest.mark.parametrize(
    "name, expected",
    [
        ("gumbel_rao", {"num_gumbel_samples": 10, "beta": 1.0}),
        ("gst", {"gap": 1.0, "beta": 1.0}),
        ("reinmax", {"beta": 1.0}),
    ],
)
def test_configured_estimators_checkpoint_with_nothing_to_learn(name, expected):
    estimator = from_config(name)
    for key, value in expected.items():
        actual = estimator.schedule(123) if key == "beta" else getattr(estimator, key)
        assert actual == value, key
    assert estimator.num_samples is None
    assert estimator.configure_optimizer() is None and list(estimator.parameters()) == []
    buffer = io.BytesIO()
    torch.save(estimator.state_dict(), buffer)
    buffer.seek(0)
    restored = from_config(name)
    restored.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    assert settings(restored) == settings(estimator)
    defaults = {"gumbel_rao": GumbelRaoEstimator, "gst": GappedStraightThroughEstimator, "reinmax": ReinMaxEstimator}
    assert settings(defaults[name]()) == settings(estimator)  # the constructor's defaults are the config's
