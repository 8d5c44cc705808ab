"""The noise predictor phi(c, x_t, gamma) built around any network F(x_t, cond, s).

With skip=True:  eps_hat = sqrt(1 - gamma) * x_t + sqrt(gamma) * F(x_t, cond, s).
At pure noise (gamma -> 0) x_t is almost all noise, so the skip carries it to the output and
F only has to supply the small correction sqrt(gamma) * (...); then x0_hat = sqrt(gamma) x_t -
sqrt(1 - gamma) F, and an error in F is no longer amplified by 1 / sqrt(gamma) (~156 at t = T)
as it is when F must reproduce eps on its own. It is the v-parametrisation of Salimans & Ho
(2022) expressed as an eps predictor, so the loss (loss.py) and the sampler (ddim.py) are
unchanged. skip=False is the plain eps network of SR3 and MD Diffusion.
"""
from __future__ import annotations

import torch
from torch import nn

from diffusion.schedule import gamma_from_noise_input


class NoisePredictor(nn.Module):
    """Wraps F(x_t, cond, s) so that forward returns eps_hat; s is noise_input(gamma), shape (B,)."""

    def __init__(self, net: nn.Module, skip: bool = True):
        super().__init__()
        self.net = net
        self.skip = skip

    def forward(self, x_t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        out = self.net(x_t, cond, s)
        if not self.skip:
            return out
        gamma = gamma_from_noise_input(s).view(-1, *(1,) * (x_t.dim() - 1))
        return (1 - gamma).sqrt().to(out.dtype) * x_t.to(out.dtype) + gamma.sqrt().to(out.dtype) * out
