"""utils.spectra: zero-phase time filtering and the best-filter ceiling used by the benchmarks."""
from __future__ import annotations

import numpy as np

from utils.spectra import best_time_filter, filter_time


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
