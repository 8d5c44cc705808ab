"""Spectrum floor (sampling.spectrum_floor): the prediction's time spectrum is not left far below interpolation's."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.condition import upsample
from datasets.spectrum_floor import floor_gain, spectrum_floored
from tests.conftest import band_limited
from utils.metrics import amplitude_spectrum


@pytest.fixture
def case():
    """An LR input, its bicubic interpolation, and a prediction that keeps the low band, halves the middle
    one's amplitude, leaves a band at 5 % and puts 3 x the interpolation's amplitude above 0.6 of the Nyquist."""
    lr = np.random.default_rng(0).standard_normal((64, 24)).astype(np.float32)
    interpolated = upsample(lr, "bicubic").numpy().astype(np.float64)
    f = np.arange(65) / 64
    scale = np.select([f < 0.2, f < 0.35, f < 0.6], [1.0, 0.5, 0.05], 3.0)
    spectrum = np.fft.rfft(interpolated, axis=0) * scale[:, None]
    return lr, interpolated, np.fft.irfft(spectrum, n=128, axis=0), f


def test_gain_lifts_only_where_the_prediction_is_weaker_and_by_at_most_the_cap(case):
    lr, interpolated, pred, f = case
    gain = floor_gain(interpolated, pred, 1.5)
    assert gain.shape == (65,) and gain.min() >= 1.0 and gain.max() <= 1.5
    np.testing.assert_allclose(gain[f < 0.2], 1.0, atol=1e-9)  # as strong as interpolation: untouched
    np.testing.assert_allclose(gain[(f > 0.2) & (f < 0.35)], 1.5, atol=1e-9)  # 2 x weaker, capped
    np.testing.assert_allclose(gain[f > 0.6], 1.0)  # stronger: never lowered
    np.testing.assert_allclose(floor_gain(interpolated, pred, 100.0)[(f > 0.2) & (f < 0.35)], 2.0, rtol=1e-9)
    np.testing.assert_allclose(floor_gain(interpolated, pred, 100.0)[(f > 0.36) & (f < 0.59)], 20.0, rtol=1e-9)


def test_floored_samples_have_the_lifted_spectrum_and_nothing_else_moves(case):
    lr, interpolated, pred, f = case
    out = spectrum_floored(pred[None].astype(np.float32), lr, 4.0, "bicubic")[0]
    ratio = amplitude_spectrum(out) / amplitude_spectrum(pred)
    np.testing.assert_allclose(ratio[(f > 0.21) & (f < 0.34)], 2.0, rtol=1e-4)  # back to interpolation's level
    np.testing.assert_allclose(ratio[(f > 0.36) & (f < 0.59)], 4.0, rtol=1e-4)  # the cap
    np.testing.assert_allclose(ratio[(f < 0.19) | (f > 0.61)], 1.0, rtol=1e-4)
    assert np.all(amplitude_spectrum(out) >= amplitude_spectrum(pred) * (1 - 1e-5)), "the floor never removes energy"
    np.testing.assert_allclose(spectrum_floored(pred[None], lr, 1.0, "bicubic"), pred[None])  # cap 1: off


def test_gain_is_fitted_to_the_mean_and_applied_to_every_sample_alike(case):
    lr, interpolated, pred, f = case
    noise = band_limited(128, 48, 0.0, 1.0, 3)
    samples = np.stack([pred + 0.3 * noise, pred - 0.3 * noise]).astype(np.float32)  # their mean is pred
    out = spectrum_floored(samples, lr, 4.0, "bicubic")
    expected = spectrum_floored(pred[None].astype(np.float32), lr, 4.0, "bicubic")[0]
    np.testing.assert_allclose(out.mean(axis=0), expected, atol=1e-5 * np.abs(expected).max())
    spread = (out[0] - out[1]) / 2  # the same linear filter: the spread is lifted with the mean
    lifted = np.fft.irfft(np.fft.rfft(0.3 * noise, axis=0) * floor_gain(interpolated, pred, 4.0)[:, None], n=128, axis=0)
    np.testing.assert_allclose(spread, lifted, atol=1e-5 * np.abs(lifted).max())


def test_empty_inputs_and_predictions_stay_finite_and_empty():
    lr = np.zeros((32, 8), np.float32)
    pred = band_limited(64, 16, 0.0, 0.5, 4)[None].astype(np.float32)
    np.testing.assert_allclose(spectrum_floored(pred, lr, 2.0, "bicubic"), pred, atol=1e-7)  # nothing to follow
    lr = np.random.default_rng(5).standard_normal((32, 8)).astype(np.float32)
    dead = spectrum_floored(np.zeros((1, 64, 16), np.float32), lr, 2.0, "bicubic")
    assert np.isfinite(dead).all() and np.abs(dead).max() == 0, "an empty prediction is not filled with anything"
