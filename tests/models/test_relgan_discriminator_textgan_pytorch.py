"""TextGAN-PyTorch's RelGAN discriminator as switches: both off it is RelGAN's exactly; both on it computes what the
peer's ``RelGAN_D.forward`` computes (written out below from its source at 7ff8909) and starts from its
initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.relgan_discriminator_textgan_pytorch import (
    UNIFORM_INIT_BOUND,
    TextGANPyTorchRelGANDiscriminator,
    TiedHighway,
)

V, T, B = 30, 9, 4
SIZE = {"embedding_dim": 8, "num_rep": 4, "filter_sizes": [2, 3], "num_filters": [5, 6], "hidden_size": 7}


def sentences() -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))


def peer_forward(d: TextGANPyTorchRelGANDiscriminator, one_hot: torch.Tensor) -> torch.Tensor:
    """The peer's RelGAN_D.forward on our parameters, in evaluation mode: (B, T, V) -> (B * num_rep,)."""
    emb = (one_hot @ d.embedding.weight).unsqueeze(1)  # its nn.Linear(V, E, bias=False) on one-hot rows
    width = d.emb_dim_single
    cons = [F.relu(F.conv2d(emb, c.weight, c.bias, stride=(1, width))) for c in d.features.convs]
    pools = [F.max_pool2d(con, (con.size(2), 1)).squeeze(2) for con in cons]
    pred = torch.cat(pools, 1)
    pred = pred.permute(0, 2, 1).contiguous().view(-1, d.features.out_features)
    highway = F.linear(pred, d.highway.linear.weight, d.highway.linear.bias)
    pred = torch.sigmoid(highway) * F.relu(highway) + (1.0 - torch.sigmoid(highway)) * pred
    return F.linear(F.linear(pred, d.hidden.weight, d.hidden.bias), d.logit.weight, d.logit.bias).squeeze(1)


def test_both_switches_off_is_relgans_discriminator_exactly():
    torch.manual_seed(0)
    relgan = RelGANDiscriminator(V, T, **SIZE)
    ours = TextGANPyTorchRelGANDiscriminator(V, T, **SIZE, tied_highway=False, uniform_init=False)
    ours.load_state_dict(relgan.state_dict())  # strict: the same parameters under the same names
    batch = sentences()
    for train in (False, True):  # with dropout too: the same masks from the same stream
        relgan.train(train), ours.train(train)
        torch.manual_seed(2)
        expected = relgan(batch)
        torch.manual_seed(2)
        torch.testing.assert_close(ours(batch), expected, rtol=0, atol=0)
    torch.manual_seed(0)
    fresh = TextGANPyTorchRelGANDiscriminator(V, T, **SIZE, tied_highway=False, uniform_init=False)
    for name, value in relgan.state_dict().items():  # and the same initialisation from the same seed
        torch.testing.assert_close(fresh.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_the_peers_discriminator_computes_its_forward(backend):
    torch.manual_seed(0)
    peer = TextGANPyTorchRelGANDiscriminator(V, T, **SIZE, backend=backend).eval()
    assert isinstance(peer.highway, TiedHighway)
    batch = sentences()
    one_hot = F.one_hot(batch, V).float().requires_grad_()
    expected = peer_forward(peer, one_hot).view(B, -1)
    torch.testing.assert_close(peer(batch), expected, rtol=1e-5, atol=1e-6)
    ours = peer(one_hot)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    # the tied weight receives the gradient of both roles, as the peer's single Linear does
    weights = [peer.highway.linear.weight, peer.highway.linear.bias, one_hot]
    grads = torch.autograd.grad(ours.square().sum(), weights)
    reference = torch.autograd.grad(expected.square().sum(), weights)
    for grad, ref in zip(grads, reference, strict=True):
        torch.testing.assert_close(grad, ref, rtol=1e-4, atol=1e-6)


def test_the_tied_highway_is_one_map_with_a_bias():
    layer = TiedHighway(6)
    assert layer.linear.weight.shape == (6, 6) and layer.linear.bias is not None
    assert sum(p.numel() for p in layer.parameters()) == 6 * 6 + 6  # RelGAN's: 2 * 6 * 6, no bias


def test_the_peers_initialisation_is_uniform_on_every_parameter():
    torch.manual_seed(0)
    peer = TextGANPyTorchRelGANDiscriminator(V, T, **SIZE)
    for name, parameter in peer.named_parameters():
        assert parameter.abs().max() <= UNIFORM_INIT_BOUND, name
        assert torch.count_nonzero(parameter) == parameter.numel(), name  # biases drawn too, not zero
    torch.manual_seed(0)
    relgan = TextGANPyTorchRelGANDiscriminator(V, T, **SIZE, tied_highway=True, uniform_init=False)
    conv = relgan.features.convs[0].weight  # RelGAN's: std sqrt(2 / window), far wider than the peer's
    assert conv.abs().max() > 10 * UNIFORM_INIT_BOUND
    assert torch.count_nonzero(relgan.highway.linear.bias) == 0
