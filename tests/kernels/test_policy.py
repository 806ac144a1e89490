"""One policy decides native against torch (textgan.kernels.policy): TEXTGAN_NATIVE=0 turns every fast path to
its torch formulation, and the models still train, with the values of the native path within its tolerance."""

import pytest
import torch

from textgan.kernels import conv_max, gumbel_max, highway, policy, rmc_step, token_log_probs
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.rmc import RMCGenerator

V, T = 29, 6


def every_path_applies() -> dict[str, bool]:
    """Each fast path's answer for inputs it is made for (CPU, float32 or bfloat16, the paper's shapes)."""
    x, weight = torch.zeros(4, T, 2), torch.zeros(8, 4)
    memory, products = torch.zeros(2, 1, 16), torch.zeros(2, 1, 8)
    return {
        "conv_max": conv_max.applies(x, taps=10),
        "highway": highway.applies(torch.zeros(4, 4), weight, p=0.25, training=True),
        "token_log_probs": token_log_probs.applies(torch.zeros(3, V, dtype=torch.bfloat16)),
        "gumbel_max": gumbel_max.applies(torch.zeros(3, V)),
        "rmc_step": rmc_step.applies(memory, products, products, torch.zeros(8), paper_block=True),
    }


def test_textgan_native_0_says_no_for_every_path(monkeypatch):
    monkeypatch.setenv("TEXTGAN_NATIVE", "0")
    assert not policy.enabled() and not policy.available()
    assert not any(every_path_applies().values())
    with pytest.raises(RuntimeError, match="TEXTGAN_NATIVE=0"):  # a module that demands the kernels is told why
        conv_max.applies(torch.zeros(4, T, 2), taps=10, backend="native")


@pytest.mark.skipif(not policy.available(), reason="native kernels off or not built")
def test_with_the_kernels_every_path_applies_and_nothing_beyond_its_limits():
    assert all(every_path_applies().values())
    assert not conv_max.applies(torch.zeros(4, T, 2).double(), taps=10)  # float64: torch
    assert not conv_max.applies(torch.zeros(4, T, 64), taps=128)  # wide windows under "auto": torch
    assert conv_max.applies(torch.zeros(4, T, 64), taps=128, backend="native")
    assert not token_log_probs.applies(torch.zeros(3, V))  # float32 logits: torch's own ops, bitwise
    assert not gumbel_max.applies(torch.zeros(3, V).double())
    assert not highway.applies(torch.zeros(4, 4), torch.zeros(8, 4), p=0.25, training=True, backend="torch")


def train_step(native: str, monkeypatch, bf16: bool = False):
    """One generator MLE step and one discriminator step on relaxed samples: losses and every gradient."""
    monkeypatch.setenv("TEXTGAN_NATIVE", native)
    torch.manual_seed(0)
    generator = RMCGenerator(vocab_size=V, max_length=T, embedding_dim=8, head_size=8, num_heads=2)
    discriminator = RelGANDiscriminator(V, T, embedding_dim=8, num_rep=4, filter_sizes=[2, 3], num_filters=[8, 8])
    tokens = torch.randint(0, V, (5, T))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        nll = generator.nll(tokens)
        score = discriminator(torch.nn.functional.one_hot(tokens, V).float()).mean()
    (nll + score).backward()
    grads = {f"g.{n}": p.grad for n, p in generator.named_parameters()}
    grads |= {f"d.{n}": p.grad for n, p in discriminator.named_parameters()}
    return nll.detach(), score.detach(), grads


def test_models_train_with_the_kernels_off_and_agree_with_them(monkeypatch):
    kernels_on = policy.available()  # as the session runs: under TEXTGAN_NATIVE=0 no native kernel is touched
    off = train_step("0", monkeypatch)
    assert all(grad is not None and bool(torch.isfinite(grad).all()) for grad in off[2].values())
    if not kernels_on:
        pytest.skip("native kernels off or not built: nothing to compare with")
    on = train_step("1", monkeypatch)
    torch.testing.assert_close(on[0], off[0], rtol=0, atol=2e-6)  # the float32 tolerances of the kernels' tests
    torch.testing.assert_close(on[1], off[1], rtol=0, atol=2e-6)
    for name, grad in off[2].items():
        error = float((on[2][name] - grad).norm() / grad.norm().clamp_min(1e-30))
        assert error < 2e-5, name
