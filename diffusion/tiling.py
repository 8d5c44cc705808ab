"""Tiled noise estimates for sections larger than one network call: pure functions of a network function.

A section of any size is cut into overlapping tiles; the network sees each tile and the noise
estimates are blended with raised-cosine weights. Blending the estimate of eps at every DDIM
step (not the final images) keeps the sampler's state one whole section, so tiles cannot drift
apart into seams. Arrays are (B, 1, time, trace).
"""
from __future__ import annotations

from typing import Callable

import torch

NetFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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
    """Return a net_fn that evaluates overlapping tiles, `batch` tiles per call, and blends their outputs.

    Memory is bounded by batch x tile^2 whatever the section size; tile = 0 or a section no
    larger than one tile calls net_fn on the whole section.
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
        n = x_t.shape[0]
        per_call = max(1, batch // n)  # a call holds per_call tiles of all n items
        for first in range(0, len(boxes), per_call):
            chunk = boxes[first:first + per_call]
            crops = lambda a: torch.cat([a[..., r:r + th, c:c + tw] for r, c in chunk])  # noqa: E731
            s_rep = s.repeat(len(chunk))  # crops are tile-major: all items of tile 0, then tile 1
            eps = net_fn(crops(x_t), crops(cond), s_rep).double()
            for k, (r, c) in enumerate(chunk):
                w = torch.outer(blend_window(th, overlap, r == 0, r + th == height),
                                blend_window(tw, overlap, c == 0, c + tw == width)).to(x_t.device)
                out[..., r:r + th, c:c + tw] += eps[k * n:(k + 1) * n] * w
                weight[r:r + th, c:c + tw] += w
        return (out / weight).float()
    return net_fn_tiled
