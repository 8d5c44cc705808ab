"""Zero-phase filtering along time, shared by the samplers' post-processing (time is axis -2)."""
from __future__ import annotations

import numpy as np


def filter_time(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Return x (..., time, trace) with its time spectrum multiplied by gain (time // 2 + 1 real values), float64.

    Real gains filter without moving anything in time; the section is treated as periodic in time.
    """
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64), axis=-2)
    return np.fft.irfft(spectrum * np.asarray(gain, dtype=np.float64)[:, None], n=x.shape[-2], axis=-2)
