"""Where the network and the noise parametrisation meet: the model's arguments and its construction.

A checkpoint stores `network_args(...)`; `build_network` rebuilds the same module from that
dict, also from checkpoints written before a key was added (missing keys take their old default).
"""
from __future__ import annotations

import torch
from torch import nn

from models.noise_predictor import NoisePredictor
from models.unet import UNet

UNET_KEYS = ("base_channels", "channel_mults", "num_res_blocks", "dropout", "norm_groups", "dims")
DEFAULTS_OF_OLDER_CHECKPOINTS = {"objective": "diffusion"}  # key -> value it had before the key existed


class Regressor(nn.Module):
    """The U-Net fed the condition alone: forward(x_t, cond, s) returns its HR estimate and ignores x_t and s.

    It shares the noise predictor's call signature, so tiling and batching treat both alike.
    """

    def __init__(self, net: UNet):
        super().__init__()
        self.net = net

    def forward(self, x_t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.net(x_t, cond, torch.zeros_like(s)).float()


def network_args(model_cfg, eps_skip: bool) -> dict:
    """Return the plain dict that rebuilds the network: U-Net sizes and objective from model_cfg, and the eps skip."""
    args = {key: getattr(model_cfg, key) for key in UNET_KEYS}
    args["channel_mults"] = list(args["channel_mults"])
    return {**args, "objective": model_cfg.objective, "eps_skip": eps_skip}


def stored_network_args(args: dict) -> dict:
    """Return a checkpoint's network arguments completed with the defaults of keys added since it was written."""
    return {**DEFAULTS_OF_OLDER_CHECKPOINTS, **args}


def build_network(args: dict) -> nn.Module:
    """Return NoisePredictor(UNet) or Regressor(UNet) for a dict from network_args (as stored in checkpoints)."""
    args = stored_network_args(args)
    unknown = set(args) - set(UNET_KEYS) - {"eps_skip", "objective"}
    if unknown:
        raise ValueError(f"unknown network arguments {sorted(unknown)}; was this checkpoint written by a newer version?")
    unet_args = {key: args[key] for key in UNET_KEYS}
    if args["objective"] == "regression":
        return Regressor(UNet(**unet_args, in_channels=1))
    return NoisePredictor(UNet(**unet_args), skip=args["eps_skip"])
