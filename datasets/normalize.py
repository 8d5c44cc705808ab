"""Per-section amplitude normalisation with statistics taken from the LR input only.

The statistics (center, scale) of a section are computed once on the whole LR image, before
any patch is cut, and then applied to both the condition and the target. At inference there
is no target, so taking statistics from the HR would make training and inference disagree.
"""
from __future__ import annotations

import numpy as np

from utils.errors import DataError


def section_stats(lr: np.ndarray, scheme: str, source: str = "section") -> tuple[float, float]:
    """Return (center, scale) of an LR section: mean/std for zscore, mid-range/half-range for minmax.

    source names the section (its file) in the error raised for a constant or non-finite one.
    """
    lr = np.asarray(lr, dtype=np.float64)
    if scheme == "zscore":
        center, scale = lr.mean(), lr.std()
    elif scheme == "minmax":
        low, high = lr.min(), lr.max()
        center, scale = (high + low) / 2, (high - low) / 2
    else:
        raise ValueError(f"unknown normalisation {scheme!r}")
    if not np.isfinite(scale) or scale <= 0:
        raise DataError(f"{source}: section is constant or not finite (scale {scale}); cannot normalise it")
    return float(center), float(scale)


def normalize(x: np.ndarray, stats: tuple[float, float], clip: float = 0.0) -> np.ndarray:
    """Return (x - center) / scale as float32, clipped to +-clip when clip > 0."""
    center, scale = stats
    y = ((np.asarray(x, dtype=np.float64) - center) / scale).astype(np.float32)
    return np.clip(y, -clip, clip) if clip > 0 else y


def denormalize(y: np.ndarray, stats: tuple[float, float]) -> np.ndarray:
    """Return y * scale + center as float32: the exact inverse of normalize (before clipping)."""
    center, scale = stats
    return (np.asarray(y, dtype=np.float64) * scale + center).astype(np.float32)


def clip_for(scheme: str, zscore_clip: float) -> float:
    """Return the clip level used with a scheme (minmax output is already within [-1, 1])."""
    return zscore_clip if scheme == "zscore" else 0.0
