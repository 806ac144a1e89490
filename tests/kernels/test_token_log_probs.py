"""The tokens' log-likelihood under (B, T, V) logits: the native kernel computes torch's log-softmax + gather."""

import pytest
import torch

from textgan.kernels import build, policy
from textgan.kernels.token_log_probs import applies as uses_native
from textgan.kernels.token_log_probs import token_log_probs
from textgan.models.rmc import RMCGenerator

NATIVE = policy.available()
needs_native = pytest.mark.skipif(not NATIVE, reason="native kernels off or not built")


def _reference(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _case(vocab: int = 1037, scale: float = 4.0, seed: int = 0):
    torch.manual_seed(seed)
    # vocabularies that are not a multiple of the kernel's chunk, very peaked rows and -inf-like logits
    logits = (torch.randn(3, 7, vocab) * scale).to(torch.bfloat16)
    logits[0, 0, 5] = 60.0  # one token takes all the mass: the others' exp underflows
    logits[1, 1, :] = -30.0
    tokens = torch.randint(0, vocab, (3, 7))
    tokens[0, 0] = 5
    tokens[0, 1] = vocab - 1  # the last entry of a row
    return logits, tokens


@needs_native
@pytest.mark.parametrize("vocab", [7, 255, 1037, 5000])
def test_bf16_values_and_gradients_equal_torchs_log_softmax_gather(vocab):
    logits, tokens = _case(vocab)
    assert uses_native(logits)
    native_input = logits.clone().requires_grad_()
    torch_input = logits.clone().requires_grad_()
    values = token_log_probs(native_input, tokens)
    expected = _reference(torch_input, tokens)
    assert values.dtype == torch.float32 and values.shape == tokens.shape
    torch.testing.assert_close(values, expected, rtol=0, atol=4e-6)
    weights = torch.randn(tokens.shape)
    (values * weights).sum().backward()
    (expected * weights).sum().backward()
    assert native_input.grad.dtype == torch.bfloat16
    # the same float32 gradient rounded to bf16 once: where the float32 values straddle a rounding boundary
    # the two may differ by one bf16 ulp (2**-8 relative), nowhere by more
    difference = (native_input.grad.float() - torch_input.grad.float()).abs()
    ulp = torch_input.grad.float().abs() * 2**-7 + 1e-30
    assert bool((difference <= ulp).all())
    assert float((difference > 0).float().mean()) < 0.01


@needs_native
def test_float32_logits_keep_torchs_own_ops_bitwise():
    logits, tokens = _case()
    logits = logits.float()
    assert not uses_native(logits)
    assert torch.equal(token_log_probs(logits, tokens), _reference(logits, tokens))


@needs_native
def test_double_backward_matches_torch():
    logits, tokens = _case(vocab=64)
    results = []
    for native in (True, False):
        x = logits.clone().requires_grad_()
        values = token_log_probs(x, tokens) if native else _reference(x, tokens)
        (grad,) = torch.autograd.grad(values.sum(), x, create_graph=True)
        (second,) = torch.autograd.grad((grad.float() ** 2).sum(), x)
        results.append((grad.float(), second.float()))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0.02, atol=1e-6)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0.05, atol=1e-5)


@needs_native
def test_the_result_does_not_depend_on_the_thread_count():
    logits, tokens = _case(vocab=5000)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = token_log_probs(logits, tokens)
        torch.set_num_threads(2)
        two = token_log_probs(logits, tokens)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_token_ids_outside_the_vocabulary_and_mismatched_shapes_are_refused():
    logits, tokens = _case(vocab=50)
    tokens[2, 3] = 50
    refusal = r"token ids must lie in \[0, 50\), got \d+\.\.50" if NATIVE else "out of bounds"  # else torch's gather
    with pytest.raises(IndexError if NATIVE else RuntimeError, match=refusal):
        token_log_probs(logits, tokens)
    with pytest.raises(ValueError, match=r"tokens \(3, 6\) do not match logits \(3, 7, 50\)"):
        token_log_probs(logits, tokens[:, :6])


@pytest.mark.parametrize("why", ["TEXTGAN_NATIVE=0", "no library"])
def test_without_the_native_kernels_torch_computes_it(monkeypatch, why):
    if why == "no library":
        monkeypatch.setattr(build, "_tried", True)
        monkeypatch.setattr(build, "_library", None)
    else:
        monkeypatch.setenv("TEXTGAN_NATIVE", "0")
    logits, tokens = _case(vocab=50)
    assert not uses_native(logits)
    assert torch.equal(token_log_probs(logits, tokens), _reference(logits, tokens))


@needs_native
def test_the_generators_bf16_teacher_forced_nll_is_torchs():
    torch.manual_seed(1)
    generator = RMCGenerator(vocab_size=300, max_length=9, embedding_dim=8, head_size=8, num_heads=2)
    tokens = torch.randint(0, 300, (5, 9))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = generator(tokens)
        nll = generator.nll(tokens)
    torch.testing.assert_close(nll, -_reference(logits, tokens).mean(), rtol=0, atol=1e-6)
