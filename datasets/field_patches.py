"""Self-supervised training pairs from the user's own field sections, and the mix with synthetic pairs.

A field section has no HR. Treated as the HR of a pair, its LR is made by the forward model
(datasets/degrade.py with degradation.*): time band narrowed, x2 decimated, noise added. The
model then learns to undo F one octave above the data, on the assumption that the geology
looks alike one octave finer. Each training section is degraded `data.field_versions` times
once (different band factors and noise), normalised with the statistics of each LR as a
whole, and patches are cut from those versions at random. With data.field_time_stretch each
version's target is first sampled more finely in time, so that some targets hold their band's
natural decay below the Nyquist, as oversampled records do. Arrays are (time, trace).
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from datasets.degrade import degrade
from datasets.pairs import PatchSampler, RandomStream, cut_patch, normalise_pairs, stack_patches
from utils.errors import DataError
from utils.spectra import stretch_time


def held_out_field_stems(stems: list[str], holdout: list[str]) -> list[str]:
    """Return the field stems kept out of training: data.field_holdout, or the last stem by name."""
    return [s for s in stems if s in holdout] if holdout else sorted(stems)[-1:]


def stretched_target(hr: np.ndarray, rng: np.random.Generator, stretch: list[float]) -> np.ndarray:
    """Return hr sampled a factor drawn from stretch = [min, max] more finely in time (even length, float32).

    [1, 1] returns hr itself and draws nothing, so runs without stretching keep their random streams.
    """
    if stretch[1] <= 1:
        return hr
    finer = stretch_time(hr, float(rng.uniform(stretch[0], stretch[1])))
    return finer[:finer.shape[0] // 2 * 2].astype(np.float32)


class FieldPatchSampler(RandomStream):
    """Draws training patches (x0, cond) from degraded versions of field sections held in memory."""

    def __init__(self, sections: list[np.ndarray], names: list[str], data_cfg, degradation_cfg, seed: int):
        self.cfg = data_cfg
        self.rng = np.random.default_rng(seed)
        self.versions = []  # (cond by upsample mode, x0), each (H, W) normalised
        for section, name in zip(sections, names):
            hr = section[:section.shape[0] // 2 * 2, :section.shape[1] // 2 * 2]
            if min(hr.shape) < data_cfg.patch_size:
                raise DataError(f"{name}: section {hr.shape} (time, trace) is smaller than data.patch_size "
                                f"{data_cfg.patch_size}; lower data.patch_size or leave the section out")
            draws = np.random.default_rng([seed, zlib.crc32(name.encode())])
            for _ in range(data_cfg.field_versions):
                target = stretched_target(hr, draws, data_cfg.field_time_stretch)
                lr = degrade(target, draws, degradation_cfg)
                pairs = normalise_pairs(lr[None], target[None], data_cfg, names=[name])
                self.versions.append(({m: c[0] for m, c in pairs.cond.items()}, pairs.x0[0]))

    def draw(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (x0, cond), each (batch, 1, P, P) float32, P = data.patch_size."""
        patches = []
        for _ in range(batch):
            conds_by_mode, x0 = self.versions[int(self.rng.integers(len(self.versions)))]
            cond = conds_by_mode[self.cfg.upsample_modes[int(self.rng.integers(len(self.cfg.upsample_modes)))]]
            patches.append(cut_patch(self.rng, cond, x0, self.cfg.patch_size, self.cfg.augment))
        return stack_patches(patches)


class MixedSampler:
    """Draws round(batch x fraction) patches from field sections and the rest from synthetic pairs."""

    def __init__(self, synthetic: PatchSampler, field: FieldPatchSampler, fraction: float):
        self.synthetic, self.field, self.fraction = synthetic, field, fraction

    def draw(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        n_field = int(round(batch * self.fraction))
        parts = [sampler.draw(n) for sampler, n in ((self.synthetic, batch - n_field), (self.field, n_field)) if n > 0]
        return torch.cat([x0 for x0, _ in parts]), torch.cat([cond for _, cond in parts])

    def state_dict(self) -> dict:
        return {"synthetic": self.synthetic.state_dict(), "field": self.field.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.synthetic.load_state_dict(state["synthetic"])
        self.field.load_state_dict(state["field"])

    def reseed(self, seed: list[int]) -> None:
        self.synthetic.reseed(seed + [0])
        self.field.reseed(seed + [1])
