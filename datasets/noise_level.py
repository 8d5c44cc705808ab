"""The white-noise variance of a section, measured from its own 2-D spectrum.

Seismic signal occupies part of the frequency-wavenumber plane (a band in time frequency, a cone of
limited dips across traces); white noise spreads evenly over all of it. A low quantile of the
smoothed 2-D power spectrum therefore sits on the noise as long as a few percent of the plane are
free of signal, which holds for band-limited, anti-aliased and even resampled sections
(docs/BENCHMARKS.md 9q: within 15 % of the true variance under white, coloured and heavy noise on
seven real sections). Where signal fills nearly the whole plane, as after decimation without an
anti-alias filter, the estimate sits on signal and comes out high (2 to 30 times a 5 % noise's
variance there); coloured noise counts only at its weakest level. Arrays are (time, trace).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.stats import gamma

SMOOTH_BINS = 5  # running mean over SMOOTH_BINS x SMOOTH_BINS bins of the 2-D power spectrum
QUANTILE = 0.02  # the noise floor: this quantile of the smoothed power over the whole plane


def white_noise_variance(section: np.ndarray) -> float:
    """Return the variance per sample of the white noise in section (time, trace), from its 2-D spectrum's floor.

    The power is normalised so that white noise of variance s2 has mean power s2 in every bin. A
    mean over SMOOTH_BINS**2 bins of such noise is gamma-distributed, so its low quantile lies below
    its mean by a known factor, which is divided out.
    """
    x = np.asarray(section, dtype=np.float64)
    x = x - x.mean()
    power = np.abs(np.fft.fft2(x)) ** 2 / max(x.size, 1)
    smooth = uniform_filter(power, size=min(SMOOTH_BINS, *x.shape), mode="wrap")
    n = min(SMOOTH_BINS, *x.shape) ** 2
    return float(np.quantile(smooth, QUANTILE)) / (gamma.ppf(QUANTILE, a=n) / n)
