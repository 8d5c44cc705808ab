"""The one loader of held-out pairs (validation or test): stems, LR input, HR target and bicubic baseline.

train.py's validation, sample.py, eval.py, the notebooks and the benchmarks all read held-out
data through `load_heldout`, so each sees the same LR for a stem: read from data.lr_dir, or,
with data.source = degrade, made from the HR with a seed fixed per stem.
Every array is (time, trace) in the file's physical units.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.condition import upsample
from datasets.dat_io import read_dat
from datasets.degrade import degrade
from datasets.pairs import read_sections, read_split
from utils.errors import DataError


@dataclass
class HeldOut:
    stems: list[str]
    lr: list[np.ndarray]  # (time, trace) LR inputs
    hr: list[np.ndarray]  # (2 time, 2 trace) HR targets
    bicubic: list[np.ndarray]  # bicubic upsampling of each LR onto the HR grid


def heldout_lr(stem: str, hr: np.ndarray, data_cfg, degradation_cfg, split_seed: int) -> np.ndarray:
    """Return the LR input of a held-out stem: read from disk, or degraded with a seed fixed per stem."""
    if data_cfg.source == "pairs":
        return read_dat(Path(data_cfg.lr_dir) / f"{stem}.dat", data_cfg.lr_shape)
    seed = [split_seed, *(ord(ch) for ch in stem)]
    return degrade(hr, np.random.default_rng(seed), degradation_cfg)


def load_heldout(cfg, part: str = "test", limit: int | None = None) -> HeldOut:
    """Return the held-out pairs of run.dir/split.json's `part` ("val" or "test"), the first `limit` of them.

    cfg: the Config (data, degradation and run.dir are read).
    """
    stems = read_split(cfg.run.dir)[part][:limit]
    if not stems:
        raise DataError(f"{Path(cfg.run.dir) / 'split.json'} has no {part} stems; "
                        f"raise data.split's {part} fraction")
    hr = list(read_sections(cfg.data.hr_dir, stems, cfg.data.hr_shape))
    lr = [heldout_lr(s, h, cfg.data, cfg.degradation, cfg.data.split_seed) for s, h in zip(stems, hr)]
    bicubic = [upsample(x, "bicubic").numpy() for x in lr]
    return HeldOut(stems=stems, lr=lr, hr=hr, bicubic=bicubic)
