"""DDIM sampling (Song et al. 2021, Eq. 12) over any decreasing sequence of noise levels."""
from __future__ import annotations

import math
from typing import Callable

import torch

from diffusion.schedule import noise_input

NoiseSource = Callable[[tuple[int, ...]], torch.Tensor]
X0Transform = Callable[[torch.Tensor, float], torch.Tensor]  # (x0_hat, gamma) -> corrected x0_hat


def per_sample_noise(seeds: list[int], device: torch.device | str = "cpu",
                     signs: list[float] | None = None) -> NoiseSource:
    """Return a noise source whose item i is drawn from its own generator seeded with seeds[i].

    A sample therefore never depends on which other samples share its batch. signs[i] = -1
    negates item i's noise: two items with one seed and opposite signs are an antithetic pair.
    """
    generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    signs = [1.0] * len(seeds) if signs is None else [float(v) for v in signs]

    def randn(shape: tuple[int, ...]) -> torch.Tensor:
        assert shape[0] == len(generators), "one seed per batch item"
        return torch.stack([v * torch.randn(shape[1:], generator=g, device=device)
                            for g, v in zip(generators, signs)])

    return randn


def ddim_step(x_t: torch.Tensor, eps: torch.Tensor, gamma: float, gamma_prev: float, eta: float,
              z: torch.Tensor | None, clip_x0: float = 0.0, x0_fn: X0Transform | None = None) -> torch.Tensor:
    """Return x at level gamma_prev from x_t at level gamma and the predicted noise eps.

    sigma = eta * sqrt((1 - gamma_prev) / (1 - gamma)) * sqrt(1 - gamma / gamma_prev)   (Eq. 16)
    x_prev = sqrt(gamma_prev) x0_hat + sqrt(1 - gamma_prev - sigma^2) eps + sigma z      (Eq. 12)
    clip_x0 clips x0_hat and x0_fn(x0_hat, gamma) corrects it (e.g. data consistency); eps is
    then re-derived from x_t and the corrected x0_hat so that the step stays on its path.
    """
    x0_hat = (x_t - math.sqrt(1 - gamma) * eps) / math.sqrt(gamma)
    if clip_x0 > 0 or x0_fn is not None:
        if clip_x0 > 0:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
        if x0_fn is not None:
            x0_hat = x0_fn(x0_hat, gamma)
        eps = (x_t - math.sqrt(gamma) * x0_hat) / math.sqrt(1 - gamma)
    sigma = eta * math.sqrt((1 - gamma_prev) / (1 - gamma) * (1 - gamma / gamma_prev))
    x_prev = math.sqrt(gamma_prev) * x0_hat + math.sqrt(max(1 - gamma_prev - sigma**2, 0.0)) * eps
    if sigma > 0 and z is not None:
        x_prev = x_prev + sigma * z
    return x_prev


@torch.no_grad()
def sample_ddim(net, cond: torch.Tensor, gammas: torch.Tensor, eta: float = 0.0,
                randn: NoiseSource | None = None, clip_x0: float = 0.0, x0_fn: X0Transform | None = None,
                x_start: torch.Tensor | None = None,
                callback: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """Return x0 samples, shape of cond, by walking the levels gammas[0] > ... > gammas[-1] = 1.

    net(x_t, cond, s) predicts eps, with s from diffusion.schedule.noise_input(gamma).
    cond: (B, 1, H, W) normalised condition. gammas: from schedule.sampling_gammas.
    randn(shape) supplies all randomness (defaults to torch.randn); x_start replaces the
    initial noise; x0_fn corrects each step's x0 estimate (see ddim_step). callback(i, x) sees
    the state after step i.
    """
    if randn is None:
        randn = lambda shape: torch.randn(shape, device=cond.device)  # noqa: E731
    x = randn(tuple(cond.shape)).to(cond.device) if x_start is None else x_start
    levels = gammas.tolist()
    batch = cond.shape[0]
    for i, (gamma, gamma_prev) in enumerate(zip(levels[:-1], levels[1:])):
        s = noise_input(torch.full((batch,), gamma, dtype=torch.float64)).to(cond.device)
        eps = net(x, cond, s).float()
        # No fresh noise on the last step: gamma_prev = 1 makes sigma zero anyway.
        z = randn(tuple(x.shape)).to(x.device) if eta > 0 and gamma_prev < 1 else None
        x = ddim_step(x, eps, gamma, gamma_prev, eta, z, clip_x0, x0_fn)
        if callback is not None:
            callback(i, x)
    return x
