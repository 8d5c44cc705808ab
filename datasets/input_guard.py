"""Input guard: where the input itself holds signal well above its noise, keep the prediction near it.

A section that was only resampled (no band removed) and one whose band was narrowed look alike
to the model where the spectrum decays, so the model may "restore" a band the input already
holds in full (docs/BENCHMARKS.md section 9c). Along time frequency f, the guard measures the
input's own signal-to-noise power ratio snr(f) and shrinks the prediction's departure from a
reference by 1 / (1 + snr(f) / strength):

    out = ref + g(f) (pred - ref),   ref = interpolated input with the interpolator's own time
                                     response undone below the input's Nyquist.

Bins where the input is at its noise floor (removed bands, everything above the input's
Nyquist) keep the model's detail in full; bins the input measures well stay close to what it
measured. With follow_amplitude (sampling.input_guard_amplitude: prediction) the reference first
takes the prediction's amplitude where it is higher: one zero-phase gain per time frequency, fitted
over all traces and kept in [1, MAX_AMPLITUDE_GAIN]. The guard then keeps the input's content
(its phase and lateral structure) but lets the model undo an attenuation the input suffered (a
filter's roll-off near a band edge or the Nyquist), which no shrinking toward the input can do.
Arrays are (time, trace) or (..., time, trace); time is the second-last axis.
"""
from __future__ import annotations

import numpy as np

from datasets.condition import upsample
from datasets.noise_level import noise_only_rows_variance
from utils.spectra import best_time_gain, filter_time

SMOOTH_BINS = 5  # running mean over frequency bins of the input's power spectrum
FLOOR_QUANTILE = 0.1  # the noise floor: this quantile of the smoothed power over the band's upper 3/4
MIN_RESPONSE = 0.5  # the interpolator's response is undone by at most 1 / MIN_RESPONSE
MAX_AMPLITUDE_GAIN = 4.0  # follow_amplitude raises a frequency by at most 12 dB (a bound on a runaway model;
                          # where the input holds signal the fitted gains measured stayed below 2.2)


def _time_spectrum_power(x: np.ndarray) -> np.ndarray:
    """Return the power spectrum along time (axis -2), averaged over traces and leading axes."""
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64), axis=-2)
    return (np.abs(spectrum) ** 2).mean(axis=-1).reshape(-1, spectrum.shape[-2]).mean(axis=0)


def input_snr(lr: np.ndarray, n_out: int, from_rows: bool = True) -> np.ndarray:
    """Return the input's signal-to-noise power ratio at each of the n_out // 2 + 1 output time frequencies.

    lr: the input (time, trace). The noise floor is a low quantile of its smoothed power over the
    upper three quarters of its band: white noise where a band was removed; where signal fills the
    whole band the floor sits on signal, so snr comes out low and the guard steps back. Noise that
    passed an anti-alias filter with the signal is quiet in the filter's roll-off, where that
    quantile then lands, so the floor is raised to the noise that the time-frequency rows holding
    only noise measure below the roll-off (datasets.noise_level.noise_only_rows_variance; from_rows
    false: the quantile alone, as before docs/BENCHMARKS.md 9r). Output frequencies above the
    input's Nyquist get 0.
    """
    power = _time_spectrum_power(lr)
    padded = np.pad(power, SMOOTH_BINS // 2, mode="edge")
    smooth = np.convolve(padded, np.ones(SMOOTH_BINS) / SMOOTH_BINS, mode="valid")
    recorded = np.shape(lr)[-2] * noise_only_rows_variance(lr) if from_rows and np.ndim(lr) == 2 else 0.0  # same units
    floor = max(float(np.quantile(smooth[len(smooth) // 4:], FLOOR_QUANTILE)), recorded, 1e-30 * float(smooth.max()),
                np.finfo(np.float64).tiny)  # a noiseless input: its whole band is measured exactly
    snr = np.maximum(smooth / floor - 1.0, 0.0)
    of_input_nyquist = 2.0 * np.arange(n_out // 2 + 1) / max(n_out // 2, 1)
    return np.interp(of_input_nyquist, np.arange(len(snr)) / max(len(snr) - 1, 1), snr, right=0.0)


def interpolation_response(n_out: int, mode: str) -> np.ndarray:
    """Return the x2 interpolator's amplitude response along time at the n_out // 2 + 1 output frequencies (1 at 0)."""
    impulse = np.zeros((n_out // 2, 8), dtype=np.float32)
    impulse[n_out // 4] = 1.0  # a flat row: the response along time alone
    kernel = upsample(impulse, mode).numpy()[:, 4].astype(np.float64)
    response = np.abs(np.fft.rfft(kernel))
    return response / max(response[0], 1e-30)


def guard_reference(lr: np.ndarray, mode: str) -> np.ndarray:
    """Return the input interpolated by mode with the interpolator's time response undone below the input's Nyquist."""
    interpolated = upsample(lr, mode).numpy().astype(np.float64)
    n_out = interpolated.shape[-2]
    of_output_nyquist = np.arange(n_out // 2 + 1) / max(n_out // 2, 1)
    response = interpolation_response(n_out, mode)
    boost = np.where(of_output_nyquist < 0.5, 1.0 / np.maximum(response, MIN_RESPONSE) - 1.0, 0.0)
    return interpolated + filter_time(interpolated, boost)


def guard_gain(lr: np.ndarray, n_out: int, strength: float, noise_from_rows: bool = True) -> np.ndarray:
    """Return the gain 1 / (1 + snr / strength) on the prediction's departure, per output time frequency."""
    return 1.0 / (1.0 + input_snr(lr, n_out, noise_from_rows) / strength)


def amplitude_gain(reference: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Return the gain per time frequency that raises reference (time, trace) toward the samples' mean, in [1, MAX_AMPLITUDE_GAIN]."""
    mean = np.asarray(samples, dtype=np.float64).reshape(-1, *reference.shape).mean(axis=0)
    return np.clip(best_time_gain(reference, mean), 1.0, MAX_AMPLITUDE_GAIN)


def guarded(samples: np.ndarray, lr: np.ndarray, strength: float, mode: str,
            follow_amplitude: bool = False, noise_from_rows: bool = True) -> np.ndarray:
    """Return the samples (..., time, trace) of one section with the input guard applied (strength > 0)."""
    reference = guard_reference(lr, mode)
    reference = reference[:samples.shape[-2], :samples.shape[-1]]
    if follow_amplitude:
        reference = filter_time(reference, amplitude_gain(reference, samples))
    gain = guard_gain(lr, samples.shape[-2], strength, noise_from_rows)
    return (reference + filter_time(samples - reference, gain)).astype(np.float32)
