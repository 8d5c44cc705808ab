"""utils.spectra: zero-phase time filtering, the best-filter ceiling used by the benchmarks, and time stretching."""
from __future__ import annotations

import numpy as np

from utils.spectra import best_time_filter, filter_time, stretch_time


def test_best_time_filter_recovers_a_known_filter_exactly():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12))
    gain = np.linspace(1.5, -0.3, 33)  # a boost, a roll-off and a sign flip
    target = filter_time(x, gain)
    assert np.allclose(best_time_filter(x, target), target, atol=1e-10)


def test_best_time_filter_never_does_worse_than_leaving_x_alone():
    rng = np.random.default_rng(1)
    target = rng.standard_normal((48, 10)).cumsum(0)
    x = target + 0.5 * rng.standard_normal(target.shape)
    fitted = best_time_filter(x, target)
    assert ((fitted - target) ** 2).sum() < ((x - target) ** 2).sum()
    # the fit is per frequency over all traces: it cannot be beaten by any other real gain
    other = filter_time(x, np.full(25, 0.9))
    assert ((fitted - target) ** 2).sum() <= ((other - target) ** 2).sum()


def test_best_time_filter_of_an_empty_band_is_zero_there():
    x = np.zeros((32, 4))
    x[:, 0] = np.cos(2 * np.pi * 3 * np.arange(32) / 32)  # only frequency bin 3
    target = np.ones((32, 4))
    out = best_time_filter(x, target)
    assert np.isfinite(out).all() and np.allclose(out, 0.0, atol=1e-12), "the mean is not in x: no gain can make it"


def test_stretching_in_time_samples_the_same_waveforms_more_finely():
    t = np.arange(120)[:, None]
    waves = lambda time: np.cos(2 * np.pi * 0.06 * time + np.array([0.0, 1.0])) + 0.5 * np.sin(2 * np.pi * 0.17 * time)  # noqa: E731
    stretched = stretch_time(waves(t), 1.6)
    assert stretched.shape == (192, 2)
    inner = slice(30, -30)  # the mirrored edges bend the ends a little
    assert np.abs(stretched - waves(np.arange(192)[:, None] / 1.6))[inner].max() < 1e-2
    np.testing.assert_allclose(stretch_time(waves(t), 2.0)[::2], waves(t), atol=1e-10)
    np.testing.assert_allclose(stretch_time(waves(t), 1.0), waves(t), atol=1e-10)
