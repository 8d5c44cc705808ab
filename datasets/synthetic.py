"""Seeded synthetic LR/HR seismic pairs, written in the SeismicSuperResolution .dat layout.

One geology per pair (layers, folds, dipping faults) is described in continuous HR units (time
in HR samples, space in HR traces) and rendered twice:
  HR  on the hr_shape grid, sample interval dt, a wavelet of peak frequency f_hr;
  LR  on a grid of half the sampling in both axes (interval 2 dt, every other trace, cell-centred
      as in datasets/degrade.py), the same wavelet family and phase with its band scaled by r,
      then white and band-limited noise (and, when switched on, coherent trains, spikes, dead traces).
Both share the earth's amplitude trend (decay in time, smooth lateral gain) and are divided by
the clean HR signal std, so LR and HR amplitudes stay comparable.
Pair i comes from np.random.default_rng([seed, i]); the optional levers (wavelet families, phase,
gains, blocky logs, LR field noise) draw from their own child generators default_rng([seed, i,
lever]), so at their defaults (off) every pair is bit for bit what it was before they existed.

    python -m datasets.synthetic [--config PARTIAL.yaml] [section.key=value ...]

docs/synthetic_pairs.png is plot_pairs(*make_pairs(4, 1234, cfg.synthetic), path).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from datasets.dat_io import write_dat
from datasets.degrade import add_noise
from utils.atomic import atomic_write_bytes
from utils.cli import run_main
from utils.config import Config, SyntheticConfig
from utils.errors import DataError

# Child generators of the optional levers: default_rng([seed, index, LEVER]). They never touch the
# pair's main generator, so a lever switched on leaves every other draw as it was.
WAVELET, GAIN, BLOCKY, COHERENT, SPIKES, DEAD = 1, 2, 3, 4, 5, 6


def ricker_spectrum(f_peak: float, dt: float, n: int) -> np.ndarray:
    """Return the rfft of a zero-phase Ricker wavelet of unit peak amplitude, shape (n // 2 + 1,).

    f_peak: peak frequency in Hz; dt: sample interval in s; n: length of the transform.
    """
    freq = np.fft.rfftfreq(n, dt)
    # Continuous Fourier transform of (1 - 2 pi^2 f^2 t^2) exp(-pi^2 f^2 t^2), divided by dt.
    return 2 / np.sqrt(np.pi) * freq ** 2 / f_peak ** 3 * np.exp(-(freq / f_peak) ** 2) / dt


def ormsby_response(freq: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Return the zero-phase trapezoid gain at freq (Hz): 0 below f1, 1 from f2 to f3, 0 above f4.

    corners: (f1, f2, f3, f4) in Hz, increasing.
    """
    f1, f2, f3, f4 = corners
    return np.clip(np.minimum((freq - f1) / (f2 - f1), (f4 - freq) / (f4 - f3)), 0, 1)


def butterworth_response(freq: np.ndarray, cuts: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Return the complex response at freq (Hz) of an analog Butterworth band-pass: causal, minimum phase.

    cuts: (low, high) -3 dB frequencies in Hz; orders: (low-cut, high-cut) filter orders.
    """
    response = np.ones(len(freq), dtype=complex)
    for cut, order, high_pass in ((cuts[0], orders[0], True), (cuts[1], orders[1], False)):
        # Unit-circle poles in the left half-plane; H_lp(s) = prod -p / (s - p), H_hp(s) = prod s / (s - p).
        poles = np.exp(1j * np.pi * (2 * np.arange(order) + order + 1) / (2 * order))
        s = 2j * np.pi * freq[:, None] / (2 * np.pi * cut)  # (freq, 1), in units of the cut
        response *= np.prod((s if high_pass else -poles) / (s - poles), axis=1)
    return response


def antialias(spectrum: np.ndarray, freq: np.ndarray, nyquist: float, start: float = 0.8,
              level: float = 0.01) -> np.ndarray:
    """Return spectrum rolled off to zero at nyquist when its band reaches past start * nyquist.

    spectrum, freq: (n // 2 + 1,). Unchanged (the same array) when no amplitude above start * nyquist
    exceeds `level` of the peak: true for every default (Ricker <= 45 Hz at 2 ms, LR ratio <= 0.67).
    """
    amplitude = np.abs(spectrum)
    if amplitude[freq > start * nyquist].max(initial=0.0) <= level * amplitude.max():
        return spectrum
    ramp = np.clip((freq - start * nyquist) / ((1 - start) * nyquist), 0, 1)
    return spectrum * 0.5 * (1 + np.cos(np.pi * ramp))


def wavelet_spectrum(wavelet: dict, f_peak: float, dt: float, n: int) -> np.ndarray:
    """Return the rfft (n // 2 + 1,) of `wavelet` scaled to peak frequency f_peak Hz, at interval dt s.

    wavelet: from draw_wavelet. Ricker keeps its analytic unit peak; Ormsby and Butterworth bands
    are their corner factors times f_peak, scaled so that their zero-phase version peaks at 1.
    A constant phase rotation multiplies positive frequencies by exp(i phase).
    """
    freq = np.fft.rfftfreq(n, dt)
    if wavelet["family"] == "ricker":
        spectrum = ricker_spectrum(f_peak, dt, n)
    else:
        if wavelet["family"] == "ormsby":
            response = ormsby_response(freq, f_peak * wavelet["corners"])
        else:
            response = butterworth_response(freq, f_peak * wavelet["cuts"], wavelet["orders"])
        spectrum = response / np.fft.irfft(np.abs(response), n)[0]
    # The convolution runs in the frequency domain, so nothing aliases, but a band still strong at
    # Nyquist would be cut there like a brick wall. The LR grid (interval 2 dt) has half the HR
    # Nyquist: with lr_freq_ratio near 1 its band is low-passed here, as anti-alias filters do.
    spectrum = antialias(spectrum, freq, 0.5 / dt)
    if wavelet["phase"] != 0:
        spectrum = spectrum * np.exp(1j * np.deg2rad(wavelet["phase"]))
    return spectrum


def draw_wavelet(rng: np.random.Generator, cfg: SyntheticConfig) -> dict:
    """Return one section's wavelet: family, band shape as factors of the peak frequency, phase (degrees).

    All shapes are drawn whatever the family, so switching one lever never moves another's draws.
    """
    return {
        "family": str(rng.choice(cfg.wavelets)),
        # Ormsby corners f1 < f2 < f3 < f4 (ranges do not overlap); a Ricker's half-amplitude band
        # is about 0.45 to 1.7 times its peak.
        "corners": rng.uniform([0.15, 0.4, 1.3, 1.9], [0.35, 0.65, 1.8, 2.6]),
        "cuts": rng.uniform([0.3, 1.6], [0.6, 2.5]),  # Butterworth low and high cut, centred near the peak
        "orders": rng.integers([2, 3], [5, 9]),  # Butterworth low-cut 2-4, high-cut 3-8 (6 dB/octave per order)
        "phase": rng.uniform(*cfg.phase_rotation),
    }


def wavelet_pad(wavelet: dict, f_lr: float, dt: float, n_time: int, energy: float = 0.999) -> int:
    """Return the time pad (HR samples, even, at most n_time) that holds the LR wavelet's tails.

    f_lr: LR peak frequency (Hz); dt: HR interval (s). The plain Ricker keeps its 1.5 periods;
    other wavelets get the half-length (LR samples, doubled) that holds `energy` of theirs.
    """
    if wavelet["family"] == "ricker" and wavelet["phase"] == 0:
        return 2 * int(np.ceil(0.75 / (f_lr * dt)))
    n = 4096
    power = np.fft.irfft(wavelet_spectrum(wavelet, f_lr, 2 * dt, n), n) ** 2  # time 0 at index 0
    lag = np.minimum(np.arange(n), n - np.arange(n))  # |time| in LR samples, wrapped
    cumulative = np.cumsum(np.bincount(lag, power))
    half = int(np.searchsorted(cumulative, energy * cumulative[-1])) + 1
    return min(2 * half, n_time)


def fold_shape(x: np.ndarray, centres: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Return the sum of Gaussian anticlines/synclines at lateral positions x (HR traces)."""
    x = x[..., None]
    return (heights * np.exp(-0.5 * ((x - centres) / widths) ** 2)).sum(axis=-1)


def draw_structure(rng: np.random.Generator, cfg: SyntheticConfig, n_time: int, n_trace: int) -> dict:
    """Return the fold, dip and fault parameters of one section, in HR samples and HR traces."""
    n_bumps = int(rng.integers(2, 5))
    centres = rng.uniform(-0.2, 1.2, n_bumps) * n_trace
    widths = rng.uniform(0.08, 0.3, n_bumps) * n_trace
    heights = rng.uniform(-1.0, 1.0, n_bumps)
    peak = np.abs(fold_shape(np.arange(n_trace), centres, widths, heights)).max()
    heights *= rng.uniform(*cfg.fold_amplitude) / max(peak, 1e-12)
    n_faults = int(rng.integers(cfg.n_faults[0], cfg.n_faults[1] + 1))
    return {
        "fold": (centres, widths, heights),
        "dip": rng.uniform(-0.1, 0.1),  # HR samples per trace
        "fault_x0": rng.uniform(0.15, 0.85, n_faults) * n_trace,  # plane position at time fault_t0
        "fault_t0": rng.uniform(0.3, 0.7, n_faults) * n_time,
        # Plane slope in HR samples per trace (negative: dipping towards trace 0).
        "fault_slope": rng.choice([-1.0, 1.0], n_faults) * rng.uniform(1.5, 5.0, n_faults),
        "fault_throw": rng.choice([-1.0, 1.0], n_faults) * rng.uniform(*cfg.fault_throw, n_faults),
    }


def geologic_time(t: np.ndarray, x: np.ndarray, structure: dict, n_time: int, n_trace: int) -> np.ndarray:
    """Return the depth u (HR samples) of the unfaulted, unfolded layer seen at image points (t, x).

    t, x: arrays of one shape, time in HR samples and position in HR traces.
    """
    faults = zip(structure["fault_x0"], structure["fault_t0"], structure["fault_slope"],
                 structure["fault_throw"])
    # Undo the faults, youngest first: the block above each plane slid along it by `throw`,
    # so a point above the plane came from (x - throw / slope, t - throw), also above it.
    for x0, t0, slope, throw in reversed(list(faults)):
        above = t < t0 + slope * (x - x0)
        x = np.where(above, x - throw / slope, x)
        t = np.where(above, t - throw, t)
    # Undo folding and dip. A layer at depth u lies at t = u + g (1 + u / T) / 2 + dip (x - X / 2):
    # deeper, older layers are folded more. Solved for u, which stays monotonic in t.
    g = fold_shape(x, *structure["fold"])
    return (t - 0.5 * g - structure["dip"] * (x - 0.5 * n_trace)) / (1 + 0.5 * g / n_time)


def draw_layers(rng: np.random.Generator, cfg: SyntheticConfig, u_range: tuple[float, float],
                n_time: int) -> tuple[np.ndarray, np.ndarray]:
    """Return depths (HR samples) and reflection coefficients of the interfaces in u_range.

    n_reflectors counts interfaces per n_time samples; thin beds, one per sample with small
    coefficients of std cfg.thin_bed_std, give the sections texture below the wavelets' resolution.
    """
    u_lo, u_hi = u_range
    per_window = rng.integers(cfg.n_reflectors[0], cfg.n_reflectors[1] + 1)
    n_major = int(round(per_window * (u_hi - u_lo) / n_time))
    thin_depths = np.arange(u_lo, u_hi) + rng.uniform(0, 1)
    depths = np.concatenate([rng.uniform(u_lo, u_hi, n_major), thin_depths])
    coeffs = np.concatenate([rng.uniform(-1.0, 1.0, n_major),
                             cfg.thin_bed_std * rng.standard_normal(len(thin_depths))])
    return depths, coeffs


def draw_impedance(rng: np.random.Generator, u_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Return a blocky impedance log: layer tops (HR samples, increasing, in u_range) and impedances.

    impedance[0] lies above tops[0], impedance[k + 1] between tops[k] and tops[k + 1]: piecewise
    constant, with exponential thicknesses of mean 2-12 HR samples and a log-impedance random walk
    on a compaction trend.
    """
    u_lo, u_hi = u_range
    mean_thickness = rng.uniform(2.0, 12.0)
    n_max = int(np.ceil(3 * (u_hi - u_lo) / mean_thickness)) + 10  # the tops pass u_hi long before
    tops = u_lo + np.cumsum(rng.exponential(mean_thickness, n_max))
    tops = tops[tops < u_hi]
    steps = rng.uniform(0.05, 0.25) * rng.standard_normal(len(tops))
    trend = rng.uniform(0.0, 0.5) * (tops - u_lo) / (u_hi - u_lo)  # log-impedance rise over the range
    log_impedance = np.concatenate([[0.0], np.cumsum(steps) + trend])
    return tops, 1e3 * np.exp(rng.uniform(0.5, 1.5) + log_impedance)


def impedance_reflectivity(tops: np.ndarray, impedance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return depths and reflection coefficients (Z_below - Z_above) / (Z_below + Z_above) of an impedance log."""
    return tops, np.diff(impedance) / (impedance[1:] + impedance[:-1])


def reflectivity(u: np.ndarray, depths: np.ndarray, coeffs: np.ndarray, width: float,
                 step: float = 0.125) -> np.ndarray:
    """Return the reflectivity seen at depths u: every interface spread over a tent of half-width width.

    width is the sample spacing of the grid u was taken on (HR samples); the tent splits each
    interface between its two nearest samples, so dipping layers move smoothly, without steps.
    """
    grid = np.arange(depths.min() - width - 1, depths.max() + width + 1, step)
    position = (depths - grid[0]) / step
    below = np.floor(position).astype(np.int64)
    frac = position - below
    spikes = (np.bincount(below, coeffs * (1 - frac), len(grid))
              + np.bincount(below + 1, coeffs * frac, len(grid)))
    half = int(round(width / step))
    tent = 1 - np.abs(np.arange(-half, half + 1)) / half
    return np.interp(u, grid, np.convolve(spikes, tent, mode="same"), left=0.0, right=0.0)


def convolve_time(section: np.ndarray, wavelet: dict, f_peak: float, dt: float) -> np.ndarray:
    """Return section (time, trace) convolved along time with `wavelet` of peak f_peak Hz at interval dt s."""
    n = section.shape[0]
    spectrum = np.fft.rfft(section, axis=0) * wavelet_spectrum(wavelet, f_peak, dt, n)[:, None]
    return np.fft.irfft(spectrum, n=n, axis=0)


def draw_gains(rng: np.random.Generator, cfg: SyntheticConfig) -> dict:
    """Return one section's amplitude trend: decay exponent and a smooth lateral gain (4 cosines)."""
    return {
        "decay": rng.uniform(*cfg.amplitude_decay),
        "lateral_std": rng.uniform(*cfg.lateral_amplitude),
        "cycles": rng.uniform(0.3, 3.0, 4),  # cosine frequencies, cycles per section width
        "weights": rng.standard_normal(4),
        "phases": rng.uniform(0, 2 * np.pi, 4),
    }


def amplitude_gain(t: np.ndarray, x: np.ndarray, gains: dict, n_time: int, n_trace: int) -> np.ndarray:
    """Return the earth/processing gain (len(t), len(x)) at times t (HR samples) and positions x (HR traces).

    In time ((t + T/4) / (T/4))^-q, a residual t^-q decay offset by a quarter of the section
    length T = n_time so it is 1 at the top; across exp(std * s(x)), s of unit std over the HR traces.
    """
    offset = 0.25 * n_time
    decay = ((t + offset) / offset) ** -gains["decay"]

    def waves(x):
        angle = 2 * np.pi * gains["cycles"] * x[:, None] / n_trace + gains["phases"]  # (x, 4)
        return (gains["weights"] * np.cos(angle)).sum(axis=1)

    s = waves(x) / max(waves(np.arange(n_trace, dtype=float)).std(), 1e-12)
    return decay[:, None] * np.exp(gains["lateral_std"] * s)[None, :]


def coherent_noise(rng: np.random.Generator, shape: tuple[int, int], f_peak: float, dt: float) -> np.ndarray:
    """Return unit-std linear dipping low-frequency trains (time, trace), like ground roll or swings.

    shape: LR (time, trace); f_peak: LR peak frequency (Hz); dt: LR interval (s). Each of 1-3 events
    is a Gaussian-windowed cosine of 0.2-0.5 f_peak, 1-3 periods wide, dipping 1-4 samples per trace.
    """
    n_time, n_trace = shape
    t, x = np.arange(n_time)[:, None], np.arange(n_trace)[None, :]
    noise = np.zeros(shape)
    for _ in range(int(rng.integers(1, 4))):
        period = 1 / (rng.uniform(0.2, 0.5) * f_peak * dt)  # LR samples
        width = rng.uniform(1.0, 3.0) * period
        slope = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 4.0)  # LR samples per LR trace
        lag = t - rng.uniform(0, n_time) - slope * (x - rng.uniform(0, n_trace))  # (time, trace)
        noise += np.exp(-0.5 * (lag / width) ** 2) * np.cos(2 * np.pi * lag / period)
    return noise / max(noise.std(), 1e-12)


def add_field_noise(lr: np.ndarray, signal_std: float, cfg: SyntheticConfig, key: tuple[int, int],
                    f_lr: float) -> np.ndarray:
    """Return lr (time/2, trace/2) with the LR-only levers: coherent trains, spikes, dead traces.

    signal_std: std of the clean LR section; key: (seed, index) of the pair; f_lr: LR peak (Hz).
    Each lever draws from its own child generator and touches nothing when its range is [0, 0].
    """
    rng = np.random.default_rng([*key, COHERENT])
    coherent_std = rng.uniform(*cfg.coherent_noise_std)
    if coherent_std > 0:
        lr = lr + coherent_std * signal_std * coherent_noise(rng, lr.shape, f_lr, 2 * cfg.dt)
    rng = np.random.default_rng([*key, SPIKES])
    spike_rate = rng.uniform(*cfg.spike_rate)
    if spike_rate > 0:
        hit = rng.random(lr.shape) < spike_rate
        lr = lr.copy()
        lr[hit] = rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(2.0, 6.0, hit.sum()) * signal_std
    rng = np.random.default_rng([*key, DEAD])
    dead_rate = rng.uniform(*cfg.dead_trace_rate)
    if dead_rate > 0:
        dead = rng.random(lr.shape[1]) < dead_rate
        factor = np.where(rng.random(lr.shape[1]) < 0.5, 0.0, rng.uniform(0.05, 0.3, lr.shape[1]))
        lr = lr * np.where(dead, factor, 1.0)[None, :]
    return lr


def make_pair(seed: int, index: int, cfg: SyntheticConfig,
              hr_shape: tuple[int, int] = (256, 256)) -> tuple[np.ndarray, np.ndarray]:
    """Return pair `index` of the set drawn with `seed`: lr (time/2, trace/2) and hr (time, trace), float32.

    hr_shape is on-disk (traces, samples) like data.hr_shape; both sizes must be even.
    """
    n_trace, n_time = hr_shape
    if n_trace % 2 or n_time % 2:
        raise ValueError(f"hr_shape {tuple(hr_shape)} must have even sizes (LR halves both)")
    rng = np.random.default_rng([seed, index])
    structure = draw_structure(rng, cfg, n_time, n_trace)
    f_hr = rng.uniform(*cfg.hr_peak_freq)
    f_lr = f_hr * rng.uniform(*cfg.lr_freq_ratio)
    wavelet = draw_wavelet(np.random.default_rng([seed, index, WAVELET]), cfg)
    # Pad time (HR samples, even) so wavelet tails of layers just outside the window reach into it.
    pad = wavelet_pad(wavelet, f_lr, cfg.dt, n_time)
    window_hr, window_lr = slice(pad, pad + n_time), slice(pad // 2, pad // 2 + n_time // 2)

    # Image points in HR units: HR sample i sits at i, LR sample i at 2 i + 0.5 (cell centres).
    t_hr, x_hr = np.arange(-pad, n_time + pad, dtype=float), np.arange(n_trace, dtype=float)
    t_lr = 2 * np.arange(-pad // 2, (n_time + pad) // 2) + 0.5
    x_lr = 2 * np.arange(n_trace // 2) + 0.5
    u_hr = geologic_time(*np.meshgrid(t_hr, x_hr, indexing="ij"), structure, n_time, n_trace)
    u_lr = geologic_time(*np.meshgrid(t_lr, x_lr, indexing="ij"), structure, n_time, n_trace)
    u_range = (min(u_hr.min(), u_lr.min()) - 4, max(u_hr.max(), u_lr.max()) + 4)
    depths, coeffs = draw_layers(rng, cfg, u_range, n_time)
    blocky_rng = np.random.default_rng([seed, index, BLOCKY])
    if blocky_rng.uniform() < cfg.blocky_fraction:
        depths, coeffs = impedance_reflectivity(*draw_impedance(blocky_rng, u_range))

    # Render the same layers twice; crop the pad after the convolution; the earth's gain acts on both.
    hr = convolve_time(reflectivity(u_hr, depths, coeffs, 1.0), wavelet, f_hr, cfg.dt)[window_hr]
    lr = convolve_time(reflectivity(u_lr, depths, coeffs, 2.0), wavelet, f_lr, 2 * cfg.dt)[window_lr]
    gains = draw_gains(np.random.default_rng([seed, index, GAIN]), cfg)
    hr = hr * amplitude_gain(t_hr[window_hr], x_hr, gains, n_time, n_trace)  # (time, trace)
    lr = lr * amplitude_gain(t_lr[window_lr], x_lr, gains, n_time, n_trace)  # (time/2, trace/2)

    signal_std = lr.std()
    white_std, colored_std = rng.uniform(*cfg.noise_std), rng.uniform(*cfg.colored_noise_std)
    lr = add_noise(lr, rng, white_std, colored_std, cfg.colored_band)
    lr = add_field_noise(lr, signal_std, cfg, (seed, index), f_lr)
    scale = max(hr.std(), 1e-12)
    return (lr / scale).astype(np.float32), (hr / scale).astype(np.float32)


def make_pairs(n: int, seed: int, cfg: SyntheticConfig,
               hr_shape: tuple[int, int] = (256, 256)) -> tuple[np.ndarray, np.ndarray]:
    """Return lr (n, time/2, trace/2) and hr (n, time, trace) float32 pairs 0..n-1 of `seed`.

    hr_shape is on-disk (traces, samples) like data.hr_shape; pair i never depends on n.
    """
    pairs = [make_pair(seed, i, cfg, hr_shape) for i in range(n)]
    return np.stack([lr for lr, _ in pairs]), np.stack([hr for _, hr in pairs])


def plot_pairs(lr: np.ndarray, hr: np.ndarray, path: str | Path, dt: float = 0.002) -> None:
    """Draw pairs as rows of LR | HR images (time downwards) and save the figure to path.

    lr: (n, time/2, trace/2); hr: (n, time, trace); dt: HR sample interval in s.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(hr)
    fig, axes = plt.subplots(n, 2, figsize=(8, 4 * n), squeeze=False)
    for row in range(n):
        # One colour scale per row, from the HR, so LR and HR amplitudes compare directly.
        clip = np.percentile(np.abs(hr[row]), 99)
        n_time, n_trace = hr[row].shape
        extent = (0, n_trace, n_time * dt * 1000, 0)
        for col, (section, name) in enumerate(((lr[row], "LR"), (hr[row], "HR"))):
            ax = axes[row, col]
            ax.imshow(section, cmap="gray", vmin=-clip, vmax=clip, extent=extent, aspect="auto",
                      interpolation="nearest")
            ax.set_title(f"pair {row} {name} {section.shape[0]}x{section.shape[1]} "
                         f"(dt {dt * 1000 * n_time / section.shape[0]:g} ms)")
            ax.set_xlabel("HR trace")
            ax.set_ylabel("time (ms)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _refuse_existing(*folders: Path) -> None:
    for folder in folders:
        found = sorted(folder.glob("*.dat")) if folder.is_dir() else []
        if found:
            raise DataError(f"'{folder}' already holds {len(found)} .dat files; delete it or set "
                            f"data.lr_dir / data.hr_dir to an empty folder")


def write_meta(path: Path, cfg: Config, n_pairs: int) -> None:
    """Write meta.json: file layout, shapes, seed, sample intervals and every synthetic setting."""
    syn, data = cfg.synthetic, cfg.data
    meta = {
        "format": "raw little-endian float32, no header, trace-major [traces, samples]",
        "lr_dir": data.lr_dir, "hr_dir": data.hr_dir, "n_pairs": n_pairs,
        "lr_shape": data.lr_shape, "hr_shape": data.hr_shape,
        "seed": syn.seed, "dt": syn.dt, "lr_dt": 2 * syn.dt,
        "lr_grid": "LR sample (i, j) lies at HR sample position (2i + 0.5, 2j + 0.5)",
        "amplitude": "LR and HR divided by the std of the clean HR section",
        "wavelet": "family from synthetic.wavelets, HR peak f in hr_peak_freq, LR band scaled by "
                   "lr_freq_ratio, both rotated by phase_rotation degrees",
        "synthetic": dataclasses.asdict(syn),
    }
    atomic_write_bytes(path, (json.dumps(meta, indent=2) + "\n").encode())


def generate_dataset(cfg: Config) -> int:
    """Write the pairs as data.lr_dir/NNNN.dat and data.hr_dir/NNNN.dat, then meta.json; return the count."""
    syn, data = cfg.synthetic, cfg.data
    lr_dir, hr_dir = Path(data.lr_dir), Path(data.hr_dir)
    _refuse_existing(lr_dir, hr_dir)
    for key, folder in (("data.lr_dir", lr_dir), ("data.hr_dir", hr_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"{key} '{folder}' cannot be created ({err.strerror})") from None
    digits = max(4, len(str(syn.n_pairs - 1)))
    print(f"writing {syn.n_pairs} synthetic pairs (seed {syn.seed}): LR {data.lr_shape} to {lr_dir}, "
          f"HR {data.hr_shape} to {hr_dir}")
    for index in tqdm(range(syn.n_pairs), unit="pair"):
        lr, hr = make_pair(syn.seed, index, syn, tuple(data.hr_shape))
        write_dat(lr_dir / f"{index:0{digits}d}.dat", lr)
        write_dat(hr_dir / f"{index:0{digits}d}.dat", hr)
    meta_path = hr_dir.parent / "meta.json"
    write_meta(meta_path, cfg, syn.n_pairs)
    print(f"wrote {meta_path}")
    return syn.n_pairs


def main(argv: list[str] | None = None) -> int:
    """Run the command line on argv (sys.argv[1:] when None); return the exit code."""
    return run_main(generate_dataset, argv, "Write seeded synthetic LR/HR seismic pairs as .dat files.")


if __name__ == "__main__":
    sys.exit(main())

# Expected printout (2 CPU cores):
# $ python -m datasets.synthetic
# writing 1000 synthetic pairs (seed 1234): LR [128, 128] to data/synthetic/nx2, HR [256, 256] to
#   data/synthetic/sx   (one line)
# 100%|██████████| 1000/1000 [00:12<00:00, 82.0pair/s]
# wrote data/synthetic/meta.json
