"""The noise predictor phi(c, x_t, gamma) built around any network F(x_t, cond, s).

s is the noise level the diffusion code feeds the network: the log signal-to-noise ratio
log(gamma / (1 - gamma)), so gamma = sigmoid(s) (diffusion/schedule.py: noise_input).

With skip=True:  eps_hat = sqrt(1 - gamma) * x_t + sqrt(gamma) * F(x_t, cond, s).
At pure noise (gamma -> 0) x_t is almost all noise, so the skip carries it to the output and
F only has to supply the small correction sqrt(gamma) * (...); then x0_hat = sqrt(gamma) x_t -
sqrt(1 - gamma) F, and an error in F is no longer amplified by 1 / sqrt(gamma) (~156 at t = T)
as it is when F must reproduce eps on its own. It is the v-parametrisation of Salimans & Ho
(2022) expressed as an eps predictor, so the loss and the sampler are unchanged. skip=False is
the plain eps network of SR3 and MD Diffusion.
"""
from __future__ import annotations

import torch
from torch import nn


class NoisePredictor(nn.Module):
    """Wraps F(x_t, cond, s) so that forward returns eps_hat in float32; s has shape (B,)."""

    def __init__(self, net: nn.Module, skip: bool = True):
        super().__init__()
        self.net = net
        self.skip = skip

    def forward(self, x_t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        out = self.net(x_t, cond, s).float()
        if not self.skip:
            return out
        # The two terms are combined in float32 even under bf16 autocast: x_t's rounding error
        # would otherwise reach x0_hat divided by sqrt(gamma) (~157 at t = T).
        with torch.autocast(device_type=x_t.device.type, enabled=False):
            gamma = torch.sigmoid(s.double()).view(-1, *(1,) * (x_t.dim() - 1))
            return (1 - gamma).sqrt().float() * x_t.float() + gamma.sqrt().float() * out
