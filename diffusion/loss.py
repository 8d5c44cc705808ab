"""Training objective with a continuous noise level (SR3's scheme, one level per sample)."""
from __future__ import annotations

import torch

from diffusion.schedule import noise_input


def training_target(x0: torch.Tensor, cond: torch.Tensor, target: str) -> torch.Tensor:
    """Return what the chain diffuses: the HR itself (target "x0") or HR minus the upsampled input ("residual").

    The sampler adds cond back for "residual" (sample.sample_group); the two must agree.
    """
    return x0 - cond if target == "residual" else x0


def draw_gamma(alpha_bar: torch.Tensor, batch: int, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", top_share: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (t, gamma), each shape (batch,): t uniform in 1..T, gamma uniform in [alpha_bar_t, alpha_bar_{t-1}].

    top_share > 0: each t is T (the noisiest level, where a one-step sampler starts) with that
    probability, else uniform; 0 draws exactly as before (no extra random numbers).
    """
    num_steps = len(alpha_bar) - 1
    t = torch.randint(1, num_steps + 1, (batch,), generator=generator, device=device)
    if top_share > 0:
        top = torch.rand(batch, generator=generator, device=device) < top_share
        t = torch.where(top, torch.full_like(t, num_steps), t)
    u = torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
    table = alpha_bar.to(device)
    gamma = table[t] + u * (table[t - 1] - table[t])
    return t, gamma


def add_noise(x0: torch.Tensor, gamma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Return x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps; gamma has shape (B,), images (B, C, ...)."""
    shape = (-1,) + (1,) * (x0.dim() - 1)
    g = gamma.to(torch.float64).view(shape)  # float64: 1 - gamma loses digits in float32 near gamma = 1
    return g.sqrt().to(x0.dtype) * x0 + (1 - g).sqrt().to(x0.dtype) * eps


def predict_x0(x_t: torch.Tensor, gamma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Return the x0 implied by x_t and a noise estimate (add_noise solved for x0)."""
    shape = (-1,) + (1,) * (x_t.dim() - 1)
    g = gamma.to(torch.float64).view(shape)
    return ((x_t.double() - (1 - g).sqrt() * eps.double()) / g.sqrt()).to(x_t.dtype)


def snr_weight(gamma: torch.Tensor, cap: float, floor: float = 0.0, norm: str = "l1") -> torch.Tensor:
    """Return the per-sample weight (B,) of the noise loss that weighs x0 errors as at SNR clamped to [floor, cap].

    A noise error is an x0 error times sqrt(SNR), SNR = gamma / (1 - gamma), so the plain eps loss
    weighs x0 errors by SNR (l2) or sqrt(SNR) (l1): the nearly clean levels, where the noise can
    hardly be told from the image, dominate the gradient, and the noisiest levels, where the x0
    estimate is a point estimate from the condition alone, hardly count. The weight
    clamp(SNR, floor, cap) / SNR (l2, its square root for l1) caps the first (Min-SNR-gamma,
    Hang et al. 2023) and lifts the second. cap <= 0 and floor <= 0 switch either end off.
    """
    if cap <= 0 and floor <= 0:
        return torch.ones_like(gamma, dtype=torch.float32)
    g = gamma.to(torch.float64)
    snr = g / (1 - g).clamp(min=1e-12)
    clamped = snr.clamp(min=floor if floor > 0 else None, max=cap if cap > 0 else None)
    ratio = clamped / snr
    return (ratio.sqrt() if norm == "l1" else ratio).float()


def diffusion_loss(net, x0: torch.Tensor, cond: torch.Tensor, alpha_bar: torch.Tensor,
                   generator: torch.Generator | None = None, norm: str = "l1",
                   min_snr: float = 0.0, snr_floor: float = 0.0, top_share: float = 0.0) -> torch.Tensor:
    """Return the per-sample loss, shape (B,): mean |net(x_t, cond, s) - eps|^p over pixels.

    x0, cond: (B, 1, H, W) normalised HR target and upsampled condition; min_snr and snr_floor
    weight each sample by snr_weight (both 0: the paper's unweighted loss); top_share: draw_gamma's.
    """
    batch = x0.shape[0]
    _, gamma = draw_gamma(alpha_bar, batch, generator, x0.device, top_share)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = add_noise(x0, gamma, eps)
    eps_pred = net(x_t, cond, noise_input(gamma)).float()
    error = (eps_pred - eps).abs() if norm == "l1" else (eps_pred - eps) ** 2
    return error.flatten(1).mean(dim=1) * snr_weight(gamma, min_snr, snr_floor, norm).to(error.device)


def regression_loss(net, x0: torch.Tensor, cond: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """Return the per-sample loss, shape (B,), of a network predicting x0 from cond in one pass.

    net is called like the noise predictor, net(x_t, cond, s), with x_t = 0 and s = 0 (a
    regression network ignores both). x0, cond: (B, 1, H, W).
    """
    pred = net(torch.zeros_like(x0), cond, torch.zeros(x0.shape[0], device=x0.device)).float()
    error = (pred - x0).abs() if norm == "l1" else (pred - x0) ** 2
    return error.flatten(1).mean(dim=1)
