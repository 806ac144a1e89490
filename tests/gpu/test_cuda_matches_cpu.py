"""CUDA against CPU: the same parameters and inputs give the same numbers, within the tolerances stated here.

Run on a machine with CUDA (``scripts/gpu_check.sh`` does): ``python -m pytest -m gpu tests/gpu``. Skipped
elsewhere. Needs torch and numpy only, so it runs on a bare GPU image. Tolerances, fp32 with TF32 off:

* generators' teacher-forced log-probabilities, relaxed free-running rows, discriminators' logits and their
  input gradients: ``rtol 1e-4, atol 1e-5`` (different kernels sum in different orders);
* one MLE Adam step from identical parameters and batch: parameters within ``atol 1e-5``;
* estimators draw their noise from each device's own random stream, so single estimates cannot match: the mean
  of 400 estimates on each device must agree within 4 standard errors of their difference, on the enumerable
  problem of the estimator tests (every estimator family: relaxed, straight-through, score function, learned
  control variates);
* bf16 autocast on CUDA: log-probabilities within 0.05 nats of fp32.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.diagnostics import estimator_gradients
from textgan.estimators.gst import GappedStraightThroughEstimator
from textgan.estimators.gumbel_rao import GumbelRaoEstimator
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.rebar import RebarEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.reinmax import ReinMaxEstimator
from textgan.estimators.relax import RelaxEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import RSGANLoss, StandardGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.models.lstm_discriminator import LSTMDiscriminator
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.rmc import RMCGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CLOSE = {"rtol": 1e-4, "atol": 1e-5}
VOCAB, LENGTH, BATCH = 50, 12, 16


@pytest.fixture(autouse=True)
def _no_tf32():
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def generator(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "lstm":
        return LSTMGenerator(VOCAB, LENGTH, embedding_dim=16, hidden_dim=32)
    return RMCGenerator(VOCAB, LENGTH, embedding_dim=16, head_size=16, num_heads=2)


def discriminator(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "relgan":
        return RelGANDiscriminator(VOCAB, LENGTH, embedding_dim=8, num_rep=4, num_filters=[16] * 4, backend="torch")
    if kind == "seqgan":
        return SeqGANDiscriminator(VOCAB, LENGTH, embedding_dim=8, filter_sizes=[1, 2, 3, 5],
                                   num_filters=[8, 8, 8, 8], backend="torch")  # fmt: skip
    return LSTMDiscriminator(VOCAB, LENGTH, embedding_dim=8, hidden_size=16)


@pytest.mark.parametrize("kind", ["lstm", "rmc"])
def test_generators_score_and_unroll_alike(kind):
    cpu = generator(kind)
    cuda = copy.deepcopy(cpu).cuda()
    tokens = torch.randint(VOCAB, (BATCH, LENGTH))
    torch.testing.assert_close(cuda.log_prob(tokens.cuda()).cpu(), cpu.log_prob(tokens), **CLOSE)
    noise = -torch.empty(BATCH, LENGTH, VOCAB).exponential_().log()  # Gumbel noise, drawn once
    with torch.no_grad():
        rows = cuda.rsample_relaxed_feedback(noise.cuda(), 0.7).cpu()
        torch.testing.assert_close(rows, cpu.rsample_relaxed_feedback(noise, 0.7), **CLOSE)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low = cuda.log_prob(tokens.cuda()).float().cpu()
    assert (low - cpu.log_prob(tokens)).abs().max() < 0.05


@pytest.mark.parametrize("kind", ["relgan", "seqgan", "lstm"])
def test_discriminators_score_and_differentiate_alike(kind):
    cpu = discriminator(kind).eval()
    cuda = copy.deepcopy(cpu).cuda()
    tokens = torch.randint(VOCAB, (BATCH, LENGTH))
    torch.testing.assert_close(cuda(tokens.cuda()).cpu(), cpu(tokens), **CLOSE)
    relaxed = torch.softmax(torch.randn(BATCH, LENGTH, VOCAB), dim=-1)
    grads = []
    for model, rows in ((cpu, relaxed.clone()), (cuda, relaxed.cuda())):
        rows.requires_grad_(True)
        model(rows).square().sum().backward()
        grads.append(rows.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0], **CLOSE)


@pytest.mark.parametrize("kind", ["lstm", "rmc"])
def test_one_mle_step_moves_the_parameters_alike(kind):
    cpu = generator(kind)
    cuda = copy.deepcopy(cpu).cuda()
    tokens = torch.randint(VOCAB, (BATCH, LENGTH))
    for model, batch in ((cpu, tokens), (cuda, tokens.cuda())):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.nll(batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    for (name, a), (_, b) in zip(cpu.named_parameters(), cuda.named_parameters(), strict=True):
        torch.testing.assert_close(b.detach().cpu(), a.detach(), rtol=0, atol=1e-5, msg=name)


# ---------------------------------------------------------------------------------------- estimators
V, T, B, DRAWS = 4, 3, 32, 400


class LinearCritic(nn.Module):
    """A frozen linear discriminator of token ids or (relaxed) one-hot rows: (N, T[, V]) -> (N, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(T * V, 1, generator=torch.Generator().manual_seed(3)))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        rows = inputs if inputs.is_floating_point() else F.one_hot(inputs, V).float()
        return rows.flatten(1) @ self.weight


def constant(beta: float = 1.0) -> InverseTemperatureSchedule:
    return InverseTemperatureSchedule(beta_max=beta, adapt="no", horizon=2)


ESTIMATORS = {
    "gumbel_softmax": lambda: GumbelSoftmaxEstimator(constant()),
    "gumbel_softmax_relaxed_feedback": lambda: GumbelSoftmaxEstimator(constant(), feedback="relaxed"),
    "reinforce_leave_one_out": lambda: ReinforceEstimator("sequence", baseline="leave_one_out",
                                                          discriminator_dropout=False),  # fmt: skip
    "gumbel_rao": lambda: GumbelRaoEstimator(constant(), num_gumbel_samples=4),
    "gst": lambda: GappedStraightThroughEstimator(constant()),
    "reinmax": lambda: ReinMaxEstimator(constant()),
    "rebar": lambda: RebarEstimator(learn_eta=False, learn_temperature=False),
    "relax": lambda: RelaxEstimator(hidden_size=8),
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_have_the_same_mean_gradient_on_both_devices(name):
    torch.manual_seed(0)
    model, critic = LSTMGenerator(V, T, embedding_dim=4, hidden_dim=4), LinearCritic().requires_grad_(False)
    gan_loss = StandardGANLoss() if name == "gumbel_softmax_relaxed_feedback" else RSGANLoss()
    means = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(1)
        here_model, here_critic = copy.deepcopy(model).to(device), copy.deepcopy(critic).to(device)
        estimator = ESTIMATORS[name]().to(device)
        estimator.setup(here_model, here_critic)
        real = torch.randint(V, (B, T), generator=torch.Generator().manual_seed(2)).to(device)
        estimates, _ = estimator_gradients(estimator, here_model, here_critic, gan_loss, real, DRAWS)
        means.append(estimates.cpu())
    cpu, cuda = means
    spread = (cpu.var(dim=0).sum() / DRAWS + cuda.var(dim=0).sum() / DRAWS).sqrt()
    apart = float((cpu.mean(dim=0) - cuda.mean(dim=0)).norm() / spread)
    assert apart < 4.0, f"{name}: the devices' mean gradients are {apart:.1f} standard errors apart"
