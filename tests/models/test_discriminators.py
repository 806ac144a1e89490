"""RelGAN's and SeqGAN's discriminators, their max-over-time convolution and their highway + dropout."""

import pytest
import torch
import torch.nn.functional as F

from textgan.kernels import build, policy
from textgan.kernels.highway import counter_words, dropout_bits_from_seed
from textgan.models.highway import Dropout, Highway, highway_gate
from textgan.models.max_over_time_conv import MaxOverTimeConv
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

V, T, B = 30, 9, 6
NATIVE = policy.available()
BACKENDS = ["torch", pytest.param("native", marks=pytest.mark.skipif(not NATIVE, reason="no C compiler"))]


def relgan(backend: str = "auto", num_rep: int = 4, **kwargs) -> RelGANDiscriminator:
    torch.manual_seed(0)
    # 70 filters: more than one 64-column block of the native kernel, with a partial one
    defaults = dict(embedding_dim=8, num_rep=num_rep, filter_sizes=[2, 3], num_filters=[70, 5], hidden_size=7)
    return RelGANDiscriminator(V, T, backend=backend, **{**defaults, **kwargs})


def seqgan(backend: str = "auto") -> SeqGANDiscriminator:
    torch.manual_seed(0)
    return SeqGANDiscriminator(
        V, T, embedding_dim=8, filter_sizes=[1, 2, 5], num_filters=[4, 6, 3], backend=backend
    )


MAKERS = {"relgan": relgan, "seqgan": seqgan}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", MAKERS)
def test_token_and_one_hot_inputs_give_identical_logits_of_shape_b_by_r(kind, backend):
    discriminator = MAKERS[kind](backend).eval()
    tokens = torch.randint(0, V, (B, T))
    from_tokens = discriminator(tokens)
    from_one_hot = discriminator(F.one_hot(tokens, V).float())
    expected_r = 4 if kind == "relgan" else 1
    assert discriminator.num_outputs == expected_r
    assert from_tokens.shape == (B, expected_r)
    assert torch.equal(from_tokens, from_one_hot)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", MAKERS)
def test_relaxed_inputs_receive_gradients(kind, backend):
    discriminator = MAKERS[kind](backend)
    relaxed = torch.softmax(torch.randn(B, T, V), dim=-1).requires_grad_()
    discriminator(relaxed).sum().backward()
    assert relaxed.grad is not None and torch.isfinite(relaxed.grad).all()
    assert relaxed.grad.abs().sum() > 0
    assert all(p.grad is not None for p in discriminator.parameters())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", MAKERS)
def test_dropout_is_active_in_train_mode_only(kind, backend):
    discriminator = MAKERS[kind](backend)
    assert isinstance(discriminator.highway.dropout, torch.nn.Dropout)
    assert discriminator.highway.dropout.p == 0.25
    tokens = torch.randint(0, V, (B, T))
    assert not torch.equal(discriminator(tokens), discriminator(tokens))
    discriminator.eval()
    assert torch.equal(discriminator(tokens), discriminator(tokens))


def naive_relgan_features(discriminator: RelGANDiscriminator, embedded: torch.Tensor) -> torch.Tensor:
    """RelGAN's TensorFlow graph, literally: conv2d over the (T, E) image, ReLU, max-pool over time."""
    batch, _, _ = embedded.shape
    image = embedded.unsqueeze(1)  # (B, 1, T, E)
    pooled = []
    for conv in discriminator.features.convs:
        out = F.conv2d(
            image, conv.weight, conv.bias, stride=(1, discriminator.emb_dim_single)
        )  # (B, C, T', R)
        pooled.append(torch.relu(out).amax(dim=2))  # (B, C, R)
    features = torch.cat(pooled, dim=1)  # (B, C_total, R)
    return features.permute(0, 2, 1).reshape(batch * discriminator.num_rep, -1)  # (B * R, C_total)


@pytest.mark.parametrize("num_rep", [8, 4])  # one-wide (RelGAN's setting) and two-wide representations
@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_convolution_equals_a_naive_conv2d(backend, num_rep):
    discriminator = relgan(backend, num_rep=num_rep)
    embedded = torch.randn(B, T, 8, requires_grad=True)
    rows = embedded.view(B, T, num_rep, -1).transpose(1, 2).reshape(B * num_rep, T, -1)
    fast = discriminator.features(rows)
    naive = naive_relgan_features(discriminator, embedded)
    assert torch.allclose(fast, naive, atol=1e-5)
    weight = torch.randn_like(fast)
    params = [embedded, *discriminator.features.parameters()]
    fast_grads = torch.autograd.grad((fast * weight).sum(), params)
    naive_grads = torch.autograd.grad((naive * weight).sum(), params)
    for a, b in zip(fast_grads, naive_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
@pytest.mark.parametrize("length, width", [(20, 1), (32, 1), (16, 2), (40, 1)])
def test_native_convolution_gradients_equal_torchs_for_every_window_and_row_width(length, width):
    """Rows of up to 32 floats take the narrow backward (windows of up to 8 taps sum the input's gradient by
    window start; 9 to 16 taps by channel); 40 floats the generic one. Windows start anywhere in the row."""
    torch.manual_seed(3)
    sizes = [1, 2, 5, 8, 9, 16] if length * width >= 32 else [1, 2, 5, 8]
    modules = {backend: MaxOverTimeConv(width, sizes, [37] * len(sizes), backend) for backend in ("native", "torch")}
    modules["torch"].load_state_dict(modules["native"].state_dict())
    x = torch.randn(67, length, width)
    weight = torch.randn(67, 37 * len(sizes))
    grads = {}
    for backend, module in modules.items():
        inputs = x.clone().requires_grad_()
        out = module(inputs)
        grads[backend] = torch.autograd.grad((out * weight).sum(), [inputs, *module.parameters()])
        grads[backend + " out"] = out
    assert torch.allclose(grads["native out"], grads["torch out"], atol=1e-5)
    for native, reference in zip(grads["native"], grads["torch"], strict=True):
        assert torch.allclose(native, reference, atol=1e-4, rtol=1e-5)


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
def test_native_convolution_under_autocast_returns_its_float32_features_rounded_to_bfloat16():
    """Autocast's output type for a convolution; the sums stay float32 and the bf16 gradient is read exactly."""
    conv = MaxOverTimeConv(1, [2, 3, 5], [70, 5, 9], "native")
    x = torch.randn(13, 20, 1)
    grad = torch.randn(13, 84).to(torch.bfloat16)
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        inputs = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = conv(inputs)
        grads = torch.autograd.grad(out, [inputs, *conv.parameters()], grad.to(out.dtype))
        results[dtype] = (out, grads)
    (exact, exact_grads), (low, low_grads) = results[torch.float32], results[torch.bfloat16]
    assert low.dtype == torch.bfloat16 and torch.equal(low, exact.to(torch.bfloat16))
    for a, b in zip(low_grads, exact_grads, strict=True):
        assert torch.equal(a, b)


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
def test_native_double_backward_matches_torch():
    """WGAN-GP differentiates gradients: the native ops switch to differentiable torch maths there."""
    results = []
    for backend in ["native", "torch"]:
        discriminator = relgan(backend)
        inputs = torch.softmax(torch.randn(B, T, V, generator=torch.Generator().manual_seed(1)), -1)
        inputs.requires_grad_()
        torch.manual_seed(5)  # the same dropout masks in both runs
        (grad,) = torch.autograd.grad(discriminator(inputs).sum(), inputs, create_graph=True)
        penalty = grad.square().sum()
        results.append(
            [grad, *torch.autograd.grad(penalty, list(discriminator.parameters()), allow_unused=True)]
        )
    for a, b in zip(*results, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
@pytest.mark.parametrize("bias, features", [(False, 12), (True, 12), (False, 7)])
def test_fused_highway_equals_torch_with_the_same_dropout_mask(bias, features):
    """The kernel computes the counter-based mask words itself (7 features: rows start mid-word)."""
    torch.manual_seed(0)
    native, reference = (
        Highway(features, bias=bias, dropout=0.25, backend="native"),
        Highway(features, bias=bias, dropout=0.25),
    )
    reference.backend = "torch"
    reference.load_state_dict(native.state_dict())
    x = torch.randn(5, features, requires_grad=True)
    outputs, grads = [], []
    for module in (native, reference):
        torch.manual_seed(3)
        out = module(x)
        outputs.append(out)
        grads.append(torch.autograd.grad((out * torch.arange(float(features))).sum(), [x, *module.parameters()]))
    assert torch.allclose(outputs[0], outputs[1], atol=1e-6)
    assert (outputs[0] == 0).float().mean() > 0.05  # dropout was applied
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_dropout_masks_are_splitmix64_words_read_as_int16_lanes():
    # splitmix64.c (Vigna), state 1234567: its first output is mix(1234567 + golden gamma) = word 0 here
    assert int(counter_words(1234567, 1)) % 2**64 == 6457827717110365317
    words = counter_words(99, 3)
    bits = dropout_bits_from_seed(99, (2, 5))  # element e is 16-bit lane e % 4 of word e // 4, little-endian
    for e in range(10):
        lane = (int(words[e // 4]) % 2**64 >> (16 * (e % 4))) & 0xFFFF
        assert int(bits.flatten()[e]) % 2**16 == lane
    torch.manual_seed(0)
    out = Dropout(0.25).train()(torch.ones(400, 100))
    assert set(out.unique().tolist()) == {0.0, torch.tensor(4 / 3).item()}  # kept values scaled by 1 / q
    assert abs((out == 0).float().mean() - 0.25) < 0.01


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
def test_fused_highway_reads_bfloat16_pre_activations():
    highway = Highway(16, backend="native").eval()
    x = torch.randn(7, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = highway(x)
        pre = highway.linear(x)  # the bf16 pre-activations the kernel reads
    # gates computed in float32, the output rounded once to bfloat16 (the cast the next product makes)
    assert out.dtype == torch.bfloat16 and pre.dtype == torch.bfloat16
    assert torch.equal(out, highway_gate(pre, x, 0.0).to(torch.bfloat16))
    out.sum().backward()
    assert torch.isfinite(highway.linear.weight.grad).all()
    torch_grad = torch.autograd.grad(highway_gate(pre, x, 0.0).to(torch.bfloat16).sum(), x)[0]
    assert torch.allclose(x.grad, torch_grad, rtol=0.02, atol=1e-3)  # through the gate and the bf16 product


@pytest.mark.skipif(not NATIVE, reason="no C compiler")
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])  # bf16: the native convolution's features
def test_fused_highway_product_under_autocast_gives_autocasts_values_and_gradients(bias, dtype):
    """The fused node computes the product as autocast's nn.Linear does, and its gradients as autograd would."""
    torch.manual_seed(0)
    native, reference = Highway(24, bias=bias, dropout=0.25, backend="native"), Highway(24, bias=bias, dropout=0.25)
    reference.backend = "torch"
    reference.load_state_dict(native.state_dict())
    x = torch.randn(9, 24).relu().to(dtype).requires_grad_()
    results = []
    for module in (native, reference):
        torch.manual_seed(3)  # the same dropout mask
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(x)
        grads = torch.autograd.grad((out.float() * torch.arange(24.0)).sum(), [x, *module.parameters()])
        results.append((out, grads))
    (out, grads), (expected, expected_grads) = results
    assert out.dtype == torch.bfloat16 and torch.equal(out, expected.to(torch.bfloat16))
    assert grads[0].dtype == expected_grads[0].dtype == dtype
    for grad, want in zip(grads, expected_grads, strict=True):
        assert grad.dtype == want.dtype and grad.is_contiguous()
        assert torch.allclose(grad, want, rtol=0.02, atol=0.02)  # the same bf16 products, summed in other orders
    with torch.no_grad():  # frozen weights (a generator step): only the input's gradient is computed
        native.linear.weight.requires_grad_(False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (x_grad,) = torch.autograd.grad(native(x).float().sum(), [x])
    assert native.linear.weight.grad is None and torch.isfinite(x_grad).all()


def test_autocast_bfloat16_stays_close_to_float32():
    discriminator = relgan().eval()
    tokens = torch.randint(0, V, (B, T))
    exact = discriminator(tokens)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = discriminator(tokens)
    assert torch.allclose(low.float(), exact, atol=0.05)


def test_relgan_initialisation_and_validation():
    discriminator = relgan()
    for conv in discriminator.features.convs:
        std = (2.0 / (conv.kernel_size[0] * conv.kernel_size[1])) ** 0.5
        assert conv.weight.abs().max() <= 2 * std + 1e-6 and not conv.bias.any()
    assert discriminator.embedding.weight.abs().max() <= 2 * V**-0.5 + 1e-6
    assert not discriminator.hidden.bias.any() and not discriminator.logit.bias.any()
    assert discriminator.highway.linear.bias is None
    with pytest.raises(ValueError, match="multiple of num_rep"):
        relgan(num_rep=3)
    with pytest.raises(ValueError, match="exceed max_length"):
        relgan(filter_sizes=[2, 10], num_filters=[3, 3])
    with pytest.raises(ValueError, match="one-hot inputs"):
        discriminator(torch.rand(B, T, V + 1))


def test_relgan_spectral_norm_option():
    discriminator = relgan(spectral_norm=True)
    tokens = torch.randint(0, V, (B, T))
    discriminator(tokens).sum().backward()
    assert discriminator.features.convs[0].parametrizations.weight.original.grad is not None


def test_seqgan_drops_windows_longer_than_the_sentences():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match=r"dropping windows \[15, 20\]"):
        discriminator = SeqGANDiscriminator(V, 12)
    assert discriminator.features.filter_sizes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert discriminator.features.out_features == 1400
    assert discriminator(torch.randint(0, V, (3, 12))).shape == (3, 1)


def test_seqgan_regularization_is_the_single_logit_l2():
    discriminator = seqgan()
    with torch.no_grad():
        discriminator.logit.weight.fill_(2.0)
        discriminator.logit.bias.fill_(1.0)
    features = discriminator.features.out_features
    expected = 0.2 * (4.0 * features + 1.0) / 4
    assert discriminator.regularization().item() == pytest.approx(expected)
    assert relgan().regularization().item() == 0.0


def test_conv_rejects_sentences_shorter_than_the_widest_window():
    conv = MaxOverTimeConv(1, [2, 4], [3, 3])
    with pytest.raises(ValueError, match="shorter than the widest filter"):
        conv(torch.randn(2, 3, 1))


@pytest.mark.parametrize("why", ["TEXTGAN_NATIVE=0", "no library"])
def test_without_the_native_kernels_auto_falls_back_to_torch(monkeypatch, why):
    if why == "no library":
        monkeypatch.setattr(build, "_tried", True)
        monkeypatch.setattr(build, "_library", None)
    else:
        monkeypatch.setenv("TEXTGAN_NATIVE", "0")
    tokens = torch.randint(0, V, (B, T))
    auto = relgan("auto").eval()
    assert not auto.features.uses_native(torch.zeros(1, T, 2))
    assert torch.allclose(auto(tokens), relgan("torch").eval()(tokens))
    with pytest.raises(RuntimeError, match="could not be built|TEXTGAN_NATIVE=0"):
        relgan("native")(tokens)
