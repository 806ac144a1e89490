"""bf16 products in float32 arithmetic (``textgan.kernels.bf16_products``): the bf16 kernels' result, everywhere it is
needed (forward and backward of the RelGAN generator and discriminator), and nothing else touched."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from textgan.kernels.bf16_products import PRODUCTS, EmulatedBF16Products
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.rmc import RMCGenerator

BF16_EPS = 2.0**-7  # bfloat16's machine epsilon (8 significant bits)


def test_a_product_is_the_float32_product_of_the_bf16_operands_rounded_once_to_bf16():
    a, b, bias = torch.randn(37, 300), torch.randn(300, 53), torch.randn(53)
    a16, b16, bias16 = a.bfloat16(), b.bfloat16(), bias.bfloat16()
    with EmulatedBF16Products() as mode:
        product = a16 @ b16
        affine = torch.addmm(bias16, a16, b16)
        batched = torch.bmm(a16.view(1, 37, 300).expand(2, -1, -1), b16.expand(2, -1, -1))
    assert mode.count == 3
    assert product.dtype == affine.dtype == batched.dtype == torch.bfloat16
    assert torch.equal(product, (a16.float() @ b16.float()).bfloat16())
    assert torch.equal(affine, torch.addmm(bias16.float(), a16.float(), b16.float()).bfloat16())
    assert torch.equal(batched[1], product)
    native = a16 @ b16  # torch's own bf16 kernel: the same up to the order of the float32 summation
    torch.testing.assert_close(product.float(), native.float(), rtol=BF16_EPS, atol=1e-6)
    assert (product != native).float().mean() < 0.02  # rounding ties of the float32 sum only


def test_float32_products_and_mixed_operands_pass_through_untouched():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    with EmulatedBF16Products() as mode:
        same = a @ b
        half = torch.randn(3, 3, dtype=torch.float16) @ torch.randn(3, 3, dtype=torch.float16)
    assert mode.count == 0 and torch.equal(same, a @ b) and half.dtype == torch.float16


class _BF16ProductsReachingKernels(TorchDispatchMode):
    """Entered before the emulation, so it sees the products the emulation left to torch's kernels."""

    def __init__(self):
        super().__init__()
        self.missed = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        operands = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        if func in PRODUCTS and any(t.dtype == torch.bfloat16 for t in operands):
            self.missed.append(str(func))
        return func(*args, **kwargs)


def test_every_bf16_product_of_a_relgan_training_step_is_emulated_and_the_gradients_are_bf16s():
    torch.manual_seed(0)
    vocab, length = 40, 12
    generator = RMCGenerator(vocab, length, embedding_dim=16, head_size=16, num_heads=2)
    discriminator = RelGANDiscriminator(vocab, length, embedding_dim=8, num_rep=4, num_filters=[16] * 4)
    tokens = torch.randint(vocab, (16, length))
    noise = -torch.empty(16, length, vocab).exponential_().log()

    def step(bf16: bool = True) -> torch.Tensor:  # all parameter gradients, flattened
        generator.zero_grad()
        discriminator.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            fake = generator.rsample_relaxed_feedback(noise, 0.5)
            loss = generator.nll(tokens) + discriminator(fake).float().mean() - discriminator(tokens).float().mean()
        loss.backward()
        parameters = (*generator.parameters(), *discriminator.parameters())
        return torch.cat([p.grad.flatten() for p in parameters if p.grad is not None])

    native = step()
    with _BF16ProductsReachingKernels() as spy, EmulatedBF16Products() as mode:
        emulated = step()
    fp32 = step(bf16=False)
    assert spy.missed == [] and mode.count > 0
    # through 12 recurrent steps a 1-ulp difference in a product grows to a few percent of a gradient, whichever
    # side it came from (float32 lands as far): per product the equality is checked in the next test
    assert (emulated - native).norm() < 0.2 * native.norm() and (fp32 - native).norm() < 0.2 * native.norm()


def test_a_layer_under_bf16_autocast_gives_the_bf16_kernels_output_and_gradients():
    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 96)
    x = torch.randn(64, 256, requires_grad=True)
    target = torch.randn(64, 96)

    def forward_backward(bf16: bool = True) -> list[torch.Tensor]:
        layer.zero_grad()
        x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = layer(x)
        (y.float() - target).square().mean().backward()
        return [y.detach().float(), x.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone()]

    native = forward_backward()
    with EmulatedBF16Products() as mode:
        emulated = forward_backward()
    fp32 = forward_backward(bf16=False)
    assert mode.count == 3  # addmm forward; mm for the input's and the weight's gradient
    for ours, kernels, full in zip(emulated, native, fp32, strict=True):
        torch.testing.assert_close(ours, kernels, rtol=2 * BF16_EPS, atol=1e-6)
        assert (ours != kernels).float().mean() < 0.05  # rounding ties of the float32 sums only
        assert (full != kernels).float().mean() > 0.5  # float32's results are not bf16's
