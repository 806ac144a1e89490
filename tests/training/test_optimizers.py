"""FusedAdam: torch's Adam update in one fused pass, with gradients that Lightning's AMP plugins may clip."""

import torch
from lightning.fabric.plugins.precision.amp import _optimizer_handles_unscaling

from textgan.training.optimizers import FusedAdam


def test_fused_adam_makes_torchs_adam_update_and_lets_lightning_clip():
    torch.manual_seed(0)
    reference = [torch.randn(37, 5, requires_grad=True), torch.randn(11, requires_grad=True)]
    fused = [p.detach().clone().requires_grad_() for p in reference]
    plain_optimizer = torch.optim.Adam(reference, lr=1e-2, betas=(0.9, 0.999))
    fused_optimizer = FusedAdam(fused, lr=1e-2, betas=(0.9, 0.999))
    for _ in range(5):
        grads = [torch.randn_like(p) for p in reference]
        for p, q, g in zip(reference, fused, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        plain_optimizer.step()
        fused_optimizer.step()
    for p, q in zip(reference, fused, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-6, atol=1e-7)
    assert fused_optimizer.defaults["fused"]
    assert _optimizer_handles_unscaling(torch.optim.Adam(fused, fused=True))  # what Lightning refuses to clip
    assert not _optimizer_handles_unscaling(fused_optimizer)
