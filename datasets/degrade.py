"""The forward model: HR section -> x2 coarser, narrower-band, noisy LR section.

    F(x) = decimate_x2(lowpass_time(x, band_factor * band_edge(x), taper)) + white + coloured noise
It is the paper's F_cor (data.source = degrade) with an optional narrowing of the time band,
and it makes the real-section round trip (roundtrip.*) and self-supervised field pairs.
Sections are (time, trace). LR sample (i, j) sits at HR position (2i + 0.5, 2j + 0.5), the
cell-centred grid that torch's interpolate(align_corners=False) assumes when it upsamples back.
The decimation either averages each 2 x 2 cell (`cells`, the paper's), takes the section's
value at each cell centre (`samples`: point sampling, as a recorder or a coarse trace spacing
samples a wavefield, with no averaging that softens the top of the band), or resizes the way two
common image libraries do (`gaussian`, `bicubic`; see decimate). The round trip may also narrow the
band more with depth (attenuation: `band_factor_bottom`) and spoil a few LR traces and samples the
way field recordings are spoilt (add_bad_data: dead traces, spikes, traces with swell noise).
The noise functions are shared with datasets/synthetic.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.ndimage
import torch
import torch.nn.functional as F

from utils.config import DegradationConfig
from utils.errors import DataError
from utils.spectra import shift_half_sample

SHARP_TAPER = 0.2  # share of the cutoff over which a band narrowing rolls off, unless a config says otherwise
DECIMATION_NAMES = {"cells": "2 x 2 cell means", "samples": "point-sampled", "gaussian": "Gaussian resize",
                    "bicubic": "bicubic resize", "blur": "blurred, point-sampled"}  # roundtrip.decimation: the words reports use
DECIMATIONS = tuple(DECIMATION_NAMES)
RESIZE_SIGMA = 0.5  # HR samples: the Gaussian skimage.transform.rescale(0.5, anti_aliasing=True) blurs with
BLUR_SIGMA = 1.0  # HR samples: the Gaussian of the blur-then-subsample degradation of image super-resolution


def lowpass(section: np.ndarray, cutoff: float, taper: float = 0.2) -> np.ndarray:
    """Return section with wavenumbers above cutoff (fraction of Nyquist, both axes) removed.

    section: (time, trace). The pass band rolls off with a raised cosine over the last `taper`
    fraction of cutoff, which avoids ringing around strong reflectors.
    """
    # The DCT extends the section by mirroring, so the edges do not wrap into each other.
    spectrum = scipy.fft.dctn(section, type=2, norm="ortho")
    gains = [_raised_cosine(np.arange(n) / n, cutoff, taper) for n in section.shape]
    spectrum *= gains[0][:, None] * gains[1][None, :]
    return scipy.fft.idctn(spectrum, type=2, norm="ortho")


def _raised_cosine(freq: np.ndarray, cutoff: float, taper: float) -> np.ndarray:
    start = cutoff * (1 - taper)
    ramp = np.clip((freq - start) / max(cutoff - start, 1e-12), 0, 1)
    return 0.5 * (1 + np.cos(np.pi * ramp))


def band_edge(section: np.ndarray, energy: float = 0.95) -> float:
    """Return the frequency (fraction of Nyquist) below which `energy` of the time-axis power lies.

    section: (time, trace); the power spectrum is averaged over traces.
    """
    power = (np.abs(np.fft.rfft(np.asarray(section, dtype=np.float64), axis=0)) ** 2).mean(axis=1)
    cumulative = np.cumsum(power) / max(power.sum(), 1e-300)
    index = int(np.searchsorted(cumulative, energy))
    return min(1.0, max(index, 1) / (len(power) - 1))


def signal_band_edge(section: np.ndarray, energy: float = 0.95) -> float:
    """Return band_edge of section (time, trace) less each trace's mean.

    A bias (0 Hz, which no seismic recording holds) would otherwise count as band energy: a section
    offset by its own std has its edge measured at a fraction of its band. The round trip and the
    self-check measure a field section's band this way; the training forward model keeps band_edge.
    """
    section = np.asarray(section, dtype=np.float64)
    return band_edge(section - section.mean(axis=0, keepdims=True), energy)


def lowpass_time(section: np.ndarray, cutoff: float, taper: float = SHARP_TAPER) -> np.ndarray:
    """Return section with time frequencies above cutoff (fraction of Nyquist) removed, raised-cosine roll-off.

    section: (time, trace); the DCT mirrors the section so its ends do not wrap into each other.
    """
    spectrum = scipy.fft.dct(section, type=2, norm="ortho", axis=0)
    spectrum *= _raised_cosine(np.arange(section.shape[0]) / section.shape[0], cutoff, taper)[:, None]
    return scipy.fft.idct(spectrum, type=2, norm="ortho", axis=0)


DEPTH_STEPS = 9  # depths at which a band that changes with depth is narrowed (first sample to last, evenly spaced)


def lowpass_time_with_depth(section: np.ndarray, cutoffs: list[float], taper: float = SHARP_TAPER) -> np.ndarray:
    """Return section (time, trace) with a time band that changes with depth.

    cutoffs: the cutoff (fraction of Nyquist, >= 1: none) at len(cutoffs) depths evenly spaced from
    the first sample to the last; one value narrows the whole section alike. A filter that changes
    along time has no single spectrum, so the section is narrowed at every listed cutoff and each
    sample takes the linear blend of the two narrowings whose depths bracket its own: with cutoffs
    a sixteenth of the band apart this is close to a filter that slides with depth.
    """
    narrowed = [lowpass_time(section, c, taper) if c < 1 else np.asarray(section, dtype=np.float64) for c in cutoffs]
    if len(narrowed) == 1:
        return narrowed[0]
    position = np.linspace(0, len(cutoffs) - 1, section.shape[0])  # each time sample's place among the depths
    below = np.minimum(position.astype(int), len(cutoffs) - 2)
    weight = (position - below)[:, None]
    out = np.empty(section.shape, dtype=np.float64)
    for k in range(len(cutoffs) - 1):
        rows = below == k
        out[rows] = (1 - weight[rows]) * narrowed[k][rows] + weight[rows] * narrowed[k + 1][rows]
    return out


def decimate(section: np.ndarray, antialias: bool, by: str = "cells") -> np.ndarray:
    """Return the (time/2, trace/2) section on the LR grid, optionally low-passed first.

    section: (time, trace) with even sizes; antialias removes what the LR grid cannot hold.
    by: cells, the mean of each 2 x 2 cell (its box response halves the power at the LR Nyquist),
    or samples, the section's value at each cell centre (band-limited interpolation half a
    sample on, then every other sample): the same grid without the box's softening. Two image
    resizers that users check models with, on the same grid: gaussian, a Gaussian blur of sigma
    0.5 HR samples and then cell means (what skimage.transform.rescale(0.5, anti_aliasing=True)
    does), and bicubic, torch's interpolate(scale_factor=0.5, mode="bicubic", antialias=True). Both
    filter less than the anti-alias low-pass, so without it they leave part of the band aliased.
    blur: a Gaussian of sigma 1 HR sample in both directions, then point sampling as `samples`
    (image super-resolution's blur-and-downsample degradation): it softens the whole band and,
    without the anti-alias filter, still leaves some of it aliased.
    """
    n_time, n_trace = section.shape
    if n_time % 2 or n_trace % 2:
        raise DataError(f"cannot halve a section of shape {section.shape} (time, trace); "
                        f"both sizes must be even")
    if by not in DECIMATIONS:
        raise ValueError(f"decimation must be one of {list(DECIMATIONS)}, got {by!r}")
    if antialias:
        section = lowpass(section, cutoff=0.5)
    blur_sigma = {"gaussian": RESIZE_SIGMA, "blur": BLUR_SIGMA}.get(by)
    if blur_sigma:
        section = scipy.ndimage.gaussian_filter(np.asarray(section, dtype=np.float64), blur_sigma, mode="mirror")
    if by in ("samples", "blur"):
        return shift_half_sample(shift_half_sample(section, axis=0), axis=1)[::2, ::2]
    if by == "bicubic":
        grid = torch.from_numpy(np.ascontiguousarray(section, dtype=np.float64))[None, None]
        return F.interpolate(grid, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False)[0, 0].numpy()
    return section.reshape(n_time // 2, 2, n_trace // 2, 2).mean(axis=(1, 3))  # (time/2, trace/2)


def bandlimited_noise(shape: tuple[int, int], band: list[float], rng: np.random.Generator,
                      trace_band: float = 0.5) -> np.ndarray:
    """Return unit-std Gaussian noise of shape (time, trace), band-limited in time.

    band: [low, high] pass band along time, fraction of Nyquist; across traces a Gaussian
    low-pass of width trace_band (fraction of Nyquist) correlates the noise lightly.
    """
    white = rng.standard_normal(shape)
    freq_time = np.fft.rfftfreq(shape[0]) / 0.5
    freq_trace = np.fft.fftfreq(shape[1]) / 0.5
    in_band = (freq_time >= band[0]) & (freq_time <= band[1])
    # A band narrower than one frequency bin keeps the bin nearest its centre.
    in_band[np.argmin(np.abs(freq_time - 0.5 * (band[0] + band[1])))] = True
    gain = in_band[:, None] * np.exp(-0.5 * (freq_trace[None, :] / trace_band) ** 2)
    spectrum = np.fft.fft(np.fft.rfft(white, axis=0), axis=1) * gain  # (time freq, trace freq)
    noise = np.fft.irfft(np.fft.ifft(spectrum, axis=1), n=shape[0], axis=0)
    return noise / max(noise.std(), 1e-12)


def add_noise(signal: np.ndarray, rng: np.random.Generator, white_std: float,
              colored_std: float, band: list[float], recorded: bool = False) -> np.ndarray:
    """Return signal plus white and band-limited Gaussian noise.

    signal: (time, trace); white_std, colored_std: noise std as fractions of signal.std();
    band: [low, high] pass band of the coloured noise along time, fraction of Nyquist.
    recorded: the noise passes an anti-alias filter's time response first (raised cosine over the
    top fifth of the band, as `decimate` filters the signal), keeping its std, the way noise that
    was recorded or resampled with the section reaches a field section: quiet near the Nyquist
    instead of flat up to it. The same draws either way.
    """
    scale = signal.std()
    white = rng.standard_normal(signal.shape)
    colored = bandlimited_noise(signal.shape, band, rng)
    noise = white_std * white + colored_std * colored
    if recorded and noise.std() > 0:
        filtered = lowpass_time(noise, 1.0, SHARP_TAPER)
        noise = filtered * (noise.std() / max(filtered.std(), 1e-300))
    return signal + scale * noise


SPIKE_AMPLITUDE = (2.0, 6.0)  # a spike replaces a sample by +- this many section stds (as datasets.synthetic's)
SWELL_BAND = (0.02, 0.15)  # time pass band of swell noise, fraction of the LR Nyquist: low frequencies
SWELL_TRACE_BAND = 0.5  # and a light correlation across the traces it sits on (bandlimited_noise's trace_band)


def add_bad_data(lr: np.ndarray, rng: np.random.Generator, dead_trace_rate: float, spike_rate: float,
                 swell_trace_rate: float, swell_std: float) -> np.ndarray:
    """Return lr (time, trace) with the flaws of field recordings: dead traces, spikes, traces with swell noise.

    dead_trace_rate: share of traces set to zero; spike_rate: share of samples replaced by a spike of
    SPIKE_AMPLITUDE section stds, either sign; swell_trace_rate: share of traces that carry extra
    low-frequency noise (SWELL_BAND) of swell_std section stds, as marine swell noise sits on a few
    traces. The section std is lr's before any flaw. All rates 0: lr unchanged and rng untouched.
    """
    if dead_trace_rate <= 0 and spike_rate <= 0 and swell_trace_rate <= 0:
        return lr
    lr = np.array(lr, dtype=np.float64)
    scale = lr.std()
    if swell_trace_rate > 0:
        swell = rng.random(lr.shape[1]) < swell_trace_rate
        noise = bandlimited_noise(lr.shape, list(SWELL_BAND), rng, trace_band=SWELL_TRACE_BAND)
        lr[:, swell] += swell_std * scale * noise[:, swell]
    if spike_rate > 0:
        hit = rng.random(lr.shape) < spike_rate
        lr[hit] = rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(*SPIKE_AMPLITUDE, hit.sum()) * scale
    if dead_trace_rate > 0:
        lr[:, rng.random(lr.shape[1]) < dead_trace_rate] = 0.0
    return lr


def depth_and_flaw_words(recipe: dict) -> str:
    """Return the words for a round-trip recipe's recorded noise, depth narrowing and flaws (roundtrip.* as a dict), '' when it has none.

    Reports append them to a recipe's band and noise (eval.py's figure title, benchmarks.transfer_summary).
    """
    words = []
    if recipe.get("noise_recorded"):
        words.append("noise recorded through the anti-alias filter")
    if recipe.get("band_factor_bottom") is not None and recipe["band_factor_bottom"] != recipe.get("band_factor"):
        words.append(f"band x{recipe['band_factor_bottom']:g} at the bottom")
    for key, what in (("dead_trace_rate", "dead traces"), ("spike_rate", "spikes")):
        if recipe.get(key, 0) > 0:
            words.append(f"{100 * recipe[key]:g} % {what}")
    if recipe.get("swell_trace_rate", 0) > 0:
        words.append(f"{100 * recipe['swell_trace_rate']:g} % traces with swell noise {recipe.get('swell_std', 1.0):g}")
    return ", ".join(words)


@dataclass
class Degraded:
    lr: np.ndarray  # (time/2, trace/2) float32 noisy LR section
    clean_lr: np.ndarray  # (time/2, trace/2) float64 the same before noise: F's deterministic part
    time_cutoff: float  # low-pass applied along time before decimation, fraction of HR Nyquist (1: none)
    noise_rms: float  # RMS of the noise that was added
    depth_cutoffs: list[float] | None = None  # the cutoffs at DEPTH_STEPS depths when the band changes with depth


def forward_model(hr: np.ndarray, rng: np.random.Generator, band_factor: float, white_std: float,
                  colored_std: float, colored_band: list[float], antialias: bool,
                  taper: float = SHARP_TAPER, decimation: str = "cells", edge: float | None = None,
                  band_factor_bottom: float | None = None, noise_recorded: bool = False) -> Degraded:
    """Return F(hr): time band narrowed to band_factor of its own band, decimated x2, plus noise.

    hr: (time, trace) with even sizes; noise stds are fractions of the decimated section's std;
    colored_band is the coloured noise's pass band in fractions of the LR Nyquist; taper is the
    share of the cutoff over which the narrowing rolls off (0.2: a sharp edge, 1: a smooth decay);
    decimation: cells | samples | gaussian | bicubic | blur (see decimate); edge: hr's own band
    edge when the caller measured it (e.g. signal_band_edge), else band_edge(hr); band_factor_bottom:
    the band factor at the last sample, reached linearly from band_factor at the first, when the band
    narrows with depth (None: band_factor throughout); noise_recorded: the noise passes the anti-alias
    filter's time response (add_noise's recorded).
    """
    hr = np.asarray(hr, dtype=np.float64)
    edge = band_edge(hr) if edge is None else edge
    cutoff_of = lambda factor: min(1.0, factor * edge) if factor < 1 else 1.0  # noqa: E731
    cutoff = cutoff_of(band_factor)
    depth = None if band_factor_bottom is None or band_factor_bottom == band_factor else \
        [cutoff_of(float(f)) for f in np.linspace(band_factor, band_factor_bottom, DEPTH_STEPS)]
    clean = apply_deterministic_part(hr, cutoff, antialias, taper, decimation, depth)
    lr = add_noise(clean, rng, white_std, colored_std, colored_band, noise_recorded)
    return Degraded(lr=lr.astype(np.float32), clean_lr=clean, time_cutoff=cutoff,
                    noise_rms=float(np.sqrt(np.mean((lr - clean) ** 2))), depth_cutoffs=depth)


def apply_deterministic_part(hr: np.ndarray, time_cutoff: float, antialias: bool,
                             taper: float = SHARP_TAPER, decimation: str = "cells",
                             depth_cutoffs: list[float] | None = None) -> np.ndarray:
    """Return F's noise-free part for a known time cutoff: what a prediction should reproduce. hr: (time, trace).

    depth_cutoffs: the cutoffs at evenly spaced depths when the band changes with depth
    (lowpass_time_with_depth; None: time_cutoff throughout).
    """
    hr = np.asarray(hr, dtype=np.float64)
    return decimate(lowpass_time_with_depth(hr, depth_cutoffs or [time_cutoff], taper), antialias, decimation)


def degrade(hr: np.ndarray, rng: np.random.Generator, cfg: DegradationConfig) -> np.ndarray:
    """Return a noisy LR section F(hr), float32 (time/2, trace/2), with settings drawn from cfg's ranges.

    hr: (time, trace) HR section; rng draws the band factor (1 for a plain_fraction share) and taper, the
    noise levels and the noise, whether an alias_fraction share skips the anti-alias filter, whether a
    samples_fraction share is point-sampled and whether a noise_recorded_fraction share has its noise
    recorded (add_noise's recorded); cfg: DegradationConfig (band factor, taper and plain
    share, noise ranges, coloured band, antialias, decimation shares).
    """
    white_std = rng.uniform(*cfg.noise_std)
    colored_std = rng.uniform(*cfg.colored_noise_std)
    band_factor = rng.uniform(*cfg.band_factor) if cfg.band_factor[0] < 1 else 1.0
    # These are drawn only when they can matter, so their defaults leave the random stream (and the data) as before.
    if cfg.plain_fraction > 0 and rng.uniform() < cfg.plain_fraction:
        band_factor = 1.0
    taper = rng.uniform(*cfg.band_taper) if band_factor < 1 and cfg.band_taper[0] < cfg.band_taper[1] \
        else cfg.band_taper[0]
    antialias = cfg.antialias and not (cfg.alias_fraction > 0 and rng.uniform() < cfg.alias_fraction)
    decimation = "samples" if cfg.samples_fraction > 0 and rng.uniform() < cfg.samples_fraction else "cells"
    recorded = cfg.noise_recorded_fraction > 0 and rng.uniform() < cfg.noise_recorded_fraction
    return forward_model(hr, rng, band_factor, white_std, colored_std, cfg.colored_band, antialias, taper,
                         decimation, noise_recorded=recorded).lr
