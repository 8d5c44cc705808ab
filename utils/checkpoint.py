"""Checkpoints: plain state_dicts plus the model's constructor arguments and the resolved config."""
from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

import torch

from datasets.dat_io import atomic_write_bytes
from utils.errors import DataError


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write state atomically: a reader sees the previous file or the complete new one."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Return the checkpoint dict, loaded with weights_only=True (no code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint '{path}' does not exist: train first (python train.py ...) "
                        f"or set sampling.checkpoint")
    try:
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols; the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise DataError(f"checkpoint '{path}' is damaged or holds objects other than tensors and plain data; "
                        f"refused (checkpoints load with weights_only=True, so nothing in them runs)") from None
    except Exception as err:  # a damaged file can fail anywhere inside torch.load (IndexError, KeyError, ...)
        raise DataError(f"checkpoint '{path}' is damaged or not a checkpoint "
                        f"({type(err).__name__}: {(str(err).splitlines() or [''])[0][:120]})") from None
    missing = {"model", "model_args", "config", "step"} - set(state if isinstance(state, dict) else {})
    if missing:
        raise DataError(f"checkpoint '{path}' lacks {sorted(missing)}; was it written by train.py?")
    return state


def check_model_args(path: str | Path, stored: dict, expected: dict) -> None:
    """Raise when a checkpoint's model arguments differ from the config's, listing the keys."""
    differing = sorted(k for k in set(stored) | set(expected) if stored.get(k) != expected.get(k))
    if differing:
        details = ", ".join(f"model.{k}: checkpoint {stored.get(k)!r} vs config {expected.get(k)!r}"
                            for k in differing)
        raise DataError(f"checkpoint '{path}' was trained with a different model ({details})")


def checkpoint_path(cfg) -> Path:
    """Return sampling.checkpoint, or run.dir/checkpoints/last.pt when it is empty."""
    return Path(cfg.sampling.checkpoint or Path(cfg.run.dir) / "checkpoints" / "last.pt")


def noise_predictor_args(cfg) -> dict:
    """Return everything that rebuilds the noise predictor: the U-Net's arguments and diffusion.eps_skip."""
    m = cfg.model
    return dict(base_channels=m.base_channels, channel_mults=list(m.channel_mults), num_res_blocks=m.num_res_blocks,
                dropout=m.dropout, norm_groups=m.norm_groups, dims=m.dims, eps_skip=cfg.diffusion.eps_skip)


def build_noise_predictor(args: dict):
    """Return NoisePredictor(UNet(...)) from noise_predictor_args' dict (the one stored in checkpoints)."""
    from diffusion.noise_predictor import NoisePredictor
    from models.unet import UNet

    unet_args = {k: v for k, v in args.items() if k != "eps_skip"}
    return NoisePredictor(UNet(**unet_args), skip=args["eps_skip"])


def load_trained_model(path: str | Path, device: torch.device, use_ema: bool = True):
    """Return (noise predictor in eval mode, the training Config stored in the checkpoint, step)."""
    from utils.config import config_from_dict

    state = load_checkpoint(path, map_location=device)
    net = build_noise_predictor(state["model_args"])
    try:
        net.load_state_dict(state["ema" if use_ema else "model"])
    except RuntimeError as err:
        raise DataError(f"checkpoint '{path}' does not match its own model arguments "
                        f"({str(err).splitlines()[0][:120]})") from None
    return net.to(device).eval().requires_grad_(False), config_from_dict(state["config"]), state["step"]
