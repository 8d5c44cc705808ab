"""Attention-free U-Net noise predictor phi(x_t, cond, s) for any spatial size.

The network knows nothing of schedules: s is a per-sample scalar noise level (the diffusion
code feeds the log signal-to-noise ratio). Input is concat(cond, x_t) along channels; output
is the predicted noise, same shape as x_t. Convolutions are 2D or 3D (model.dims).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_nd(dims: int, *args, **kwargs) -> nn.Module:
    return (nn.Conv2d if dims == 2 else nn.Conv3d)(*args, **kwargs)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


def noise_embedding(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Return sinusoidal features of the noise level, shape (B, dim).

    Frequencies are geometric between 1/32 and 4 radians per unit of s, which resolves the
    log-SNR range [-20, 20] from coarse to fine.
    """
    half = dim // 2
    freqs = torch.exp(torch.linspace(math.log(1 / 32), math.log(4), half, device=s.device))
    angles = s.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the noise embedding as a per-channel scale and shift."""

    def __init__(self, dims: int, in_ch: int, out_ch: int, emb_dim: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = group_norm(in_ch, groups)
        self.conv1 = conv_nd(dims, in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2 = group_norm(out_ch, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv_nd(dims, out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = conv_nd(dims, in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb)).view(emb.shape[0], -1, *(1,) * (x.dim() - 2)).chunk(2, 1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """U-Net predicting eps from (x_t, cond, s); no attention anywhere."""

    def __init__(self, base_channels: int, channel_mults: list[int], num_res_blocks: int,
                 dropout: float = 0.0, norm_groups: int = 32, dims: int = 2,
                 in_channels: int = 2, out_channels: int = 1):
        super().__init__()
        self.dims = dims
        self.in_channels = in_channels  # 2: (cond, x_t) for the noise predictor; 1: cond alone (regression)
        self.down_factor = 2 ** (len(channel_mults) - 1)
        emb_dim = 4 * base_channels
        self.emb_features = base_channels
        self.emb_mlp = nn.Sequential(nn.Linear(base_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        block = lambda i, o: ResBlock(dims, i, o, emb_dim, dropout, norm_groups)  # noqa: E731

        self.conv_in = conv_nd(dims, in_channels, base_channels, 3, padding=1)
        self.down = nn.ModuleList()
        skip_channels = [base_channels]
        ch = base_channels
        for level, mult in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                self.down.append(block(ch, base_channels * mult))
                ch = base_channels * mult
                skip_channels.append(ch)
            if level < len(channel_mults) - 1:
                self.down.append(conv_nd(dims, ch, ch, 3, stride=2, padding=1))
                skip_channels.append(ch)
        self.middle = nn.ModuleList([block(ch, ch), block(ch, ch)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mults))):
            for _ in range(num_res_blocks + 1):
                self.up.append(block(ch + skip_channels.pop(), base_channels * mult))
                ch = base_channels * mult
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             conv_nd(dims, ch, ch, 3, padding=1)))
        self.norm_out = group_norm(ch, norm_groups)
        self.conv_out = conv_nd(dims, ch, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x_t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Return predicted noise, shape of x_t. x_t, cond: (B, 1, *spatial); s: (B,)."""
        spatial = x_t.shape[2:]
        inputs = cond if self.in_channels == 1 else torch.cat([cond, x_t.to(cond.dtype)], dim=1)
        x = pad_to_multiple(inputs, self.down_factor)
        emb = self.emb_mlp(noise_embedding(s, self.emb_features).to(x.dtype))
        h = self.conv_in(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = layer(h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return crop_to(out, spatial)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the trailing spatial axes of x up to a multiple (replicate where too small)."""
    pads = []
    for size in reversed(x.shape[2:]):
        pads += [0, (-size) % multiple]
    if not any(pads):
        return x
    mode = "reflect" if all(p < s for p, s in zip(pads[1::2], reversed(x.shape[2:]))) else "replicate"
    return F.pad(x, pads, mode=mode)


def crop_to(x: torch.Tensor, spatial: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Return x cropped to the leading `spatial` extent of each spatial axis."""
    index = (slice(None), slice(None)) + tuple(slice(0, n) for n in spatial)
    return x[index]
