"""Synthetic pairs (datasets/synthetic.py) and the on-the-fly degradation (datasets/degrade.py)."""
import dataclasses
import json

import numpy as np
import pytest

from datasets.dat_io import read_dat
from datasets.degrade import bandlimited_noise, decimate, degrade
from datasets.synthetic import main, make_pairs
from tests.conftest import bicubic, psnr
from utils.config import load_config

SEED = 7


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def pairs(cfg):
    return make_pairs(6, SEED, cfg.synthetic)






def spectral_centroid(sections: np.ndarray, dt: float) -> np.ndarray:
    """Return the power-weighted mean frequency (Hz) along time of each (n, time, trace) section."""
    power = (np.abs(np.fft.rfft(sections, axis=1)) ** 2).mean(axis=2)
    freq = np.fft.rfftfreq(sections.shape[1], dt)
    return (power * freq).sum(axis=1) / power.sum(axis=1)


# ---- make_pairs ----

def test_same_seed_gives_identical_pairs(cfg, pairs):
    lr, hr = make_pairs(6, SEED, cfg.synthetic)
    assert np.array_equal(lr, pairs[0]) and np.array_equal(hr, pairs[1])


def test_different_seed_gives_different_pairs(cfg, pairs):
    lr, hr = make_pairs(2, SEED + 1, cfg.synthetic)
    assert not np.allclose(hr, pairs[1][:2])
    assert not np.allclose(lr, pairs[0][:2])


def test_first_pairs_do_not_depend_on_n(cfg, pairs):
    lr, hr = make_pairs(2, SEED, cfg.synthetic)
    assert np.array_equal(lr, pairs[0][:2]) and np.array_equal(hr, pairs[1][:2])


def test_shapes_dtype_and_finite(pairs):
    lr, hr = pairs
    assert lr.shape == (6, 128, 128) and hr.shape == (6, 256, 256)
    assert lr.dtype == np.float32 and hr.dtype == np.float32
    assert np.isfinite(lr).all() and np.isfinite(hr).all()
    assert np.allclose(hr.std(axis=(1, 2)), 1, atol=1e-3)


def test_hr_shape_is_traces_by_samples(cfg):
    lr, hr = make_pairs(1, SEED, cfg.synthetic, hr_shape=(96, 64))
    assert hr.shape == (1, 64, 96) and lr.shape == (1, 32, 48)  # (n, time, trace)


def test_lr_is_a_degraded_hr(pairs):
    lr, hr = pairs
    up = bicubic(lr)
    correlations = [np.corrcoef(u.ravel(), h.ravel())[0, 1] for u, h in zip(up, hr)]
    scores = [psnr(u, h) for u, h in zip(up, hr)]
    assert np.mean(correlations) > 0.5
    assert all(np.isfinite(scores)) and max(scores) < 30


def test_lr_holds_less_high_frequency_than_hr(cfg, pairs):
    lr, hr = pairs
    dt = cfg.synthetic.dt
    assert (spectral_centroid(lr, 2 * dt) < spectral_centroid(hr, dt)).all()


# ---- degrade ----

def test_degrade_halves_shape(cfg, pairs):
    lr = degrade(pairs[1][0], np.random.default_rng(0), cfg.degradation)
    assert lr.shape == (128, 128) and lr.dtype == np.float32 and np.isfinite(lr).all()


def test_degrade_is_deterministic_per_seed(cfg, pairs):
    hr = pairs[1][0]
    first = degrade(hr, np.random.default_rng(3), cfg.degradation)
    assert np.array_equal(first, degrade(hr, np.random.default_rng(3), cfg.degradation))
    assert not np.array_equal(first, degrade(hr, np.random.default_rng(4), cfg.degradation))


@pytest.mark.parametrize("antialias", [True, False])
def test_degrade_noise_grows_with_noise_std(cfg, pairs, antialias):
    hr = pairs[1][0]
    clean = decimate(hr.astype(np.float64), antialias)
    spread = []
    for std in (0.05, 0.2, 0.5):
        deg = dataclasses.replace(cfg.degradation, noise_std=[std, std], colored_noise_std=[0.0, 0.0],
                                  antialias=antialias)
        spread.append((degrade(hr, np.random.default_rng(0), deg) - clean).std())
    assert spread[0] < spread[1] < spread[2]
    assert spread[2] == pytest.approx(0.5 * clean.std(), rel=0.1)


def test_bandlimited_noise_stays_in_band():
    noise = bandlimited_noise((128, 64), [0.2, 0.4], np.random.default_rng(0))
    power = (np.abs(np.fft.rfft(noise, axis=0)) ** 2).sum(axis=1)
    freq = np.fft.rfftfreq(128) / 0.5
    in_band = (freq >= 0.2) & (freq <= 0.4)
    assert noise.std() == pytest.approx(1.0)
    assert power[in_band].sum() > 0.99 * power.sum()


# ---- command line ----

def test_cli_writes_paired_dat_files_and_meta(tmp_path, capsys):
    lr_dir, hr_dir = tmp_path / "nx2", tmp_path / "sx"
    argv = [f"data.lr_dir={lr_dir}", f"data.hr_dir={hr_dir}", "synthetic.n_pairs=3"]
    assert main(argv) == 0
    lr_files, hr_files = sorted(lr_dir.glob("*.dat")), sorted(hr_dir.glob("*.dat"))
    assert [p.name for p in lr_files] == [p.name for p in hr_files] == ["0000.dat", "0001.dat", "0002.dat"]
    assert all(p.stat().st_size == 128 * 128 * 4 for p in lr_files)
    assert all(p.stat().st_size == 256 * 256 * 4 for p in hr_files)
    cfg = load_config(None, argv)
    lr, hr = make_pairs(1, cfg.synthetic.seed, cfg.synthetic)
    assert np.array_equal(read_dat(lr_files[0], [128, 128]), lr[0])
    assert np.array_equal(read_dat(hr_files[0], [256, 256]), hr[0])
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["n_pairs"] == 3 and meta["hr_shape"] == [256, 256]
    # A second run into the same folders refuses rather than mixing two sets.
    assert main(argv) == 1
    assert "already holds 3 .dat files" in capsys.readouterr().err
