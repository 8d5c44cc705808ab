"""Checkpoints: plain state_dicts plus the network's constructor arguments and the resolved config."""
from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

import torch

from utils.atomic import atomic_write_bytes
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


def differing_keys(a: dict, b: dict) -> list[str]:
    """Return the keys, sorted, whose values differ between a and b (a key missing from one counts as None there)."""
    return sorted(key for key in set(a) | set(b) if a.get(key) != b.get(key))


def check_same_settings(path: str | Path, what: str, section: str, stored: dict, expected: dict) -> None:
    """Raise when stored settings differ from the config's, listing every differing `section.key`.

    what names the kind of difference in the message, e.g. "model" or "diffusion setting".
    """
    differing = differing_keys(stored, expected)
    if differing:
        details = ", ".join(f"{section}.{k}: checkpoint {stored.get(k)!r} vs config {expected.get(k)!r}"
                            for k in differing)
        raise DataError(f"checkpoint '{path}' was trained with a different {what} ({details})")


def mixed_weights(own: dict, other: dict, share: float) -> dict:
    """Return the state dict (1 - share) own + share other, tensor by tensor; integer tensors keep own's values.

    Both come from one network (same keys and shapes), e.g. a fine-tuned run and the checkpoint it
    started from: weights fine-tuned from a start stay in its basin, so the line between them holds
    networks that predict in between (docs/BENCHMARKS.md 9w).
    """
    return {key: torch.lerp(value, other[key].to(value), share) if value.is_floating_point() else value
            for key, value in own.items()}


def checkpoint_path(cfg) -> Path:
    """Return sampling.checkpoint, or run.dir/checkpoints/last.pt when it is empty."""
    return Path(cfg.sampling.checkpoint or Path(cfg.run.dir) / "checkpoints" / "last.pt")
