"""Zero-phase filtering along time, shared by the samplers' post-processing and the benchmarks (time is axis -2),
the band-limited half-sample shift that moves a section between cell-centred and sample-aligned grids, and the
band-limited time stretch that makes fine-tuning targets sampled more finely."""
from __future__ import annotations

import numpy as np


def filter_time(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Return x (..., time, trace) with its time spectrum multiplied by gain (time // 2 + 1 real values), float64.

    Real gains filter without moving anything in time; the section is treated as periodic in time.
    """
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64), axis=-2)
    return np.fft.irfft(spectrum * np.asarray(gain, dtype=np.float64)[:, None], n=x.shape[-2], axis=-2)


def best_time_gain(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return the real gain per time frequency (time // 2 + 1 values) that brings x (time, trace) closest to target.

    Each frequency's gain is the least-squares fit of target's spectrum by x's, over all traces. A
    frequency where x holds only rounding (below 1e-12 of its strongest) gets gain 0.
    """
    have = np.fft.rfft(np.asarray(x, dtype=np.float64), axis=-2)
    want = np.fft.rfft(np.asarray(target, dtype=np.float64), axis=-2)
    energy = (np.abs(have) ** 2).sum(axis=-1)
    fit = np.real(np.conj(have) * want).sum(axis=-1)
    floor = 1e-12 * float(energy.max(initial=0.0)) + np.finfo(np.float64).tiny
    return np.where(energy > floor, fit / np.maximum(energy, floor), 0.0)


def best_time_filter(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return x (time, trace) filtered by best_time_gain(x, target).

    It needs the target, so it is no method: it is the ceiling of every zero-phase filter along
    time applied to x (e.g. to an interpolated input) and tells how much of a gap such filtering
    could close at all.
    """
    return filter_time(x, best_time_gain(x, target))


def mirrored_period(x: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Return x mirrored about its edges by n/2 samples on each side along axis (2n samples), and n/2.

    The 2n samples are one period of the mirrored signal, so an FFT over them meets no jump at the wrap.
    """
    n = x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (n // 2, n - n // 2)
    return np.pad(x, widths, mode="symmetric"), n // 2


def shift_half_sample(x: np.ndarray, axis: int) -> np.ndarray:
    """Return x evaluated at index m + 0.5 along axis by band-limited (FFT phase-ramp) interpolation.

    The mirror lies half a sample outside the edges (mirrored_period), which suits a cell-centred grid.
    """
    n = x.shape[axis]
    padded, left = mirrored_period(x, axis)
    ramp_shape = [1] * x.ndim
    ramp_shape[axis] = -1
    freq = np.fft.rfftfreq(2 * n).reshape(ramp_shape)           # cycles per sample
    spectrum = np.fft.rfft(padded, axis=axis) * np.exp(2j * np.pi * freq * 0.5)
    shifted = np.fft.irfft(spectrum, n=2 * n, axis=axis)
    return np.take(shifted, np.arange(left, left + n), axis=axis)


def stretch_time(x: np.ndarray, factor: float) -> np.ndarray:
    """Return x (time, trace) sampled `factor` (>= 1) times more finely in time, by band-limited interpolation.

    The content keeps its duration and waveforms; only the sample interval shrinks, so the band
    ends at 1 / factor of the new Nyquist: the section as a finer recording would hold it. Output
    length round(time x factor), float64.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    padded, left = mirrored_period(x, 0)
    spectrum = np.fft.rfft(padded, axis=0)
    spectrum[-1] *= 0.5                                                # the old Nyquist splits between +-f
    m = int(round(2 * n * factor))
    finer = np.zeros((m // 2 + 1, x.shape[1]), dtype=complex)
    finer[:len(spectrum)] = spectrum
    stretched = np.fft.irfft(finer, n=m, axis=0) * (m / (2 * n))
    start = int(round(left * m / (2 * n)))
    return stretched[start:start + int(round(n * factor))]
