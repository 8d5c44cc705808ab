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

With cells (sampling.input_guard_cells) the shrinking is also measured per frequency-wavenumber cell:
the input's 2-D power over its white-noise level (datasets.noise_level) gives a gain per cell, and
each cell keeps the larger of its own gain and its time frequency's. A time frequency the input
measures well is then held near the input only at the wavenumbers where the input holds that
signal; the model stays free where the input holds only noise and beyond the input's trace
Nyquist, where no input could hold anything. The cell never guards more than its row: a cell
guard alone holds band-full inputs harder, and on aliased ones that keeps the aliases
(docs/BENCHMARKS.md 9s).
Arrays are (time, trace) or (..., time, trace); time is the second-last axis.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from datasets.condition import upsample
from datasets.noise_level import noise_only_rows_variance, noise_variance_of_power, power_2d
from utils.spectra import best_time_gain, filter_time

SMOOTH_BINS = 5  # running mean over frequency bins of the input's power spectrum
FLOOR_QUANTILE = 0.1  # the noise floor: this quantile of the smoothed power over the band's upper 3/4
MIN_RESPONSE = 0.5  # the interpolator's response is undone by at most 1 / MIN_RESPONSE
CELL_SMOOTH = (3, 5)  # running mean over time-frequency x wavenumber bins of the input's 2-D power
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


def _input_bins(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each FFT bin of an n_out-sample output axis (x2 finer than the input's n_in samples), the
    input's FFT bin nearest its frequency and whether that frequency lies within the input's Nyquist."""
    cycles_per_input_sample = 2.0 * np.fft.fftfreq(n_out)
    nearest = np.rint(cycles_per_input_sample * n_in).astype(int) % max(n_in, 1)
    return nearest, np.abs(cycles_per_input_sample) <= 0.5


def cell_snr(lr: np.ndarray, shape_out: tuple[int, int], noise_from_rows: bool = True) -> np.ndarray:
    """Return the input's signal-to-noise power ratio in each cell of the output's 2-D FFT (time bins, trace bins).

    lr: the input (time, trace). Its 2-D power, smoothed over CELL_SMOOTH bins, over its white-noise
    variance (datasets.noise_level.white_noise_variance) less 1; cells beyond the input's Nyquist
    along either axis get 0.
    """
    power = power_2d(lr)
    size = (min(CELL_SMOOTH[0], power.shape[0]), min(CELL_SMOOTH[1], power.shape[1]))
    smooth = uniform_filter(power, size=size, mode="wrap")
    noise = max(noise_variance_of_power(power, noise_from_rows), 1e-30 * float(smooth.max()), np.finfo(np.float64).tiny)
    snr = np.maximum(smooth / noise - 1.0, 0.0)
    rows, rows_inside = _input_bins(shape_out[0], power.shape[0])
    cols, cols_inside = _input_bins(shape_out[1], power.shape[1])
    return snr[np.ix_(rows, cols)] * (rows_inside[:, None] & cols_inside[None, :])


def cell_gain(lr: np.ndarray, shape_out: tuple[int, int], strength: float, noise_from_rows: bool = True) -> np.ndarray:
    """Return the guard's gain per cell of the output's 2-D FFT: the larger of the cell's and its time frequency's."""
    row = guard_gain(lr, shape_out[0], strength, noise_from_rows)  # rfft bins 0 .. n // 2
    row = row[np.abs(np.rint(np.fft.fftfreq(shape_out[0]) * shape_out[0])).astype(int)]  # every FFT bin
    return np.maximum(row[:, None], 1.0 / (1.0 + cell_snr(lr, shape_out, noise_from_rows) / strength))


def amplitude_gain(reference: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Return the gain per time frequency that raises reference (time, trace) toward the samples' mean, in [1, MAX_AMPLITUDE_GAIN]."""
    mean = np.asarray(samples, dtype=np.float64).reshape(-1, *reference.shape).mean(axis=0)
    return np.clip(best_time_gain(reference, mean), 1.0, MAX_AMPLITUDE_GAIN)


def guarded(samples: np.ndarray, lr: np.ndarray, strength: float, mode: str,
            follow_amplitude: bool = False, noise_from_rows: bool = True, cells: bool = False) -> np.ndarray:
    """Return the samples (..., time, trace) of one section with the input guard applied (strength > 0)."""
    reference = guard_reference(lr, mode)
    reference = reference[:samples.shape[-2], :samples.shape[-1]]
    if follow_amplitude:
        reference = filter_time(reference, amplitude_gain(reference, samples))
    departure = np.asarray(samples, dtype=np.float64) - reference
    if cells:
        gain = cell_gain(lr, samples.shape[-2:], strength, noise_from_rows)
        shrunk = np.real(np.fft.ifft2(np.fft.fft2(departure) * gain))
    else:
        shrunk = filter_time(departure, guard_gain(lr, samples.shape[-2], strength, noise_from_rows))
    return (reference + shrunk).astype(np.float32)
