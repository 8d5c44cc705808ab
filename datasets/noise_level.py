"""The white-noise variance of a section, measured from its own 2-D spectrum.

Seismic signal occupies part of the frequency-wavenumber plane (a band in time frequency, a cone of
limited dips across traces); white noise spreads evenly over all of it. A low quantile of the
smoothed 2-D power spectrum therefore sits on the noise as long as a few percent of the plane are
free of signal, which holds for band-limited, anti-aliased and even resampled sections
(docs/BENCHMARKS.md 9q: within 15 % of the true variance under white, coloured and heavy noise on
seven real sections). Where signal fills nearly the whole plane, as after decimation without an
anti-alias filter, the estimate sits on signal and comes out high (2 to 30 times a 5 % noise's
variance there); coloured noise counts only at its weakest level.

Noise that was recorded or resampled with the section passed the same anti-alias filter as the
signal, so the top of the time band is quieter than the noise below it, and a floor over the whole
plane lands there (2 to 30 times too low, docs/BENCHMARKS.md 9r). A second estimate therefore looks
at time-frequency rows between the lowest quarter of the band (swell, statics, ground roll) and its
top fifth (the filter's roll-off): a row that only noise fills has its power spread evenly over
wavenumbers, so its low quantile comes close to its mean, and the median floor of such rows is the
noise under the filter. The larger of the two estimates is taken; with too few such rows (a section
whose signal fills the band) it is the plane's floor alone. Arrays are (time, trace).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.stats import gamma

SMOOTH_BINS = 5  # running mean over SMOOTH_BINS x SMOOTH_BINS bins of the 2-D power spectrum
QUANTILE = 0.02  # the noise floor: this quantile of the smoothed power over the whole plane
ROW_BAND = (0.25, 0.8)  # time frequencies searched for noise-only rows, fractions of the Nyquist
ROW_WAVENUMBERS = 0.8  # and the wavenumbers they are measured over (a trace-axis filter may quiet the rest)
ROW_SMOOTH = (3, 5)  # running mean over time-frequency x wavenumber bins before a row's quantile
ROW_QUANTILE = 0.1  # a row's floor: this quantile of its smoothed power over wavenumbers
NOISE_ONLY = 0.45  # a row is noise-only when its floor is at least this share of its mean power
MIN_ROWS = 0.05  # and the estimate needs this share of the searched rows (at least 3) to be noise-only


def power_2d(section: np.ndarray) -> np.ndarray:
    """Return the 2-D power spectrum of section (time, trace), scaled so white noise of variance s2 has mean s2 per bin."""
    x = np.asarray(section, dtype=np.float64)
    x = x - x.mean()
    return np.abs(np.fft.fft2(x)) ** 2 / max(x.size, 1)


def _gamma_low_quantile(q: float, n: int) -> float:
    """Return how far below its mean the q-quantile of a mean of n exponential (white-noise power) bins lies, as a factor."""
    return float(gamma.ppf(q, a=n) / n)


def plane_floor_variance(section: np.ndarray) -> float:
    """Return the white-noise variance of section (time, trace) from the floor of its whole 2-D spectrum.

    A mean over SMOOTH_BINS**2 bins of white-noise power is gamma-distributed, so its low quantile
    lies below its mean by a known factor, which is divided out.
    """
    return _plane_floor(power_2d(section))


def _plane_floor(power: np.ndarray) -> float:
    side = min(SMOOTH_BINS, *power.shape)
    smooth = uniform_filter(power, size=side, mode="wrap")
    return float(np.quantile(smooth, QUANTILE)) / _gamma_low_quantile(QUANTILE, side * side)


def noise_only_rows_variance(section: np.ndarray) -> float:
    """Return the noise variance of section (time, trace) from the time-frequency rows that only noise fills; 0 when too few.

    Rows are searched in ROW_BAND of the time Nyquist, each measured over wavenumbers up to
    ROW_WAVENUMBERS of the trace Nyquist: a row whose floor (ROW_QUANTILE of its smoothed power, the
    gamma factor divided out) is at least NOISE_ONLY of its mean power holds no signal to speak of.
    """
    return _noise_only_rows(power_2d(section))


def _noise_only_rows(power: np.ndarray) -> float:
    n_time, n_trace = power.shape
    rows = np.arange(n_time // 2 + 1)
    wavenumber = np.abs(np.fft.fftfreq(n_trace)) / 0.5
    power = power[np.ix_(rows, wavenumber <= ROW_WAVENUMBERS)]
    size = (min(ROW_SMOOTH[0], power.shape[0]), min(ROW_SMOOTH[1], power.shape[1]))
    smooth = uniform_filter(power, size=size, mode=("nearest", "wrap"))
    floor = np.quantile(smooth, ROW_QUANTILE, axis=1) / _gamma_low_quantile(ROW_QUANTILE, size[0] * size[1])
    frequency = rows / max(len(rows) - 1, 1)
    searched = (frequency >= ROW_BAND[0]) & (frequency <= ROW_BAND[1])
    noise_only = searched & (floor >= NOISE_ONLY * smooth.mean(axis=1))
    if noise_only.sum() < max(3, MIN_ROWS * searched.sum()):
        return 0.0
    return float(np.median(floor[noise_only]))


def white_noise_variance(section: np.ndarray, from_rows: bool = True) -> float:
    """Return the variance per sample of the noise in section (time, trace): the larger of the two floors above.

    The power is normalised so that white noise of variance s2 has mean power s2 in every bin.
    from_rows false: the whole plane's floor alone (sampling.noise_from_rows, as before docs/BENCHMARKS.md 9r).
    """
    return noise_variance_of_power(power_2d(section), from_rows)  # one transform for both estimates


def noise_variance_of_power(power: np.ndarray, from_rows: bool = True) -> float:
    """Return white_noise_variance from a section's power_2d, for a caller that needs the power too."""
    return max(_plane_floor(power), _noise_only_rows(power) if from_rows else 0.0)
