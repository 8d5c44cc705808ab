"""Data consistency during sampling: keep the input's well-measured low band in every x0 estimate.

At each DDIM step the estimate x0_hat is seen through the observation operator
    A(x) = upsample(avg_pool_2x2(x))            (what the input c = upsample(y) shows of x)
and the part of the mismatch c - A(x0_hat) below a cutoff wavenumber is added back:
    x0_hat <- x0_hat + weight * G(c - A(x0_hat)),
G a Gaussian low-pass. This is ILVR's low-frequency replacement (Choi et al. 2021) applied to
the x0 estimate, restricted to the band where the input lies above its noise. Arrays are
(B, 1, time, trace) in normalised units.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from diffusion.ddim import X0Transform


def gaussian_lowpass(x: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Return x blurred by a separable Gaussian whose gain is 1/2 at `cutoff` x Nyquist, both axes.

    x: (B, 1, H, W); edges are mirrored so that the blur does not wrap.
    """
    sigma = math.sqrt(math.log(2) / 2) / (math.pi * 0.5 * cutoff)  # in samples
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    pad = min(radius, x.shape[-2] - 1, x.shape[-1] - 1)
    y = F.pad(x, (pad, pad, pad, pad), mode="reflect" if pad > 0 else "constant")
    y = F.conv2d(y, kernel.view(1, 1, -1, 1), padding=(radius - pad, 0))  # along time
    # Zero padding tops the mirrored margin up to the kernel radius: the output is (H, W) again.
    return F.conv2d(y, kernel.view(1, 1, 1, -1), padding=(0, radius - pad))  # along traces


def observed(x: torch.Tensor, upsample: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Return A(x) = upsample(2x2 cell means of x): x as the LR input would show it, on the HR grid."""
    return upsample(F.avg_pool2d(x, 2))


def consistency_guidance(cond: torch.Tensor, weight: float, cutoff: float,
                         upsample: Callable[[torch.Tensor], torch.Tensor],
                         offset: torch.Tensor | None = None) -> X0Transform:
    """Return x0_fn(x0_hat, gamma) for sample_ddim that pulls x0_hat's low band towards the input's.

    cond: (B, 1, H, W) the upsampled input; weight in [0, 1] (1 replaces the band); cutoff: fraction
    of the HR Nyquist below which the input is trusted; offset: added to x0_hat before comparing
    (the condition itself when the sampler diffuses the residual HR - cond), or None.
    """
    def x0_fn(x0_hat: torch.Tensor, gamma: float) -> torch.Tensor:
        full = x0_hat if offset is None else x0_hat + offset
        mismatch = cond - observed(full, upsample)
        return x0_hat + weight * gaussian_lowpass(mismatch, cutoff)
    return x0_fn
