"""Where the network and the noise parametrisation meet: the model's arguments and its construction.

A checkpoint stores `network_args(...)`; `build_network` rebuilds the same module from that
dict, also from checkpoints written before a key was added (missing keys take their old default).
"""
from __future__ import annotations

from models.noise_predictor import NoisePredictor
from models.unet import UNet

UNET_KEYS = ("base_channels", "channel_mults", "num_res_blocks", "dropout", "norm_groups", "dims")
DEFAULTS_OF_OLDER_CHECKPOINTS: dict = {}  # key -> value it had before the key existed


def network_args(model_cfg, eps_skip: bool) -> dict:
    """Return the plain dict that rebuilds the network: U-Net sizes from model_cfg and the eps skip."""
    args = {key: getattr(model_cfg, key) for key in UNET_KEYS}
    args["channel_mults"] = list(args["channel_mults"])
    return {**args, "eps_skip": eps_skip}


def build_network(args: dict) -> NoisePredictor:
    """Return NoisePredictor(UNet(...)) for a dict from network_args (the one stored in checkpoints)."""
    args = {**DEFAULTS_OF_OLDER_CHECKPOINTS, **args}
    unknown = set(args) - set(UNET_KEYS) - {"eps_skip"}
    if unknown:
        raise ValueError(f"unknown network arguments {sorted(unknown)}; was this checkpoint written by a newer version?")
    return NoisePredictor(UNet(**{key: args[key] for key in UNET_KEYS}), skip=args["eps_skip"])
