"""Noise schedules and DDIM level sequences: pure functions returning float64 tensors."""
from __future__ import annotations

import math

import torch

LOG_SNR_LIMIT = 20.0  # |log SNR| fed to the network is clipped here (gamma within ~2e-9 of 0 or 1)


def make_betas(num_steps: int, schedule: str, beta_start: float, beta_end: float) -> torch.Tensor:
    """Return beta_1..beta_T, shape (T,).

    linear: evenly spaced from beta_start to beta_end (DDPM, SR3 and MD Diffusion).
    cosine: Nichol & Dhariwal (2021) with s = 0.008, betas capped at 0.999.
    """
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    if schedule == "cosine":
        s = 0.008
        t = torch.linspace(0, 1, num_steps + 1, dtype=torch.float64)
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown beta schedule {schedule!r}; use 'linear' or 'cosine'")


def make_alpha_bar(betas: torch.Tensor) -> torch.Tensor:
    """Return alpha_bar_0..alpha_bar_T, shape (T+1,), with alpha_bar_0 = 1 at the clean end."""
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, dim=0)])


def make_schedule(diffusion_cfg) -> torch.Tensor:
    """Return alpha_bar_0..alpha_bar_T, shape (T+1,), for the config's diffusion section.

    diffusion_cfg: any object with num_steps, beta_schedule, beta_start and beta_end.
    """
    d = diffusion_cfg
    return make_alpha_bar(make_betas(d.num_steps, d.beta_schedule, d.beta_start, d.beta_end))


def alpha_bar_at(t: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Return alpha_bar at real-valued t in [0, T], interpolating log alpha_bar linearly."""
    t = t.to(torch.float64).clamp(0, len(alpha_bar) - 1)
    low = t.floor().long().clamp(max=len(alpha_bar) - 2)
    frac = t - low
    log_ab = alpha_bar.log()
    return torch.exp(log_ab[low] * (1 - frac) + log_ab[low + 1] * frac)


def sampling_times(num_levels: int, num_steps: int, spacing: str) -> torch.Tensor:
    """Return exactly num_levels strictly decreasing real-valued times from T down to 1.

    log: geometric spacing, dense near the clean end (t = 1); linear: even spacing;
    quadratic: even in sqrt(t). Times are not rounded to integers, so no two ever merge.
    """
    if num_levels == 1:
        return torch.tensor([float(num_steps)], dtype=torch.float64)
    u = torch.linspace(1, 0, num_levels, dtype=torch.float64)
    if spacing == "log":
        times = torch.exp(u * math.log(num_steps))
        times[0], times[-1] = num_steps, 1.0  # exact end points despite rounding in exp(log(T))
        return times
    if spacing == "linear":
        return 1 + u * (num_steps - 1)
    if spacing == "quadratic":
        return (1 + u * (math.sqrt(num_steps) - 1)) ** 2
    raise ValueError(f"unknown spacing {spacing!r}; use 'log', 'linear' or 'quadratic'")


def sampling_gammas(alpha_bar: torch.Tensor, num_levels: int, spacing: str) -> torch.Tensor:
    """Return the DDIM levels, shape (num_levels + 1,): gamma at each time, then 1 (clean)."""
    times = sampling_times(num_levels, len(alpha_bar) - 1, spacing)
    return torch.cat([alpha_bar_at(times, alpha_bar), torch.ones(1, dtype=torch.float64)])


def noise_input(gamma: torch.Tensor) -> torch.Tensor:
    """Return what the network is fed for noise level gamma: log(gamma / (1 - gamma)), float32."""
    gamma = gamma.to(torch.float64)
    log_snr = torch.log(gamma) - torch.log1p(-gamma.clamp(max=1 - 1e-12))
    return log_snr.clamp(-LOG_SNR_LIMIT, LOG_SNR_LIMIT).float()


def gamma_from_noise_input(log_snr: torch.Tensor) -> torch.Tensor:
    """Invert noise_input: gamma = sigmoid(s) (models/noise_predictor.py inverts it the same way)."""
    return torch.sigmoid(log_snr.to(torch.float64))
