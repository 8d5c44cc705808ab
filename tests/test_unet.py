"""The attention-free U-Net: any spatial size in, same size out; depends on x_t, cond and s."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from diffusion.loss import diffusion_loss
from diffusion.schedule import noise_input
from models.build import build_network, network_args
from models.noise_predictor import NoisePredictor
from models.unet import ResBlock, UNet, crop_to, pad_to_multiple
from tests.conftest import linear_alpha_bar, randomise_zero_init, tiny_unet
from utils.config import load_config


def inputs(batch, *spatial, seed=1):
    g = torch.Generator().manual_seed(seed)
    x_t = torch.randn((batch, 1, *spatial), generator=g)
    cond = torch.randn((batch, 1, *spatial), generator=g)
    s = torch.linspace(-5, 5, batch)
    return x_t, cond, s


@pytest.mark.parametrize("mults", [(1, 2), (1, 2, 2, 2)])
@pytest.mark.parametrize("size", [(64, 64), (100, 150), (33, 17), (5, 3)])
def test_output_shape_equals_input_shape(size, mults):
    net = randomise_zero_init(tiny_unet(mults))
    x_t, cond, s = inputs(1, *size)
    with torch.no_grad():
        out = net(x_t, cond, s)
    assert out.shape == x_t.shape
    assert torch.isfinite(out).all()


def test_output_shape_256():
    net = randomise_zero_init(tiny_unet((1, 2, 2)))
    x_t, cond, s = inputs(1, 256, 256)
    with torch.no_grad():
        out = net(x_t, cond, s)
    assert out.shape == (1, 1, 256, 256)
    assert torch.isfinite(out).all()


def test_dims3_on_a_small_volume():
    net = randomise_zero_init(tiny_unet((1, 2), dims=3))
    assert any(isinstance(m, nn.Conv3d) for m in net.modules())
    assert not any(isinstance(m, nn.Conv2d) for m in net.modules())
    x_t, cond, s = inputs(2, 6, 9, 7)
    with torch.no_grad():
        out = net(x_t, cond, s)
    assert out.shape == x_t.shape
    assert torch.isfinite(out).all()


# Every module type the noise predictor may contain: convolutions, norms, pointwise maps, containers.
ALLOWED_MODULES = (NoisePredictor, UNet, ResBlock, nn.Conv2d, nn.Conv3d, nn.GroupNorm, nn.Linear, nn.SiLU,
                   nn.Dropout, nn.Identity, nn.Upsample, nn.Sequential, nn.ModuleList)


def assert_no_attention(net: nn.Module):
    """Fail on any module whose type is not on the allow-list (attention of any name is not on it)."""
    for name, module in net.named_modules():
        assert type(module) in ALLOWED_MODULES, f"{name or 'model'}: {type(module).__name__} is not allowed"


def test_allow_list_catches_an_attention_layer():
    net = tiny_unet()
    net.middle.append(nn.MultiheadAttention(16, 2))
    with pytest.raises(AssertionError, match="MultiheadAttention"):
        assert_no_attention(net)


def test_no_attention_in_tiny_or_default_model():
    assert_no_attention(tiny_unet())
    assert_no_attention(tiny_unet(dims=3))
    cfg = load_config(None, [])
    with torch.device("meta"):  # the full-size default model as train.py builds it, without allocating weights
        net = build_network(network_args(cfg.model, cfg.diffusion.eps_skip))
    assert any(isinstance(m, UNet) for m in net.modules())
    assert_no_attention(net)


def test_output_depends_on_s_and_cond_and_x_t_per_sample():
    net = randomise_zero_init(tiny_unet())
    x_t, cond, s = inputs(2, 32, 32)
    with torch.no_grad():
        base = net(x_t, cond, s)
        s2 = s.clone()
        s2[1] += 3.0
        by_s = net(x_t, cond, s2)
        cond2 = cond.clone()
        cond2[1] += 0.5 * torch.randn(cond[1].shape, generator=torch.Generator().manual_seed(9))
        by_cond = net(x_t, cond2, s)
        x2 = x_t.clone()
        x2[1] *= -1
        by_x = net(x2, cond, s)
    for changed in (by_s, by_cond, by_x):
        assert (changed[1] - base[1]).abs().max() > 1e-3, "sample 1's input changed: its output must change"
        torch.testing.assert_close(changed[0], base[0], rtol=1e-5, atol=1e-5, msg="sample 0 must not care")


def test_training_steps_bring_noise_level_dependence():
    """From the zero-initialised start, a few optimiser steps make the output depend on s and cond.

    One step is not enough for s: conv_out and every block's conv2 start at zero, so the first
    step only moves conv_out (no gradient reaches conv2 through a zero conv_out), and the noise
    embedding reaches the output only through conv2. The second step wakes it up.
    """
    torch.manual_seed(0)
    net = tiny_unet().train()
    alpha_bar = linear_alpha_bar(100)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    x_t, cond, s = inputs(2, 16, 16)
    for _ in range(3):
        x0 = torch.randn((2, 1, 16, 16), generator=g)
        loss = diffusion_loss(net, x0, x0 + 0.1 * torch.randn(x0.shape, generator=g), alpha_bar, g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        base = net(x_t, cond, s)
        assert (net(x_t, cond, s + 4.0) - base).abs().max() > 1e-3
        assert (net(x_t, cond + 1.0, s) - base).abs().max() > 1e-3


@pytest.mark.parametrize("shape", [(2, 3, 33, 17), (1, 1, 64, 64), (1, 2, 5, 3), (1, 1, 7, 10, 6), (1, 1, 1, 9)])
@pytest.mark.parametrize("multiple", [1, 2, 8, 16])
def test_pad_to_multiple_and_crop_to_round_trip(shape, multiple):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    padded = pad_to_multiple(x, multiple)
    assert padded.shape[:2] == x.shape[:2]
    for before, after in zip(x.shape[2:], padded.shape[2:]):
        assert after % multiple == 0
        assert before <= after < before + multiple
    assert torch.equal(crop_to(padded, x.shape[2:]), x)


def test_pad_is_reflect_where_possible():
    x = torch.arange(6.0).view(1, 1, 1, 6)
    padded = pad_to_multiple(x, 8)
    # reflect needs pad < size: 2 < 6 along W, but along H (size 1) pad 7 is too large -> replicate
    assert padded.shape == (1, 1, 8, 8)
    assert torch.equal(padded[0, 0, 0], torch.tensor([0, 1, 2, 3, 4, 5, 5, 5.0]))
    y = torch.arange(24.0).view(1, 1, 4, 6) % 6
    assert torch.equal(pad_to_multiple(y, 4)[0, 0, 0], torch.tensor([0, 1, 2, 3, 4, 5, 4, 3.0]))
    # already a multiple: returned unchanged
    assert pad_to_multiple(y, 2) is y


def test_eps_skip_is_combined_in_float32_under_bf16_autocast():
    """x_t's bf16 rounding error would reach x0_hat divided by sqrt(gamma) (~157 at t = T)."""
    class Bf16Net(nn.Module):  # stands in for a U-Net whose output autocast left in bf16
        def forward(self, x_t, cond, s):
            return (0.3 * cond).to(torch.bfloat16)

    g = torch.Generator().manual_seed(0)
    x_t, cond = torch.randn((2, 1, 16, 16), generator=g), torch.randn((2, 1, 16, 16), generator=g)
    gamma = torch.tensor([4e-5, 0.5], dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        eps = NoisePredictor(Bf16Net(), skip=True)(x_t, cond, noise_input(gamma))
    assert eps.dtype == torch.float32
    g4 = gamma.view(-1, 1, 1, 1)
    out = (0.3 * cond).to(torch.bfloat16).double()
    exact = (1 - g4).sqrt() * x_t.double() + g4.sqrt() * out
    x0 = lambda e: (x_t.double() - (1 - g4).sqrt() * e) / g4.sqrt()  # noqa: E731
    assert (x0(eps.double()) - x0(exact)).abs().max() < 1e-3
