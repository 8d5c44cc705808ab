"""Input guard (sampling.input_guard): the prediction stays near the input where the input holds signal."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from datasets.condition import upsample
from datasets.degrade import decimate, lowpass_time
from datasets.input_guard import (MAX_AMPLITUDE_GAIN, amplitude_gain, cell_gain, cell_snr, guard_gain, guard_reference,
                                  guarded, input_snr, interpolation_response)
from tests.conftest import band_limited
from utils.spectra import filter_time


def band_energy(x: np.ndarray, low: float, high: float) -> float:
    """Return the energy of x (time, trace) between low and high x the Nyquist along time."""
    power = (np.abs(np.fft.rfft(x, axis=0)) ** 2).sum(axis=1)
    f = np.arange(len(power)) / (len(power) - 1)
    return float(power[(f >= low) & (f < high)].sum())


@pytest.fixture
def narrowed_input():
    """An LR input (128, 32) whose band was cut at 0.5 of its Nyquist, plus white noise 1 % of its rms.

    Its signal is coherent across traces, as reflections are (white noise smoothed along the traces),
    so the time-frequency rows above the cut, which only the noise fills, tell the two apart.
    """
    rng = np.random.default_rng(0)
    coherent = gaussian_filter1d(rng.standard_normal((256, 64)), 3.0, axis=1, mode="wrap")
    spectrum = np.fft.rfft(decimate(coherent / coherent.std(), antialias=True), axis=0)
    spectrum[np.arange(len(spectrum)) / (len(spectrum) - 1) > 0.5] = 0  # the periodic spectrum the guard measures
    lr = np.fft.irfft(spectrum, n=128, axis=0)
    return lr + 0.01 * lr.std() * rng.standard_normal(lr.shape)


def test_input_snr_is_high_in_the_inputs_band_and_zero_above_its_cut_and_its_nyquist(narrowed_input):
    snr = input_snr(narrowed_input, 256)  # output bins: 129, the input's cut at 0.25 of the output Nyquist
    f = np.arange(129) / 128
    assert snr.shape == (129,)
    assert snr[(f > 0.02) & (f < 0.2)].min() > 100, "the input holds its own band"
    assert snr[(f > 0.3) & (f <= 0.5)].max() < 1.0, "above the cut the input is noise"
    assert (snr[f > 0.51] == 0).all(), "the input says nothing above its Nyquist"


def test_guard_pulls_back_detail_where_the_input_is_strong_and_keeps_it_where_it_is_noise(narrowed_input):
    reference = guard_reference(narrowed_input, "bicubic")
    spurious = band_limited(256, 64, 0.05, 0.2, 1)  # changes a band the input measured well
    restored = band_limited(256, 64, 0.3, 0.45, 2)  # fills the band the input lost
    samples = (reference + spurious + restored)[None].astype(np.float32)
    detail = guarded(samples, narrowed_input, 10.0, "bicubic")[0] - reference
    assert band_energy(detail, 0.05, 0.2) < 0.01 * band_energy(spurious, 0.05, 0.2)
    assert band_energy(detail, 0.3, 0.45) > 0.9 * band_energy(restored, 0.3, 0.45)
    assert band_energy(detail, 0.3, 0.45) < 1.01 * band_energy(restored, 0.3, 0.45)
    unguarded = guarded(samples, narrowed_input, 1e12, "bicubic")
    np.testing.assert_allclose(unguarded, samples, atol=1e-4 * samples.std())


def test_guard_by_cells_frees_only_the_wavenumbers_where_the_input_holds_no_signal(narrowed_input):
    """The fixture's signal is coherent across traces: its power falls with wavenumber to about the noise's near the
    input's trace Nyquist (measured: 0.7 of it over the top fifth), while the input's time band holds it 1e4 above."""
    rows = guard_gain(narrowed_input, 256, 1.0)
    rows = rows[np.abs(np.rint(np.fft.fftfreq(256) * 256)).astype(int)][:, None]  # on every FFT bin
    cells = cell_gain(narrowed_input, (256, 64), 1.0)
    f, k = np.abs(np.fft.fftfreq(256)) / 0.5, np.abs(np.fft.fftfreq(64)) / 0.5  # fractions of the output's Nyquists
    in_band = (f > 0.05) & (f < 0.2)
    assert cells.shape == (256, 64) and (cells >= rows - 1e-12).all(), "a cell never guards more than its time frequency"
    assert (cell_snr(narrowed_input, (256, 64))[:, k > 0.5] == 0).all(), "nothing beyond the input's trace Nyquist"
    assert np.allclose(cells[np.ix_(in_band, k > 0.5)], 1.0), "so there the model is free"
    assert cells[np.ix_(in_band, (k > 0.45) & (k <= 0.5))].mean() > 0.5, "mostly so where the input holds about its noise"
    assert np.allclose(cells[np.ix_(in_band, k < 0.05)], rows[in_band]), "where it holds the signal, as per time frequency"
    reference = guard_reference(narrowed_input, "bicubic")
    across = np.cos(2 * np.pi * 24 * np.arange(64) / 64)[None, :]  # 0.75 of the output's trace Nyquist
    beyond = band_limited(256, 1, 0.05, 0.2, 3) * across  # detail in the input's time band, beyond its traces
    spurious = band_limited(256, 64, 0.05, 0.2, 1)  # changes what the input measured well
    spurious = np.real(np.fft.ifft(np.fft.fft(spurious, axis=1) * (k < 0.1), axis=1))  # at its wavenumbers
    samples = (reference + beyond + spurious)[None]
    by_cells = guarded(samples, narrowed_input, 1.0, "bicubic", cells=True)[0] - reference
    by_rows = guarded(samples, narrowed_input, 1.0, "bicubic")[0] - reference
    kept = lambda detail, what: float((detail * what).sum() / (what * what).sum())  # noqa: E731
    assert kept(by_cells, beyond) > 0.99 and kept(by_rows, beyond) < 0.01, "only the cells let it through"
    assert kept(by_cells, spurious) < 0.01 and kept(by_rows, spurious) < 0.01, "both pull the rewrite back"


def test_guard_gain_falls_with_the_inputs_snr_and_rises_with_the_strength(narrowed_input):
    weak, strong = guard_gain(narrowed_input, 256, 1.0), guard_gain(narrowed_input, 256, 100.0)
    assert ((0 < weak) & (weak <= strong) & (strong <= 1)).all()
    assert weak[1:25].max() < 0.01 and weak[-60:].min() == 1.0


def test_reference_undoes_the_interpolators_loss_near_the_inputs_nyquist():
    k, n_out = 48, 256  # a tone at output bin 48: 0.375 of the output Nyquist, 0.75 of the input's
    hr_time = np.arange(n_out)[:, None] * np.ones((1, 16))
    lr = np.cos(2 * np.pi * k * (2 * np.arange(n_out // 2)[:, None] + 0.5) / n_out) * np.ones((1, 8))  # LR i at 2i + 0.5
    truth = np.cos(2 * np.pi * k * hr_time / n_out)
    amplitude = lambda x: np.abs(np.fft.rfft(x, axis=0))[k].mean()  # noqa: E731
    response = interpolation_response(n_out, "bicubic")
    assert response[0] == pytest.approx(1.0) and response[k] < 0.9, "bicubic loses amplitude near the input's Nyquist"
    assert amplitude(upsample(lr.astype(np.float32), "bicubic").numpy()) < 0.9 * amplitude(truth)
    assert amplitude(guard_reference(lr, "bicubic")) == pytest.approx(amplitude(truth), rel=0.03)


def test_a_dead_or_noiseless_input_gives_finite_output():
    dead = np.zeros((32, 8), dtype=np.float32)
    assert np.isfinite(input_snr(dead, 64)).all() and (input_snr(dead, 64) == 0).all()
    samples = np.random.default_rng(0).standard_normal((2, 64, 16)).astype(np.float32)
    tone = np.cos(np.pi * 0.25 * np.arange(32))[:, None] * np.ones((1, 8))  # no noise at all
    for follow in (False, True):
        for cells in (False, True):
            assert np.isfinite(guarded(samples, dead, 10.0, "bicubic", follow, cells=cells)).all()
            assert np.isfinite(guarded(samples, tone, 10.0, "bicubic", follow, cells=cells)).all()


def test_following_the_amplitude_lets_the_model_undo_a_roll_off_but_not_change_the_content(narrowed_input):
    reference = guard_reference(narrowed_input, "bicubic")
    f = np.arange(129) / 128
    undone = np.where((f > 0.1) & (f < 0.2), 1.5, 1.0)  # the model lifts a band the input measured well by 3.5 dB
    spurious = band_limited(256, 64, 0.05, 0.2, 1)  # and adds content of its own there
    samples = (filter_time(reference, undone) + spurious)[None]
    followed = guarded(samples, narrowed_input, 10.0, "bicubic", follow_amplitude=True)[0]
    kept = guarded(samples, narrowed_input, 10.0, "bicubic")[0]
    lifted = filter_time(reference, undone)
    assert band_energy(followed - lifted, 0.1, 0.2) < 0.02 * band_energy(spurious, 0.1, 0.2), \
        "the lift is kept and the content pulled back"
    assert band_energy(kept - reference, 0.1, 0.2) < 0.05 * band_energy(lifted - reference, 0.1, 0.2), \
        "without it the guard pulls the lift back too"
    assert band_energy(followed - kept, 0.01, 0.045) < 1e-6 * band_energy(reference, 0.01, 0.045), "nothing else moves"


def test_the_amplitude_gain_never_lowers_the_input_and_is_bounded(narrowed_input):
    reference = guard_reference(narrowed_input, "bicubic")
    assert np.allclose(amplitude_gain(reference, 0.5 * reference[None]), 1.0), "a weaker prediction lowers nothing"
    assert np.allclose(amplitude_gain(reference, np.stack([2 * reference, 4 * reference])), 3.0), "fitted to the mean"
    assert np.allclose(amplitude_gain(reference, 100 * reference[None]), MAX_AMPLITUDE_GAIN)


def test_noise_recorded_through_an_anti_alias_filter_is_not_taken_for_signal():
    """Recorded noise is quiet in the filter's roll-off; the guard's floor must not sit there."""
    from tests.test_noise_level import recorded_noise
    rng = np.random.default_rng(4)
    clean = lowpass_time(decimate(rng.standard_normal((256, 128)), antialias=True), 0.4)
    lr = clean + 0.2 * clean.std() * recorded_noise(clean.shape, 1.0, 5)
    f = np.arange(129) / 128  # output bins; the input's noise-only band 0.5-0.8 of its Nyquist is 0.25-0.4 here
    noise_band = (f > 0.27) & (f < 0.38)
    assert input_snr(lr, 256)[noise_band].max() < 1, "noise is measured as noise"
    assert input_snr(lr, 256)[(f > 0.02) & (f < 0.15)].min() > 5, "and the band the input holds as signal"
    before = input_snr(lr, 256, from_rows=False)  # sampling.noise_from_rows=false
    assert before[noise_band].min() > 1.5, "the quantile alone lands in the roll-off and calls the noise signal"
