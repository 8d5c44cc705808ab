"""The paper's degradation F_cor: HR section -> x2 coarser, noisy LR section (data.source = degrade).

Sections are (time, trace). LR sample (i, j) sits at HR position (2i + 0.5, 2j + 0.5), the
cell-centred grid that torch's interpolate(align_corners=False) assumes when it upsamples back.
The noise functions are shared with datasets/synthetic.py.
"""
from __future__ import annotations

import numpy as np
import scipy.fft

from utils.config import DegradationConfig
from utils.errors import DataError


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


def decimate(section: np.ndarray, antialias: bool) -> np.ndarray:
    """Return the (time/2, trace/2) section of 2x2 cell means, optionally low-passed first.

    section: (time, trace) with even sizes; antialias removes what the LR grid cannot hold.
    """
    n_time, n_trace = section.shape
    if n_time % 2 or n_trace % 2:
        raise DataError(f"cannot halve a section of shape {section.shape} (time, trace); "
                        f"both sizes must be even")
    if antialias:
        section = lowpass(section, cutoff=0.5)
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
              colored_std: float, band: list[float]) -> np.ndarray:
    """Return signal plus white and band-limited Gaussian noise.

    signal: (time, trace); white_std, colored_std: noise std as fractions of signal.std();
    band: [low, high] pass band of the coloured noise along time, fraction of Nyquist.
    """
    scale = signal.std()
    white = rng.standard_normal(signal.shape)
    colored = bandlimited_noise(signal.shape, band, rng)
    return signal + scale * (white_std * white + colored_std * colored)


def degrade(hr: np.ndarray, rng: np.random.Generator, cfg: DegradationConfig) -> np.ndarray:
    """Return the noisy LR section F_cor(hr), float32 (time/2, trace/2).

    hr: (time, trace) HR section; rng draws the noise levels and the noise;
    cfg: DegradationConfig (noise ranges, coloured band, antialias).
    """
    lr = decimate(np.asarray(hr, dtype=np.float64), cfg.antialias)
    white_std = rng.uniform(*cfg.noise_std)
    colored_std = rng.uniform(*cfg.colored_noise_std)
    return add_noise(lr, rng, white_std, colored_std, cfg.colored_band).astype(np.float32)
