"""From LR sections to HR predictions: normalise, condition, DDIM-sample (tiled if large), denormalise.

train.py (validation) and sample.py both predict through `super_resolve`, so a section is
always normalised and conditioned exactly as in training.
"""
from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
import torch

from datasets.condition import upsample
from datasets.normalize import clip_for, denormalize, normalize, section_stats
from diffusion.ddim import per_sample_noise, sample_ddim
from utils.runtime import autocast

NetFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def file_seed(base_seed: int, name: str) -> int:
    """Return a seed that depends only on the base seed and the file name (not on batch order)."""
    return (base_seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def make_net_fn(net: torch.nn.Module, device: torch.device, precision: str) -> NetFn:
    """Return net as a float32-in, float32-out function running under the configured autocast."""
    def net_fn(x_t, cond, s):
        with autocast(device, precision):
            return net(x_t, cond, s).float()
    return net_fn


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Return tile start offsets covering [0, size) with at least `overlap` shared samples."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def blend_window(length: int, ramp: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """Return a 1D weight: 1 inside, raised-cosine ramps of `ramp` samples at interior edges."""
    w = torch.ones(length, dtype=torch.float64)
    if ramp > 0:
        rise = 0.5 - 0.5 * torch.cos(torch.pi * (torch.arange(ramp, dtype=torch.float64) + 0.5) / ramp)
        if not at_start:
            w[:ramp] = rise
        if not at_end:
            w[-ramp:] = rise.flip(0)
    return w


def tiled(net_fn: NetFn, tile: int, overlap: int, batch: int) -> NetFn:
    """Return a net_fn that evaluates overlapping tiles in batches and blends their noise estimates.

    Blending happens at every DDIM step on the estimate of eps, so the sampler's state stays one
    whole section and tiles cannot drift apart into seams. Memory is bounded by batch x tile^2.
    """
    def net_fn_tiled(x_t, cond, s):
        height, width = x_t.shape[-2:]
        if tile == 0 or (height <= tile and width <= tile):
            return net_fn(x_t, cond, s)
        out = torch.zeros_like(x_t, dtype=torch.float64)
        weight = torch.zeros((height, width), dtype=torch.float64, device=x_t.device)
        rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
        boxes = [(r, c) for r in rows for c in cols]
        th, tw = min(tile, height), min(tile, width)
        for first in range(0, len(boxes), batch):
            chunk = boxes[first:first + batch]
            crops = lambda a: torch.cat([a[..., r:r + th, c:c + tw] for r, c in chunk])  # noqa: E731
            s_rep = s.repeat(len(chunk))  # crops are tile-major: all items of tile 0, then tile 1
            eps = net_fn(crops(x_t), crops(cond), s_rep).double()
            for k, (r, c) in enumerate(chunk):
                w = torch.outer(blend_window(th, overlap, r == 0, r + th == height),
                                blend_window(tw, overlap, c == 0, c + tw == width)).to(x_t.device)
                n = x_t.shape[0]
                out[..., r:r + th, c:c + tw] += eps[k * n:(k + 1) * n] * w
                weight[r:r + th, c:c + tw] += w
        return (out / weight).float()
    return net_fn_tiled


def super_resolve(net_fn: NetFn, sections: list[np.ndarray], names: list[str], data_cfg,
                  gammas: torch.Tensor, eta: float, clip_x0: float, base_seed: int,
                  device: torch.device, batch: int = 1, tile: int = 0, overlap: int = 0,
                  progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """Return HR predictions (2h, 2w) in the inputs' amplitude units for LR sections (h, w).

    Sections of equal shape that need no tiling go through the network in batches of `batch`;
    larger ones are sampled one at a time with tiles. progress(n) is told of each finished section.
    """
    clip = clip_for(data_cfg.normalization, data_cfg.zscore_clip)
    mode = data_cfg.upsample_modes[0]
    results: list[np.ndarray | None] = [None] * len(sections)
    needs_tiles = lambda lr: tile > 0 and max(lr.shape) * 2 > tile  # noqa: E731
    order = sorted(range(len(sections)), key=lambda i: (needs_tiles(sections[i]), sections[i].shape))
    groups: list[list[int]] = []
    for i in order:
        if groups and not needs_tiles(sections[i]) and len(groups[-1]) < batch and \
                sections[groups[-1][0]].shape == sections[i].shape and not needs_tiles(sections[groups[-1][0]]):
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        stats = [section_stats(sections[i], data_cfg.normalization) for i in group]
        lr_n = torch.stack([torch.from_numpy(normalize(sections[i], st, clip)) for i, st in zip(group, stats)])
        cond = upsample(lr_n[:, None], mode).to(device)
        fn = tiled(net_fn, tile, overlap, batch) if needs_tiles(sections[group[0]]) else net_fn
        randn = per_sample_noise([file_seed(base_seed, names[i]) for i in group], device)
        x0 = sample_ddim(fn, cond, gammas, eta=eta, randn=randn, clip_x0=clip_x0)
        for k, (i, st) in enumerate(zip(group, stats)):
            results[i] = denormalize(x0[k, 0].cpu().numpy(), st)
            if progress:
                progress(1)
    return results
