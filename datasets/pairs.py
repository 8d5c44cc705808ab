"""Paired LR/HR data: matching by stem, the train/val/test split, and in-memory patch batches.

Tensors leave this module as (B, 1, H, W) float32 with H = time and W = trace, normalised
with statistics of each section's LR input (datasets/normalize.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from datasets.condition import upsample
from datasets.dat_io import read_dat
from datasets.degrade import degrade
from datasets.normalize import clip_for, normalize, section_stats
from utils.atomic import atomic_write_bytes
from utils.errors import DataError

SPLIT_NAMES = ("train", "val", "test")


def list_stems(folder: str | Path, role: str) -> list[str]:
    """Return the sorted .dat stems in folder; role ('LR' or 'HR') names it in errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{role} folder '{folder}' does not exist (set data.{role.lower()}_dir)")
    return sorted(p.stem for p in folder.glob("*.dat"))


def find_pairs(lr_dir: str | Path, hr_dir: str | Path) -> list[str]:
    """Return the stems present in both folders; raise if either folder is empty or stems are unpaired."""
    lr, hr = set(list_stems(lr_dir, "LR")), set(list_stems(hr_dir, "HR"))
    if not lr or not hr:
        empty = lr_dir if not lr else hr_dir
        raise DataError(f"folder '{empty}' holds no .dat files (set data.lr_dir / data.hr_dir, "
                        f"or run python -m datasets.synthetic)")
    for missing, have, where in ((lr - hr, "LR", hr_dir), (hr - lr, "HR", lr_dir)):
        if missing:
            first = ", ".join(sorted(missing)[:5])
            raise DataError(f"{len(missing)} {have} files have no partner in '{where}' "
                            f"(first: {first})")
    return sorted(lr)


def make_split(stems: list[str], fractions: list[float], seed: int) -> dict[str, list[str]]:
    """Return {train, val, test} lists of stems: a seeded shuffle cut by fractions, each list sorted."""
    order = np.random.default_rng(seed).permutation(len(stems))
    shuffled = [sorted(stems)[i] for i in order]
    n_val = int(round(fractions[1] * len(stems)))
    n_test = int(round(fractions[2] * len(stems)))
    n_train = len(stems) - n_val - n_test
    if n_train <= 0:
        raise DataError(f"{len(stems)} pairs leave no training files with data.split={fractions}")
    cuts = [shuffled[:n_train], shuffled[n_train:n_train + n_val], shuffled[n_train + n_val:]]
    return {name: sorted(part) for name, part in zip(SPLIT_NAMES, cuts)}


def load_or_make_split(run_dir: str | Path, stems: list[str], fractions: list[float],
                       seed: int) -> dict[str, list[str]]:
    """Return the run's split: run_dir/split.json when it exists, else a new one written there.

    Reusing the file keeps held-out stems held out even if the data folder later grows.
    """
    path = Path(run_dir) / "split.json"
    if path.exists():
        try:
            split = json.loads(path.read_text())
            parts = {name: list(split[name]) for name in SPLIT_NAMES}
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError(f"{path}: not a valid split file (expected keys {SPLIT_NAMES}); "
                            f"delete it to make a new split") from None
        gone = sorted(set().union(*parts.values()) - set(stems))
        if gone:
            raise DataError(f"{path}: {len(gone)} stems are no longer in the data folders "
                            f"(first: {', '.join(gone[:5])})")
        return parts
    parts = make_split(stems, fractions, seed)
    atomic_write_bytes(path, json.dumps(parts, indent=1).encode())
    return parts


def read_split(run_dir: str | Path) -> dict[str, list[str]]:
    """Return run_dir/split.json written by train.py; raise with a hint when it is missing."""
    path = Path(run_dir) / "split.json"
    if not path.exists():
        raise DataError(f"{path} does not exist: run train.py with the same run.dir first")
    try:
        split = json.loads(path.read_text())
        return {name: list(split[name]) for name in SPLIT_NAMES}
    except (json.JSONDecodeError, KeyError, TypeError):
        raise DataError(f"{path}: not a valid split file (expected keys {SPLIT_NAMES})") from None


def read_sections(folder: str | Path, stems: list[str], shape: list[int]) -> np.ndarray:
    """Return the sections of `stems` in folder as one (N, time, trace) float32 array."""
    out = np.empty((len(stems), shape[1], shape[0]), dtype=np.float32)
    for i, stem in enumerate(stems):
        path = Path(folder) / f"{stem}.dat"
        out[i] = read_dat(path, shape)
        if not np.isfinite(out[i]).all():
            raise DataError(f"{path}: contains NaN or Inf values")
    return out


@dataclass
class NormalisedPairs:
    """Whole sections, normalised with their LR statistics: what training and evaluation consume."""

    cond: dict[str, np.ndarray]  # upsample mode -> (N, H, W) normalised condition on the HR grid
    x0: np.ndarray  # (N, H, W) normalised HR target
    stats: np.ndarray  # (N, 2) center and scale of each section's LR


def normalise_pairs(lr: np.ndarray, hr: np.ndarray, data_cfg, modes: list[str] | None = None,
                    names: list[str] | None = None) -> NormalisedPairs:
    """Return NormalisedPairs for LR (N, h, w) and HR (N, 2h, 2w) with statistics from LR only.

    names (one per section, e.g. file paths) are quoted when a section cannot be normalised.
    """
    modes = modes or data_cfg.upsample_modes
    clip = clip_for(data_cfg.normalization, data_cfg.zscore_clip)
    names = names or [f"section {i}" for i in range(len(lr))]
    stats = np.array([section_stats(x, data_cfg.normalization, n) for x, n in zip(lr, names)], dtype=np.float64)
    lr_n = np.stack([normalize(x, s, clip) for x, s in zip(lr, stats)])
    x0 = np.stack([normalize(x, s, clip) for x, s in zip(hr, stats)])
    cond = {m: upsample(torch.from_numpy(lr_n)[:, None], m)[:, 0].numpy() for m in modes}
    return NormalisedPairs(cond=cond, x0=x0, stats=stats)


def augment_patch(patch: np.ndarray, flip_time: bool, flip_trace: bool, quarter_turns: int) -> np.ndarray:
    """Return patch (..., H, W) flipped and rotated; the same call is applied to cond and x0."""
    if flip_time:
        patch = patch[..., ::-1, :]
    if flip_trace:
        patch = patch[..., :, ::-1]
    return np.rot90(patch, quarter_turns, axes=(-2, -1))


def cut_patch(rng: np.random.Generator, cond: np.ndarray, x0: np.ndarray, size: int,
              augment: str) -> np.ndarray:
    """Return (2, size, size): cond and x0 cut at one random place and augmented alike (data.augment)."""
    top, left = rng.integers(x0.shape[0] - size + 1), rng.integers(x0.shape[1] - size + 1)
    both = np.stack([cond[top:top + size, left:left + size], x0[top:top + size, left:left + size]])
    if augment == "none":
        return both
    flips = rng.integers(2, size=2)
    # Quarter turns swap time and trace; seismic sections are not isotropic, so only on request.
    turns = int(rng.integers(4)) if augment == "flips_rot90" else 0
    return augment_patch(both, bool(flips[0]), bool(flips[1]), turns)


def stack_patches(patches: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (x0, cond), each (batch, 1, P, P) float32, from cut_patch's (2, P, P) arrays."""
    both = torch.from_numpy(np.ascontiguousarray(np.stack(patches)))
    return both[:, 1:2].contiguous(), both[:, 0:1].contiguous()


class RandomStream:
    """A sampler's numpy Generator, whose state goes into checkpoints so that a resumed run continues it."""

    rng: np.random.Generator

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def reseed(self, seed: list[int]) -> None:
        """Start a new random stream (a resumed torchrun rank: streams from (seed, rank, step))."""
        self.rng = np.random.default_rng(seed)


class PatchSampler(RandomStream):
    """Draws fresh random training patches from whole sections held in memory.

    Owns a numpy Generator (its state goes into checkpoints, so a resumed run continues the
    same stream). With data.source = degrade, the LR of every draw is made anew from the HR.
    """

    def __init__(self, hr: np.ndarray, lr: np.ndarray | None, data_cfg, degradation_cfg, seed: int,
                 names: list[str] | None = None):
        self.cfg, self.degradation_cfg = data_cfg, degradation_cfg
        self.hr = hr
        self.names = names or [f"section {i}" for i in range(len(hr))]
        self.rng = np.random.default_rng(seed)
        self.pairs = normalise_pairs(lr, hr, data_cfg, names=self.names) if data_cfg.source == "pairs" else None

    def _one_section(self, index: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (cond, x0) of one whole section: the stored pair, or an LR made anew by the forward model.

        With data.source = pairs, data.degrade_fraction of the draws still remake the LR from the
        HR (the generator's own LR recipe and the forward model's, side by side).
        """
        remake = self.pairs is None or (self.cfg.degrade_fraction > 0 and self.rng.random() < self.cfg.degrade_fraction)
        if not remake:
            return self.pairs.cond[mode][index], self.pairs.x0[index]
        lr = degrade(self.hr[index], self.rng, self.degradation_cfg)
        fresh = normalise_pairs(lr[None], self.hr[index][None], self.cfg, [mode], [self.names[index]])
        return fresh.cond[mode][0], fresh.x0[0]

    def draw(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (x0, cond), each (batch, 1, P, P) float32, P = data.patch_size."""
        patches = []
        for _ in range(batch):
            index = int(self.rng.integers(len(self.hr)))
            mode = self.cfg.upsample_modes[int(self.rng.integers(len(self.cfg.upsample_modes)))]
            cond, x0 = self._one_section(index, mode)
            patches.append(cut_patch(self.rng, cond, x0, self.cfg.patch_size, self.cfg.augment))
        return stack_patches(patches)

