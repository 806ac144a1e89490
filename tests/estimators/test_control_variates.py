"""REBAR and RELAX: unbiased for the discrete objective on an enumerable problem whatever their control-variate
parameters, their learned parameters lower the variance and checkpoint, and they run with every generator and
discriminator under bf16 autocast. MaliGAN's normalised importance-weight reward, by hand."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from small_models import small_discriminators, small_generators
from torch import nn

from textgan.estimators import diagnostics
from textgan.estimators.rebar import RebarEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.relax import RelaxEstimator
from textgan.estimators.rewards import normalize_importance_weights, reward_from_logits
from textgan.losses.gan import RSGANLoss, StandardGANLoss
from textgan.models.lstm import LSTMGenerator

VOCAB, LENGTH = 4, 3  # 64 sentences: the objective's gradient is exact by enumeration
REAL_BATCH, SAMPLES = 4, 32  # real sentences (the relativistic loss's pairs), sentences per estimate
DRAWS = 300  # independent estimates per unbiasedness check
Z_LIMIT = 5.0  # |mean - exact| < 5 standard errors for every parameter


class LinearCritic(nn.Module):
    """A frozen two-representation discriminator of token ids or one-hot rows: (N, T[, V]) -> (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(1.5 * torch.randn(LENGTH * VOCAB, 2))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rows = tokens if tokens.is_floating_point() else nn.functional.one_hot(tokens, VOCAB).float()
        return rows.flatten(1) @ self.weight


def problem(seed: int = 0) -> tuple[LSTMGenerator, LinearCritic, torch.Tensor]:
    """A non-uniform tiny LSTM generator, a frozen critic and a real batch."""
    torch.manual_seed(seed)
    generator = LSTMGenerator(VOCAB, LENGTH, embedding_dim=4, hidden_dim=4)
    for parameter in generator.parameters():
        nn.init.normal_(parameter, std=0.7)
    return generator, LinearCritic().requires_grad_(False), torch.randint(VOCAB, (REAL_BATCH, LENGTH))


def exact_gradient(generator, critic, gan_loss, real) -> torch.Tensor:
    sequences = diagnostics.all_sequences(VOCAB, LENGTH)
    rewards = diagnostics.sequence_rewards(critic, gan_loss, sequences, VOCAB, real)
    return diagnostics.exact_gradient(generator, sequences, rewards)


def assert_unbiased(samples: torch.Tensor, exact: torch.Tensor) -> None:
    mean = samples.mean(dim=0)
    standard_error = samples.std(dim=0) / math.sqrt(samples.shape[0])
    deterministic = standard_error < 1e-9  # a parameter no sample reaches: must match exactly
    assert torch.allclose(mean[deterministic], exact[deterministic], atol=1e-6)
    z = ((mean - exact).abs() / standard_error)[~deterministic]
    assert z.max() < Z_LIMIT, f"largest deviation {z.max():.2f} standard errors (parameter {z.argmax()})"


def fixed_rebar(generator) -> RebarEstimator:
    return RebarEstimator(num_samples=SAMPLES, learn_eta=False, learn_temperature=False)


def other_rebar(generator) -> RebarEstimator:
    return RebarEstimator(num_samples=SAMPLES, eta=2.5, temperature=0.2)


def random_relax(generator) -> RelaxEstimator:
    estimator = RelaxEstimator(num_samples=SAMPLES, hidden_size=8, eta=0.6, temperature=1.5)
    estimator.setup(generator, None)
    for parameter in estimator.network.parameters():
        nn.init.normal_(parameter, std=0.5)
    return estimator


class WithoutConditionalGradient(RebarEstimator):
    """NOT REBAR: drops ``- grad c(r(g~))`` (the conditional rows keep their values, lose their gradient)."""

    def relaxed_rows(self, generator, log_probs, noise, temperature):
        rows = super().relaxed_rows(generator, log_probs, noise, temperature)
        half = rows.shape[0] // 2
        return torch.cat([rows[:half], rows[half:].detach()])


# ------------------------------------------------------------------------------------------------ unbiased
@pytest.mark.parametrize("gan_loss", [StandardGANLoss(), RSGANLoss()], ids=repr)
@pytest.mark.parametrize("make", [fixed_rebar, other_rebar, random_relax], ids=["rebar", "rebar-other", "relax"])
def test_control_variate_estimators_are_unbiased_for_the_exact_gradient(make, gan_loss):
    generator, critic, real = problem()
    exact = exact_gradient(generator, critic, gan_loss, real)
    assert exact.abs().max() > 1e-2  # a problem with a gradient to find
    torch.manual_seed(1)
    estimates, _ = diagnostics.estimator_gradients(make(generator), generator, critic, gan_loss, real, DRAWS)
    assert_unbiased(estimates, exact)


def test_the_unbiasedness_check_rejects_rebar_without_its_conditional_gradient():
    generator, critic, real = problem()
    exact = exact_gradient(generator, critic, RSGANLoss(), real)
    biased = WithoutConditionalGradient(num_samples=SAMPLES, learn_eta=False, learn_temperature=False)
    torch.manual_seed(1)
    estimates, _ = diagnostics.estimator_gradients(biased, generator, critic, RSGANLoss(), real, DRAWS)
    with pytest.raises(AssertionError, match="standard errors"):
        assert_unbiased(estimates, exact)


class HardFeedback(RebarEstimator):
    """NOT unbiased for sequences: relaxed rows ``softmax((theta_t(b_<t) + g_t) / tau)`` on the hard sentence's
    logits, so the pathwise ``grad c`` misses the jumps where an earlier token flips (see ``rebar.py``)."""

    def relaxed_rows(self, generator, log_probs, noise, temperature):
        return torch.softmax((log_probs.repeat(2, 1, 1) + noise) / temperature, dim=-1)


@pytest.mark.slow
def test_relaxed_rows_on_the_hard_tokens_fed_back_are_biased_for_sequences():
    generator, critic, real = problem()
    exact = exact_gradient(generator, critic, StandardGANLoss(), real)
    biased = HardFeedback(num_samples=SAMPLES, learn_eta=False, learn_temperature=False)
    torch.manual_seed(1)
    estimates, _ = diagnostics.estimator_gradients(biased, generator, critic, StandardGANLoss(), real, 800)
    with pytest.raises(AssertionError, match="standard errors"):  # about 7 standard errors off
        assert_unbiased(estimates, exact)


# ------------------------------------------------------------------------------------------------ learning
def train_control_variate(estimator, generator, critic, gan_loss, real, steps: int) -> None:
    """The adversarial module's generator update with the generator held fixed: only the estimator learns."""
    optimizer = estimator.configure_optimizer()
    for step in range(steps):
        generator.zero_grad(set_to_none=True)
        out = estimator.generator_loss(generator, critic, real, gan_loss, step)
        assert out.create_graph
        with warnings.catch_warnings():  # create_graph's parameter <-> gradient cycle, broken by after_backward
            warnings.simplefilter("ignore")
            out.loss.backward(create_graph=True)
        optimizer.zero_grad(set_to_none=True)
        estimator.after_backward(generator)
        optimizer.step()
    generator.zero_grad(set_to_none=True)


@pytest.mark.slow
def test_relax_learned_control_variate_lowers_the_variance():
    generator, critic, real = problem()
    gan_loss = RSGANLoss()
    exact = exact_gradient(generator, critic, gan_loss, real)
    # eta = 0 and a zero network: c_phi = 0 starts as plain REINFORCE
    relax = RelaxEstimator(num_samples=8, eta=0.0, optimizer=lambda ps: torch.optim.Adam(ps, lr=0.03))
    relax.setup(generator, critic)

    def relative_std() -> float:
        torch.manual_seed(2)
        estimates, _ = diagnostics.estimator_gradients(relax, generator, critic, gan_loss, real, 200)
        return diagnostics.gradient_statistics(estimates, exact)["relative_std"]

    before = relative_std()
    torch.manual_seed(3)
    train_control_variate(relax, generator, critic, gan_loss, real, steps=150)
    after = relative_std()
    assert after < 0.7 * before, (before, after)
    assert float(relax.eta.detach()) > 0.2  # it learned to use the relaxed GAN loss


def test_rebar_learns_eta_and_temperature_from_the_gradients_squared_norm():
    generator, critic, real = problem()
    rebar = RebarEstimator(num_samples=8, optimizer=lambda ps: torch.optim.Adam(ps, lr=0.05))
    start = [p.detach().clone() for p in (rebar.eta, rebar.log_temperature)]
    torch.manual_seed(4)
    train_control_variate(rebar, generator, critic, StandardGANLoss(), real, steps=3)
    for before, after in zip(start, (rebar.eta, rebar.log_temperature), strict=True):
        assert torch.isfinite(after) and not torch.equal(before, after.detach())
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is None for p in critic.parameters())


def test_after_backward_sets_the_variance_gradient_and_detaches_the_estimate():
    generator, critic, real = problem()
    rebar = RebarEstimator(num_samples=8)
    torch.manual_seed(5)
    out = rebar.generator_loss(generator, critic, real, RSGANLoss(), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.loss.backward(create_graph=True)
    grads = [p.grad for p in generator.parameters()]
    assert all(g.requires_grad for g in grads)  # the estimate is a function of eta and tau
    squared_norm = sum(g.square().sum() for g in grads)
    expected = torch.autograd.grad(squared_norm, [rebar.eta, rebar.log_temperature], retain_graph=True)
    rebar.eta.grad = rebar.log_temperature.grad = None
    logs = rebar.after_backward(generator)
    torch.testing.assert_close(rebar.eta.grad, expected[0])
    torch.testing.assert_close(rebar.log_temperature.grad, expected[1])
    assert float(logs["gradient_squared_norm"]) == pytest.approx(float(squared_norm.detach()), rel=1e-5)
    assert all(not p.grad.requires_grad for p in generator.parameters())


# ------------------------------------------------------------------------------------------------ checkpoints
def test_rebar_parameters_survive_a_checkpoint_and_are_exactly_what_its_optimizer_trains(tmp_path):
    generator, critic, _ = problem()
    rebar = RebarEstimator(eta=0.3, temperature=0.7, optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-3))
    rebar.setup(generator, critic)
    with torch.no_grad():
        rebar.eta.add_(0.25)
        rebar.log_temperature.sub_(0.5)
    torch.save(rebar.state_dict(), tmp_path / "rebar.pt")
    restored = RebarEstimator()
    restored.setup(generator, critic)
    restored.load_state_dict(torch.load(tmp_path / "rebar.pt"))
    assert set(restored.state_dict()) == {"eta", "log_temperature"}
    assert float(restored.eta.detach()) == pytest.approx(0.55)
    assert float(restored.temperature.detach()) == pytest.approx(0.7 * math.exp(-0.5))
    optimized = {id(p) for group in rebar.configure_optimizer().param_groups for p in group["params"]}
    assert optimized == {id(rebar.eta), id(rebar.log_temperature)}
    fixed = RebarEstimator(learn_eta=False, learn_temperature=False)
    assert fixed.configure_optimizer() is None  # nothing to learn: no optimiser, no create_graph
    real = torch.zeros(2, LENGTH, dtype=torch.long)
    assert not fixed.generator_loss(generator, critic, real, RSGANLoss(), 0).create_graph


def test_relax_parameters_survive_a_checkpoint_and_are_exactly_what_its_optimizer_trains(tmp_path):
    generator, critic, _ = problem()
    relax = random_relax(generator)
    relax.optimizer_factory = lambda ps: torch.optim.Adam(ps, lr=1e-3)
    torch.save(relax.state_dict(), tmp_path / "relax.pt")
    restored = RelaxEstimator(num_samples=SAMPLES, hidden_size=8)
    restored.setup(generator, critic)  # the network exists before the checkpoint loads
    restored.load_state_dict(torch.load(tmp_path / "relax.pt"))
    for name, tensor in relax.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor), name
    assert {"eta", "log_temperature", "network.0.weight", "network.2.bias"} <= set(relax.state_dict())
    optimized = {id(p) for group in relax.configure_optimizer().param_groups for p in group["params"]}
    assert optimized == {id(p) for p in relax.parameters()}
    assert len(optimized) == 2 + 4  # eta, log tau, two linear layers


def test_relax_refuses_to_run_before_setup():
    generator, critic, real = problem()
    with pytest.raises(RuntimeError, match="setup"):
        RelaxEstimator().generator_loss(generator, critic, real, RSGANLoss(), 0)


# ------------------------------------------------------------------------------------------------ every model
@pytest.mark.parametrize("estimator_class", [RebarEstimator, RelaxEstimator], ids=["rebar", "relax"])
@pytest.mark.parametrize("generator_index", [0, 1], ids=["lstm", "rmc"])
@pytest.mark.parametrize("discriminator_index", [0, 1, 2], ids=["seqgan", "relgan", "lstm"])
def test_every_generator_and_discriminator_under_bf16_autocast(estimator_class, generator_index, discriminator_index):
    vocab, length = 30, 7
    torch.manual_seed(6)
    generator = small_generators(vocab, length)[generator_index]
    discriminator = small_discriminators(vocab, length)[discriminator_index].train().requires_grad_(False)
    estimator = estimator_class(num_samples=6, optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-3))
    estimator.setup(generator, discriminator)
    real = torch.randint(vocab, (4, length))  # fewer real sentences than samples: pairs wrap around
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = estimator.generator_loss(generator, discriminator, real, RSGANLoss(), 0)
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss) and out.create_graph
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.loss.backward(create_graph=True)
    logs = estimator.after_backward(generator)
    assert torch.isfinite(logs["gradient_squared_norm"]) and float(logs["gradient_squared_norm"]) > 0
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0 and not parameter.grad.requires_grad, name
    for parameter in estimator.learned_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
    assert estimator.eta.grad.abs() > 0 and estimator.log_temperature.grad.abs() > 0
    assert all(parameter.grad is None for parameter in discriminator.parameters())
    assert {"reward", "control_variate", "temperature", "eta"} <= set(out.logs)
    assert float(out.logs["reward"]) < 0.0  # minus the per-sentence RSGAN loss, a softplus
    assert float(out.loss.detach()) == pytest.approx(-float(out.logs["reward"]), rel=1e-5)  # logged: the GAN loss


# ------------------------------------------------------------------------------------------------ MaliGAN
def test_maligan_importance_weights_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0], [1.0, 1.0]])  # (N = 3 sentences, R = 2 representations)
    # D = mean_R sigmoid: (0.5 + 0.880797) / 2 = 0.690399, (0.268941 + 0.731059) / 2 = 0.5, sigmoid(1) = 0.731059
    odds = torch.tensor([0.690399 / 0.309601, 1.0, math.e])  # D / (1 - D) = 2.229958, 1, 2.718282
    torch.testing.assert_close(reward_from_logits(logits, "maligan"), odds, rtol=1e-5, atol=0)
    weights = normalize_importance_weights(odds.unsqueeze(1))  # sum = 5.948240
    torch.testing.assert_close(weights.squeeze(1), torch.tensor([0.374894, 0.168118, 0.456988]), rtol=1e-5, atol=0)
    greedy = normalize_importance_weights(odds.unsqueeze(1), torch.tensor([[5.948240]]))  # same column sums
    torch.testing.assert_close(greedy, torch.tensor([[1.0]]))


class FirstTokenCritic(nn.Module):
    """Logits (N, 2) looked up by each sentence's first token; remembers the sentences it scored."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table)  # (V, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen = tokens
        return self.table[tokens[:, 0]]


def test_reinforce_normalises_maligan_weights_over_the_batch():
    generator, _, _ = problem()
    critic = FirstTokenCritic(torch.tensor([[0.0, 2.0], [-1.0, 1.0], [1.0, 1.0], [-2.0, 0.5]]))
    estimator = ReinforceEstimator("sequence", reward_transform="maligan", num_samples=6, discriminator_dropout=False)
    torch.manual_seed(7)
    out = estimator.generator_loss(generator, critic, torch.zeros(6, LENGTH, dtype=torch.long), None, 0)
    tokens = critic.seen
    odds = torch.sigmoid(critic.table).mean(1) / torch.sigmoid(-critic.table).mean(1)  # (V,) D / (1 - D)
    weights = odds[tokens[:, 0]] / odds[tokens[:, 0]].sum()  # (B,), sums to one over the batch
    with torch.no_grad():
        expected = -(weights * generator.log_prob(tokens).sum(dim=1)).mean()
    torch.testing.assert_close(out.loss.detach(), expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.logs["reward"], torch.tensor(1.0 / 6))
