"""The one scorer: metrics in physical units, and files whose HR target cannot be scored."""
from __future__ import annotations

import numpy as np

from tests.conftest import psnr
from utils.metrics import band_error_shares, compare_to_targets, format_table, section_metrics


def sections(seed: int = 0, shape=(32, 24)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(shape).cumsum(0)
    return target + 0.3 * rng.standard_normal(shape), target


def test_metrics_are_in_physical_units_with_the_hr_range():
    pred, target = sections()
    m = section_metrics(pred, target)
    assert abs(m["psnr"] - psnr(pred, target)) < 1e-9
    scaled = section_metrics(1000 * pred + 5, 1000 * target + 5)
    assert abs(scaled["psnr"] - m["psnr"]) < 1e-6 and abs(scaled["ssim"] - m["ssim"]) < 1e-4
    assert section_metrics(target, target)["lsd"] == 0.0


def test_constant_target_is_reported_per_file_and_left_out_of_the_means():
    pred, target = sections()
    flat = np.zeros_like(target)
    result = compare_to_targets(["a", "dead"], [target, flat], {"pred": [pred, pred], "bicubic": [pred + 0.1, flat]})
    assert result["n_files"] == 1 and list(result["files"]) == ["a"]
    assert "constant" in result["excluded"]["dead"]
    alone = section_metrics(pred, target)
    for metric, value in alone.items():
        assert np.isfinite(result["pred"][metric]["mean"])
        assert result["pred"][metric]["mean"] == value
    assert "left out of the means: dead" in format_table(result)


def test_means_and_gain_over_bicubic():
    (p1, t1), (p2, t2) = sections(1), sections(2)
    b1, b2 = t1 + 1.0 * np.random.default_rng(3).standard_normal(t1.shape), t2 + 1.0
    result = compare_to_targets(["x", "y"], [t1, t2], {"pred": [p1, p2], "bicubic": [b1, b2]})
    expected = np.mean([psnr(p1, t1), psnr(p2, t2)])
    assert abs(result["pred"]["psnr"]["mean"] - expected) < 1e-9
    assert abs(result["gain_db"] - (expected - np.mean([psnr(b1, t1), psnr(b2, t2)]))) < 1e-9


def test_band_error_shares_split_the_error_by_time_frequency():
    t = np.arange(200)[:, None]
    low = np.sin(2 * np.pi * 0.075 * t) * np.ones((1, 8))  # 0.15 of Nyquist: band 1 of 10
    high = 0.5 * np.sin(2 * np.pi * 0.375 * t) * np.ones((1, 8))  # 0.75 of Nyquist: band 7
    target = low + high
    shares = band_error_shares(low, target)  # a prediction that misses the high band entirely
    assert np.argmax(shares["target"]) == 1 and shares["target"][7] > 0.15
    np.testing.assert_allclose(shares["error"][7], shares["target"][7], rtol=1e-6)
    assert sum(shares["error"]) - shares["error"][7] < 1e-6
    np.testing.assert_allclose(sum(shares["target"]), 1.0)
    perfect = band_error_shares(target, target)
    assert max(perfect["error"]) == 0.0
