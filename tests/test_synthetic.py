"""Synthetic pairs (datasets/synthetic.py) and the on-the-fly degradation (datasets/degrade.py)."""
import dataclasses
import hashlib
import json

import numpy as np
import pytest

from datasets.dat_io import read_dat
from datasets.degrade import bandlimited_noise, decimate, degrade
from datasets import synthetic
from datasets.synthetic import main, make_pair, make_pairs
from tests.conftest import bicubic, psnr
from utils.config import load_config
from utils.errors import ConfigError

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


# ---- levers that widen the synthetic world ----

# sha256 of lr.tobytes() + hr.tobytes() of make_pair(1234, i) with the default config, taken before
# the levers existed: at their defaults the generator must not change by one bit (on this numpy build).
DEFAULT_PAIR_SHA256 = ["ee30d2eff2bab0fc5cc59134044526da180a5f60b07e34d62fd91631bc629224",
                       "43e3dfaf7f75437e1db44269dfa5a4a0ff67486a6180541ac9a7098da4d2a637",
                       "651c6b279a075d3371f126836fbf9ff8487d100ab3062e185ae895382c063a5f"]

LEVERS = {  # one lever on at a time, and whether it may touch the HR
    "wavelets": ({"wavelets": ["ormsby", "butterworth"]}, True),
    "phase_rotation": ({"phase_rotation": [45.0, 90.0]}, True),
    "amplitude_decay": ({"amplitude_decay": [0.5, 1.0]}, True),
    "lateral_amplitude": ({"lateral_amplitude": [0.3, 0.5]}, True),
    "blocky_fraction": ({"blocky_fraction": 1.0}, True),
    "thin_bed_std": ({"thin_bed_std": 0.5}, True),
    "coherent_noise_std": ({"coherent_noise_std": [0.3, 0.5]}, False),
    "spike_rate": ({"spike_rate": [0.005, 0.01]}, False),
    "dead_trace_rate": ({"dead_trace_rate": [0.05, 0.1]}, False),
}


@pytest.fixture(scope="module")
def quiet(cfg):
    """The default synthetic settings without the Gaussian LR noise, so LR is the clean signal."""
    return dataclasses.replace(cfg.synthetic, noise_std=[0.0, 0.0], colored_noise_std=[0.0, 0.0])


def rms(x: np.ndarray, axis) -> np.ndarray:
    return np.sqrt((x.astype(np.float64) ** 2).mean(axis=axis))


def test_defaults_reproduce_the_generator_bit_for_bit(cfg):
    for i, expected in enumerate(DEFAULT_PAIR_SHA256):
        lr, hr = make_pair(1234, i, cfg.synthetic)
        assert hashlib.sha256(lr.tobytes() + hr.tobytes()).hexdigest() == expected, f"pair {i} changed"


@pytest.mark.parametrize("name", LEVERS)
def test_each_lever_changes_the_pair_and_lr_only_levers_keep_the_hr(cfg, name):
    overrides, touches_hr = LEVERS[name]
    wide = dataclasses.replace(cfg.synthetic, **overrides)
    for i in range(2):
        lr0, hr0 = make_pair(SEED, i, cfg.synthetic)
        lr, hr = make_pair(SEED, i, wide)
        assert lr.shape == lr0.shape and hr.shape == hr0.shape
        assert np.isfinite(lr).all() and np.isfinite(hr).all() and hr.std() == pytest.approx(1, abs=1e-3)
        assert not np.array_equal(lr, lr0)
        assert np.array_equal(hr, hr0) != touches_hr


@pytest.mark.parametrize("family", ["ricker", "ormsby"])
def test_zero_phase_wavelets_are_symmetric_and_rotated_ones_are_not(cfg, family):
    n = 512
    for phase, symmetric in ((0.0, True), (60.0, False)):
        syn = dataclasses.replace(cfg.synthetic, wavelets=[family], phase_rotation=[phase, phase])
        wavelet = synthetic.draw_wavelet(np.random.default_rng(0), syn)
        w = np.fft.irfft(synthetic.wavelet_spectrum(wavelet, 30.0, 0.002, n), n)  # time 0 at index 0
        asymmetry = np.abs(w[1:] - w[1:][::-1]).max() / np.abs(w).max()
        assert (asymmetry < 1e-9) == symmetric, f"{family} rotated by {phase} degrees"
        assert np.abs(w).max() == pytest.approx(1.0, abs=0.1)  # unit peak, up to the rotation


def test_ormsby_is_flat_topped_and_butterworth_is_causal(cfg):
    n, f_peak, dt = 1024, 30.0, 0.002
    freq = np.fft.rfftfreq(n, dt)
    syn = dataclasses.replace(cfg.synthetic, wavelets=["ormsby"])
    wavelet = synthetic.draw_wavelet(np.random.default_rng(0), syn)
    f1, f2, f3, f4 = f_peak * wavelet["corners"]
    plateau = (freq > f2) & (freq < f3)
    for family, flat in (("ormsby", True), ("ricker", False)):
        amplitude = np.abs(synthetic.wavelet_spectrum(dict(wavelet, family=family), f_peak, dt, n))
        assert (amplitude[plateau].min() > 0.999 * amplitude[plateau].max()) == flat, family
    assert np.abs(synthetic.wavelet_spectrum(wavelet, f_peak, dt, n))[freq > f4].max() == 0
    w = np.fft.irfft(synthetic.wavelet_spectrum(dict(wavelet, family="butterworth"), f_peak, dt, n), n)
    assert (w[n // 2:] ** 2).sum() < 1e-3 * (w ** 2).sum()  # negative times (wrapped) hold nothing


def spectral_centroid_ratio(syn, index: int) -> float:
    lr, hr = make_pair(SEED, index, syn)
    return spectral_centroid(lr[None], 2 * syn.dt)[0] / spectral_centroid(hr[None], syn.dt)[0]


def test_lr_freq_ratio_one_gives_an_lr_spectrum_like_the_hr(quiet):
    for ratio, low, high in ((1.0, 0.93, 1.05), (0.5, 0.0, 0.65)):
        syn = dataclasses.replace(quiet, hr_peak_freq=[20.0, 25.0], lr_freq_ratio=[ratio, ratio])
        for i in range(2):
            assert low < spectral_centroid_ratio(syn, i) < high, f"lr_freq_ratio {ratio}, pair {i}"


def test_a_peak_near_the_hr_nyquist_is_low_passed_before_the_lr_nyquist(quiet):
    # 100 Hz at dt 2 ms is 0.4 of the HR Nyquist and 0.8 of the LR one: cut there, the LR would
    # keep 4-8 % of its power in its top 5 % of frequencies; tapered, it keeps well under 1 %.
    syn = dataclasses.replace(quiet, hr_peak_freq=[100.0, 100.0], lr_freq_ratio=[1.0, 1.0])
    for i in range(2):
        lr, hr = make_pair(SEED, i, syn)
        assert np.isfinite(hr).all() and hr.std() == pytest.approx(1, abs=1e-3)
        power = (np.abs(np.fft.rfft(lr, axis=0)) ** 2).mean(axis=1)
        assert power[int(0.95 * len(power)):].sum() < 0.01 * power.sum()


def test_amplitude_decay_lowers_late_rms_in_hr_and_lr(quiet):
    syn = dataclasses.replace(quiet, amplitude_decay=[1.0, 1.0])
    for i in range(3):
        for before, after in zip(make_pair(SEED, i, quiet), make_pair(SEED, i, syn)):  # lr, then hr
            quarter = len(before) // 4
            late_to_early = [rms(x[-quarter:], None) / rms(x[:quarter], None) for x in (before, after)]
            # (t + T/4)^-1 falls from 1 at the top to 1/5 at the bottom.
            assert late_to_early[1] < 0.5 * late_to_early[0]


def test_lateral_amplitude_is_a_smooth_trace_gain_shared_by_hr_and_lr(quiet):
    syn = dataclasses.replace(quiet, lateral_amplitude=[0.5, 0.5])
    (lr0, hr0), (lr, hr) = make_pair(SEED, 0, quiet), make_pair(SEED, 0, syn)
    log_gain_hr = np.log(rms(hr, 0) / rms(hr0, 0))  # (trace,)
    log_gain_lr = np.log(rms(lr, 0) / rms(lr0, 0))  # (trace/2,)
    assert log_gain_hr.std() > 0.2
    assert np.abs(np.diff(log_gain_hr, 2)).max() < 0.02  # smooth: no trace-to-trace jumps
    # LR trace j sits at HR position 2 j + 0.5 and carries the same gain.
    at_lr = np.interp(2 * np.arange(len(log_gain_lr)) + 0.5, np.arange(len(log_gain_hr)), log_gain_hr)
    assert np.abs((log_gain_lr - log_gain_lr.mean()) - (at_lr - at_lr.mean())).max() < 0.01


def test_blocky_log_is_piecewise_constant_and_its_coefficients_are_its_contrasts():
    u_range = (-10.0, 300.0)
    tops, impedance = synthetic.draw_impedance(np.random.default_rng(0), u_range)
    assert len(impedance) == len(tops) + 1 and (impedance > 0).all()
    assert (np.diff(tops) > 0).all() and u_range[0] < tops[0] and tops[-1] < u_range[1]
    assert np.diff(tops).mean() > 1.5  # layers, not one interface per sample
    depths, coeffs = synthetic.impedance_reflectivity(tops, impedance)
    assert np.array_equal(depths, tops) and np.abs(coeffs).max() < 1
    # (1 + r) / (1 - r) = Z_below / Z_above, so the coefficients integrate back to the log.
    assert np.allclose(np.cumsum(2 * np.arctanh(coeffs)), np.log(impedance[1:] / impedance[0]))
    # Sampled on a fine grid, the log changes only across a top.
    u = np.linspace(*u_range, 20001)
    log = impedance[np.searchsorted(tops, u)]
    jumps = np.flatnonzero(np.diff(log))
    assert len(jumps) == len(tops) and ((u[jumps] < tops) & (tops <= u[jumps + 1])).all()


def test_blocky_fraction_picks_either_layer_model_per_section(cfg):
    syn = cfg.synthetic
    half, blocky = (dataclasses.replace(syn, blocky_fraction=p) for p in (0.5, 1.0))
    picks = []
    for i in range(8):
        hr_half, hr_none, hr_all = (make_pair(SEED, i, s)[1] for s in (half, syn, blocky))
        assert not np.array_equal(hr_none, hr_all)
        assert np.array_equal(hr_half, hr_none) or np.array_equal(hr_half, hr_all)
        picks.append(np.array_equal(hr_half, hr_all))
    assert 0 < sum(picks) < 8


def test_thin_bed_std_scales_only_the_thin_beds(cfg):
    u_range, n_time = (-5.0, 400.0), 256
    coeffs = {std: synthetic.draw_layers(np.random.default_rng(0), dataclasses.replace(cfg.synthetic,
                                         thin_bed_std=std), u_range, n_time)[1] for std in (0.0, 0.2, 0.5)}
    thin = np.arange(len(coeffs[0.0])) >= len(coeffs[0.0]) - int(u_range[1] - u_range[0])
    assert (coeffs[0.0][thin] == 0).all() and (coeffs[0.0][~thin] != 0).all()
    assert np.array_equal(coeffs[0.2][~thin], coeffs[0.0][~thin])
    assert np.allclose(coeffs[0.5][thin], 2.5 * coeffs[0.2][thin])
    assert coeffs[0.2][thin].std() == pytest.approx(0.2, rel=0.15)


def test_spikes_replace_lr_samples_and_never_touch_the_hr(quiet):
    syn = dataclasses.replace(quiet, spike_rate=[0.01, 0.01])
    (lr0, hr0), (lr, hr) = make_pair(SEED, 0, quiet), make_pair(SEED, 0, syn)
    assert np.array_equal(hr, hr0)
    hit = lr != lr0
    assert 0.005 < hit.mean() < 0.015
    assert (np.abs(lr[hit]) >= 2 * lr0.std() * (1 - 1e-5)).all()  # 2-6 clean LR stds


def test_dead_traces_are_zeroed_or_scaled_in_lr_only(quiet):
    syn = dataclasses.replace(quiet, dead_trace_rate=[0.1, 0.1])
    (lr0, hr0), (lr, hr) = make_pair(SEED, 0, quiet), make_pair(SEED, 0, syn)
    assert np.array_equal(hr, hr0)
    dead = (lr != lr0).any(axis=0)  # (trace/2,)
    assert 3 <= dead.sum() <= 30
    factor = rms(lr[:, dead], 0) / rms(lr0[:, dead], 0)
    assert (factor <= 0.3 + 1e-6).all() and np.allclose(lr[:, ~dead], lr0[:, ~dead])


def test_coherent_noise_is_dipping_lr_only_and_raises_the_misfit(cfg, quiet):
    syn = dataclasses.replace(quiet, coherent_noise_std=[0.5, 0.5])
    for i in range(3):
        (lr0, hr0), (lr, hr) = make_pair(SEED, i, quiet), make_pair(SEED, i, syn)
        assert np.array_equal(hr, hr0)
        noise = (lr - lr0).astype(np.float64)
        assert noise.std() == pytest.approx(0.5 * lr0.std(), rel=1e-3)
        # Coherent along a dip: neighbouring traces match best after a time shift, not before.
        best_lag, best_corr = [], []
        for a, b in zip(noise.T[:-1], noise.T[1:]):
            corr = [np.corrcoef(a[6:-6], np.roll(b, -lag)[6:-6])[0, 1] for lag in range(-6, 7)]
            best_lag.append(int(np.argmax(corr)) - 6)
            best_corr.append(max(corr))
        assert np.mean(best_corr) > 0.8 and np.mean(np.array(best_lag) != 0) > 0.6
    loud = dataclasses.replace(cfg.synthetic, coherent_noise_std=[0.5, 0.5])
    lr0, hr0 = make_pairs(3, SEED, cfg.synthetic)
    lr, hr = make_pairs(3, SEED, loud)
    assert np.array_equal(hr, hr0)
    assert np.abs(bicubic(lr) - hr).mean() > 1.1 * np.abs(bicubic(lr0) - hr0).mean()


def test_all_levers_on_give_finite_normalised_pairs(cfg):
    syn = load_config(None, WIDE_OVERRIDES).synthetic
    lr, hr = make_pairs(4, SEED, syn)
    assert np.isfinite(lr).all() and np.isfinite(hr).all()
    assert np.allclose(hr.std(axis=(1, 2)), 1, atol=1e-3)


WIDE_OVERRIDES = ["synthetic.wavelets=[ricker, ormsby, butterworth]", "synthetic.phase_rotation=[-90, 90]",
                  "synthetic.hr_peak_freq=[15, 80]", "synthetic.lr_freq_ratio=[0.5, 1.0]",
                  "synthetic.amplitude_decay=[0.0, 0.8]", "synthetic.lateral_amplitude=[0.0, 0.3]",
                  "synthetic.blocky_fraction=0.5", "synthetic.coherent_noise_std=[0.0, 0.3]",
                  "synthetic.spike_rate=[0.0, 0.002]", "synthetic.dead_trace_rate=[0.0, 0.05]"]


@pytest.mark.parametrize("override,key", [
    ("synthetic.wavelets=[]", "synthetic.wavelets"),
    ("synthetic.wavelets=[ricker, gabor]", "synthetic.wavelets"),
    ("synthetic.phase_rotation=[-200, 0]", "synthetic.phase_rotation"),
    ("synthetic.phase_rotation=[30, 10]", "synthetic.phase_rotation"),
    ("synthetic.amplitude_decay=[-0.1, 0.2]", "synthetic.amplitude_decay"),
    ("synthetic.lateral_amplitude=[0.3, 0.1]", "synthetic.lateral_amplitude"),
    ("synthetic.blocky_fraction=1.5", "synthetic.blocky_fraction"),
    ("synthetic.thin_bed_std=-0.1", "synthetic.thin_bed_std"),
    ("synthetic.coherent_noise_std=[0.2]", "synthetic.coherent_noise_std"),
    ("synthetic.spike_rate=[0.0, 1.5]", "synthetic.spike_rate"),
    ("synthetic.dead_trace_rate=[-0.1, 0.1]", "synthetic.dead_trace_rate"),
    ("synthetic.lr_freq_ratio=[0.5, 1.2]", "synthetic.lr_freq_ratio"),
    ("synthetic.hr_peak_freq=[30, 200]", "synthetic.hr_peak_freq"),
])
def test_bad_lever_values_raise_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


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
                                  antialias=antialias, band_factor=[1.0, 1.0])  # no band narrowing: pure noise
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
    assert meta["synthetic"]["wavelets"] == ["ricker"] and meta["synthetic"]["blocky_fraction"] == 0.0
    # A second run into the same folders refuses rather than mixing two sets.
    assert main(argv) == 1
    assert "already holds 3 .dat files" in capsys.readouterr().err
