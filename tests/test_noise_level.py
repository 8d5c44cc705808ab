"""The input's noise level and the self-check's noise discount (sampling.self_blend_noise)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import sample
from datasets.degrade import lowpass_time
from datasets.noise_level import noise_only_rows_variance, plane_floor_variance, white_noise_variance
from tests.conftest import bicubic
from tests.test_roundtrip import fake_model


def smooth_section(n_time: int = 96, n_trace: int = 80, seed: int = 0) -> np.ndarray:
    """Return a (time, trace) section of gently dipping reflectors in the lowest tenth of the time band."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time)[:, None] + 0.15 * np.arange(n_trace)[None, :]
    return sum(rng.uniform(0.5, 1) * np.cos(2 * np.pi * f * t + rng.uniform(0, 6)) for f in rng.uniform(0.01, 0.05, 6))


@pytest.mark.parametrize("signal", [0.0, 1.0])
def test_the_noise_variance_is_found_under_a_band_limited_section(signal):
    noise = 0.3 * np.random.default_rng(1).standard_normal((96, 80))
    found = white_noise_variance(signal * smooth_section() + noise)
    assert found == pytest.approx(0.09, rel=0.15), "white noise of std 0.3, with and without signal"


def test_a_noiseless_section_measures_next_to_no_noise():
    section = smooth_section()
    assert white_noise_variance(section) < 1e-3 * section.var()  # the ends' wrap-around leaks a little


def recorded_noise(shape: tuple[int, int], std: float, seed: int) -> np.ndarray:
    """Return white noise of this std passed through an anti-alias filter's time response (its top fifth rolled off)."""
    noise = lowpass_time(np.random.default_rng(seed).standard_normal(shape), 1.0, 0.2)
    return std * noise / noise.std()


def test_noise_recorded_through_an_anti_alias_filter_is_measured_below_its_roll_off():
    noise = recorded_noise((96, 80), 0.3, 1)
    power = np.abs(np.fft.fft2(noise)) ** 2 / noise.size
    passed = power[np.abs(np.fft.fftfreq(96)) / 0.5 < 0.75].mean()  # its variance per bin where the filter passes it
    section = smooth_section() + noise
    assert plane_floor_variance(section) < 0.3 * passed, "the whole plane's floor lands in the filter's roll-off"
    assert white_noise_variance(section) == pytest.approx(passed, rel=0.15), "the rows that only noise fills hold it"
    assert white_noise_variance(section, from_rows=False) == plane_floor_variance(section), "sampling.noise_from_rows=false"


def test_a_section_whose_signal_fills_the_band_keeps_the_planes_floor():
    rng = np.random.default_rng(3)
    full = lowpass_time(gaussian_filter(rng.standard_normal((96, 80)), (0, 3)), 1.0, 0.2)  # every time frequency,
    full /= full.std()  # but laterally coherent (low wavenumbers), as reflections are
    section = full + 0.05 * rng.standard_normal((96, 80))
    assert noise_only_rows_variance(section) == 0.0, "no row holds only noise"
    assert white_noise_variance(section) == plane_floor_variance(section)


@pytest.mark.parametrize("bands", [[], [1.0, 2.0]])
def test_the_noise_discount_brings_the_self_check_to_the_weight_the_clean_input_would_give(tiny_cfg, bands):
    """A model that smooths its input one octave down removes noise the noisy input still holds: against
    that input the self-check distrusts it; with the discount the weight is the one the clean input gives."""
    clean = smooth_section().astype(np.float32)
    noisy = (clean + 0.5 * np.random.default_rng(2).standard_normal(clean.shape)).astype(np.float32)
    denoiser = fake_model(lambda x, name, k: bicubic(gaussian_filter(x, 1.0)) - bicubic(x))
    tiny_cfg.sampling.self_blend_bands = bands
    tiny_cfg.roundtrip = replace(tiny_cfg.roundtrip, band_factor=1.0, noise_std=0.0, colored_noise_std=0.0)

    def weights(noise_aware):
        tiny_cfg.sampling.self_blend_noise = noise_aware
        return np.atleast_1d(sample.self_check_weights(denoiser, [noisy], ["a"], tiny_cfg, tiny_cfg.roundtrip)[0])

    (y, back, pred), = sample.self_checks(denoiser, [noisy], ["a"], tiny_cfg, tiny_cfg.roundtrip)
    oracle = np.array(sample.band_blend_weights(clean[:back.shape[0], :back.shape[1]], pred, back,
                                                sample.signal_band_edge(y), bands))
    plain, discounted = weights(False), weights(True)
    assert np.max(oracle - plain) > 0.3, (oracle, plain)
    np.testing.assert_allclose(discounted, oracle, atol=0.15, err_msg=f"plain {plain}")  # one probe: a few % per band


@pytest.mark.parametrize("bands", [[], [1.0, 2.0]])
def test_the_noise_discount_leaves_a_noiseless_input_alone(tiny_cfg, bands):
    clean = smooth_section().astype(np.float32)
    denoiser = fake_model(lambda x, name, k: bicubic(gaussian_filter(x, 1.0)) - bicubic(x))
    tiny_cfg.sampling.self_blend_bands = bands
    found = []
    for noise_aware in (False, True):
        tiny_cfg.sampling.self_blend_noise = noise_aware
        found.append(np.atleast_1d(sample.self_check_weights(denoiser, [clean], ["a"], tiny_cfg, tiny_cfg.roundtrip)[0]))
    np.testing.assert_allclose(found[1], found[0], atol=0.02)
    assert "sampling.self_blend_noise" in sample.prediction_settings(tiny_cfg, 0)


def test_band_products_split_an_inner_product_by_time_frequency():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 32, 5))
    band = sample.band_index(32, 0.5, [1.0, 3.0])
    per_band = sample.band_products(a, b, band, 3)
    spectrum_product = np.real(np.conj(np.fft.rfft(a, axis=0)) * np.fft.rfft(b, axis=0)).sum()
    assert per_band.sum() == pytest.approx(spectrum_product)
    assert per_band[0] == pytest.approx(np.real(np.conj(np.fft.rfft(a, axis=0)[band == 0]) * np.fft.rfft(b, axis=0)[band == 0]).sum())


def test_the_noise_discount_finds_recorded_noise_by_its_rows(tiny_cfg):
    """Recorded noise (quiet in the anti-alias roll-off) hides from the whole plane's floor, so without the
    rows the discount misses it and the self-check distrusts the denoiser again."""
    clean = smooth_section().astype(np.float32)
    noisy = (clean + recorded_noise(clean.shape, 0.5, 2)).astype(np.float32)
    denoiser = fake_model(lambda x, name, k: bicubic(gaussian_filter(x, 1.0)) - bicubic(x))
    tiny_cfg.sampling.self_blend_bands = []
    tiny_cfg.sampling.self_blend_noise = True
    tiny_cfg.roundtrip = replace(tiny_cfg.roundtrip, band_factor=1.0, noise_std=0.0, colored_noise_std=0.0)
    (y, back, pred), = sample.self_checks(denoiser, [noisy], ["a"], tiny_cfg, tiny_cfg.roundtrip)
    oracle = sample.band_blend_weights(clean[:back.shape[0], :back.shape[1]], pred, back, sample.signal_band_edge(y), [])[0]

    def weight(from_rows):
        tiny_cfg.sampling.noise_from_rows = from_rows
        return float(np.atleast_1d(sample.self_check_weights(denoiser, [noisy], ["a"], tiny_cfg, tiny_cfg.roundtrip)[0])[0])

    assert weight(True) == pytest.approx(oracle, abs=0.15)
    assert oracle - weight(False) > 0.3, "the plane's floor alone misses the noise"
