"""Spectrum floor: the prediction's time spectrum is not left far below the interpolated input's.

A one-step prediction is close to a conditional mean, and a mean carries less energy than the
truth wherever the model is unsure (the energy it lacks is its own error). Where a band of the
input holds only noise or interpolation images, for instance a band the degradation removed and
then buried in noise, the model cleans it out and leaves the band emptier than plain
interpolation does, while the truth there is far stronger than both: the log-spectral distance
then counts against the model although neither answer holds the band's content
(docs/BENCHMARKS.md 9f). The interpolated input is the one energy reference at hand, so along
time frequency f the prediction is raised toward it where it falls below, by one zero-phase gain

    g(f) = clip(|interpolated|(f) / |prediction|(f), 1, cap)

fitted over all traces (|.|: the mean amplitude spectrum over traces, as utils.metrics measures
it) and applied to every sample alike. It amplifies the prediction's own content, never copies
the input's noise back, and leaves every frequency where the prediction is already as strong
untouched; the cap bounds what it can add where the model removed energy rightly.
Arrays are (time, trace) or (..., time, trace); time is the second-last axis.
"""
from __future__ import annotations

import numpy as np

from datasets.condition import upsample
from utils.metrics import amplitude_spectrum
from utils.spectra import filter_time


def floor_gain(interpolated: np.ndarray, prediction: np.ndarray, cap: float) -> np.ndarray:
    """Return the gain per time frequency (time // 2 + 1 values, in [1, cap]) that lifts prediction toward interpolated.

    Both are (time, trace). A frequency where the prediction holds only rounding gets the cap
    (it stays as empty as it is); one where the interpolation is empty gets 1.
    """
    want, have = amplitude_spectrum(interpolated), amplitude_spectrum(prediction)
    rounding = 1e-12 * max(float(have.max(initial=0.0)), float(want.max(initial=0.0))) + np.finfo(np.float64).tiny
    return np.clip(want / np.maximum(have, rounding), 1.0, cap)


def spectrum_floored(samples: np.ndarray, lr: np.ndarray, cap: float, mode: str) -> np.ndarray:
    """Return the samples (..., time, trace) of one section lifted by floor_gain toward lr interpolated by mode.

    The gain is fitted to the samples' mean, so the mean and the spread scale together. cap <= 1: unchanged.
    """
    samples = np.asarray(samples)
    if cap <= 1.0:
        return samples
    interpolated = upsample(lr, mode).numpy()[:samples.shape[-2], :samples.shape[-1]]
    mean = np.asarray(samples, dtype=np.float64).reshape(-1, *samples.shape[-2:]).mean(axis=0)
    return filter_time(samples, floor_gain(interpolated, mean, cap)).astype(np.float32)
