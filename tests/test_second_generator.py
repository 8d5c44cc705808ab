"""The second, independent generator: shapes, determinism, LR a degraded view of HR, files on disk."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import maximum_filter, median_filter

from benchmarks import second_generator as gen2
from datasets.dat_io import read_dat
from tests.conftest import bicubic

SIZE = 64  # HR side in the tests; LR is 32


def isolated_peak(section: np.ndarray) -> float:
    """Return the largest ratio of a sample's 3x3-median residual to its neighbours' (spikes: >> 1)."""
    resid = np.abs(section - median_filter(section, 3, mode="nearest"))
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    neighbours = maximum_filter(resid, footprint=ring, mode="nearest")
    big = resid > 3 * section.std()
    return float((resid[big] / np.maximum(neighbours[big], 1e-12)).max()) if big.any() else 0.0




def test_shapes_and_dtype():
    for size in (256, SIZE):
        lr, hr = gen2.make_pair(7, 0, size)
        assert lr.shape == (size // 2, size // 2) and hr.shape == (size, size)
        assert lr.dtype == np.float32 and hr.dtype == np.float32
        assert np.isfinite(lr).all() and np.isfinite(hr).all()
        assert hr.std() == pytest.approx(1.0, rel=1e-4)  # divided by the clean HR std
    with pytest.raises(ValueError, match="even"):
        gen2.make_pair(7, 0, 63)


def test_deterministic_by_seed_and_index():
    lr, hr = gen2.make_pair(3, 5, SIZE)
    lr2, hr2 = gen2.make_pair(3, 5, SIZE)
    assert np.array_equal(lr, lr2) and np.array_equal(hr, hr2)
    assert not np.array_equal(hr, gen2.make_pair(3, 6, SIZE)[1])
    assert not np.array_equal(hr, gen2.make_pair(4, 5, SIZE)[1])


def test_lr_positions_are_cell_centred():
    """The lateral filter puts LR trace j at HR trace 2j + 0.5 (input columns are traces -1 .. W)."""
    x = np.arange(-1, SIZE + 1, dtype=float)
    section = np.tile(x, (3, 1))
    assert np.allclose(gen2.lateral_average(section), 2 * np.arange(SIZE // 2) + 0.5)


def test_lr_is_a_degraded_view_of_hr():
    corr = []
    for i in range(8):
        lr, hr = gen2.make_pair(1, i, SIZE)
        corr.append(np.corrcoef(bicubic(lr).ravel(), hr.ravel())[0, 1])
    assert min(corr) > 0.3, corr
    assert max(corr) < 0.97, corr
    assert np.mean(corr) > 0.5, corr


def test_hr_is_clean_while_lr_can_have_spikes_and_dead_traces():
    hr_peaks, lr_peaks, lr_dead = [], [], []
    for i in range(16):
        lr, hr = gen2.make_pair(7, i, SIZE)
        assert hr.std(axis=0).min() > 0.05, f"pair {i}: HR has a dead trace"
        hr_peaks.append(isolated_peak(hr))
        lr_peaks.append(isolated_peak(lr))
        lr_dead.append(int(np.sum(np.all(lr == 0, axis=0))))
    assert max(hr_peaks) < 8, hr_peaks
    assert max(lr_peaks) > 8, lr_peaks
    assert sum(lr_dead) > 0


def test_files_match_make_pair_and_do_not_depend_on_n(tmp_path):
    gen2.write_pairs(tmp_path / "a", 2, 11, SIZE)
    gen2.write_pairs(tmp_path / "b", 3, 11, SIZE)
    for i in range(2):
        lr, hr = gen2.make_pair(11, i, SIZE)
        for root in ("a", "b"):
            assert np.array_equal(read_dat(tmp_path / root / "nx2" / f"{i:04d}.dat", (SIZE // 2, SIZE // 2)), lr)
            assert np.array_equal(read_dat(tmp_path / root / "sx" / f"{i:04d}.dat", (SIZE, SIZE)), hr)
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert meta["seed"] == 11 and meta["n"] == 3 and meta["hr_shape"] == [SIZE, SIZE]
    assert [p["index"] for p in meta["pairs"]] == [0, 1, 2]


def test_cli_refuses_a_folder_with_dat_files(tmp_path, capsys):
    out = tmp_path / "gen2"
    assert gen2.main(["--out", str(out), "--n", "1", "--hr-size", "32"]) == 0
    assert (out / "nx2" / "0000.dat").exists() and (out / "meta.json").exists()
    capsys.readouterr()
    assert gen2.main(["--out", str(out), "--n", "1", "--hr-size", "32"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "already holds .dat files" in err and "\n" not in err
    with pytest.raises(FileExistsError):
        gen2.write_pairs(out, 1, 0, 32)
