"""Real-section round trip: the forward model, data-consistency guidance, sample.py/eval.py round trip,
and self-supervised training on field sections with one held out."""
from __future__ import annotations

import json
from dataclasses import replace as replace_fields
from pathlib import Path

import numpy as np
import pytest
import torch

import eval as eval_script
import sample
import train
from datasets.dat_io import write_dat
from datasets.degrade import apply_deterministic_part, band_edge, forward_model, lowpass_time, signal_band_edge
from datasets.field_patches import FieldPatchSampler, held_out_field_stems, stretched_target
from diffusion.guidance import consistency_guidance, gaussian_lowpass, observed
from tests.conftest import bicubic
from utils.checkpoint import load_checkpoint, save_checkpoint
from utils.config import validate
from utils.errors import ConfigError, DataError
from utils.metrics import calibration, fit_std_scale


def layered_section(n_time: int = 64, n_trace: int = 48, seed: int = 0) -> np.ndarray:
    """Return a (time, trace) section of gently dipping band-limited reflectors."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time)[:, None] + 0.1 * np.arange(n_trace)[None, :]
    out = sum(rng.uniform(0.5, 1) * np.cos(2 * np.pi * f * t + rng.uniform(0, 6)) for f in rng.uniform(0.02, 0.3, 8))
    return out.astype(np.float32)


# ---------------------------------------------------------------- forward model

def test_band_narrowing_moves_the_band_edge_by_the_factor():
    section = np.random.default_rng(0).standard_normal((256, 32))  # a flat spectrum up to Nyquist
    edge = band_edge(section)
    narrowed = lowpass_time(section, 0.6 * edge)
    assert band_edge(narrowed) < 0.66 * edge
    assert band_edge(narrowed) > 0.45 * edge, "the band below the cut is kept"


def test_forward_model_is_decimation_plus_the_recorded_noise():
    section = layered_section()
    done = forward_model(section, np.random.default_rng(0), 0.6, 0.1, 0.05, [0.05, 0.4], True)
    assert done.lr.shape == (32, 24) and done.lr.dtype == np.float32
    clean = apply_deterministic_part(section, done.time_cutoff, True)
    np.testing.assert_allclose(clean, done.clean_lr, atol=1e-9)
    noise = done.lr - clean
    assert abs(np.sqrt(np.mean(noise ** 2)) - done.noise_rms) < 1e-5
    assert 0.08 < done.noise_rms / clean.std() < 0.14, "white 0.1 and coloured 0.05 of the decimated std"
    plain = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, [0.05, 0.4], True)
    assert plain.time_cutoff == 1.0 and plain.noise_rms == 0.0


def test_a_smooth_taper_weakens_the_band_below_the_cutoff_that_a_sharp_one_keeps():
    section = np.random.default_rng(0).standard_normal((512, 16))  # a flat spectrum up to Nyquist
    cutoff = 0.5
    power = lambda x: (np.abs(np.fft.rfft(x, axis=0)) ** 2).mean(axis=1)  # noqa: E731
    freq = np.linspace(0, 1, 257)
    half = (freq > 0.22) & (freq < 0.28)  # around half the cutoff
    gain = lambda taper: np.sqrt(power(lowpass_time(section, cutoff, taper))[half].sum() / power(section)[half].sum())  # noqa: E731
    assert gain(0.2) > 0.97, "a sharp edge passes everything well below the cutoff"
    assert 0.4 < gain(1.0) < 0.6, "a full raised cosine halves the amplitude at half the cutoff"
    above = freq > cutoff + 0.02
    assert power(lowpass_time(section, cutoff, 1.0))[above].sum() < 1e-3 * power(section)[above].sum(), "nothing passes above"


def test_recorded_noise_passed_the_anti_alias_filter_and_keeps_its_draw_and_level():
    from utils.config import load_config
    section = layered_section(256, 400)
    rt = load_config(None, ["roundtrip.noise_std=0.3"]).roundtrip
    flat, _ = sample.degrade_for_roundtrip(section, "line", rt)
    recorded, made = sample.degrade_for_roundtrip(section, "line", replace_fields(rt, noise_recorded=True))
    clean, _ = sample.degrade_for_roundtrip(section, "line", replace_fields(rt, noise_std=0.0, colored_noise_std=0.0))
    assert made["noise_recorded"] is True
    power = lambda x: (np.abs(np.fft.rfft(x - clean, axis=0)) ** 2).mean(axis=1)  # noqa: E731
    f = np.arange(len(power(flat))) / (len(power(flat)) - 1)
    top, below = f > 0.95, (f > 0.5) & (f < 0.75)
    assert power(recorded)[top].mean() < 0.1 * power(flat)[top].mean(), "quiet where the filter rolls off"
    assert power(recorded)[below].mean() == pytest.approx(power(flat)[below].mean(), rel=0.15), "the same noise below"
    assert np.std(recorded - clean) == pytest.approx(np.std(flat - clean), rel=1e-3), "its std is the recipe's"
    assert np.corrcoef(filter_time_lowpass(flat - clean).ravel(), (recorded - clean).ravel())[0, 1] > 0.99, "same draw"
    from datasets.degrade import depth_and_flaw_words
    assert depth_and_flaw_words(vars(replace_fields(rt, noise_recorded=True))) == "noise recorded through the anti-alias filter"


def filter_time_lowpass(x: np.ndarray) -> np.ndarray:
    """Return x with the anti-alias filter's time response (the top fifth of the band rolled off)."""
    return lowpass_time(np.asarray(x, dtype=np.float64), 1.0, 0.2)


def test_the_forward_model_and_its_noise_free_part_use_the_same_taper():
    section = layered_section()
    done = forward_model(section, np.random.default_rng(0), 0.6, 0.1, 0.05, [0.05, 0.4], True, taper=1.0)
    np.testing.assert_allclose(apply_deterministic_part(section, done.time_cutoff, True, 1.0), done.clean_lr, atol=1e-9)
    sharp = apply_deterministic_part(section, done.time_cutoff, True, 0.2)
    assert np.abs(sharp - done.clean_lr).max() > 1e-3, "the taper changes what the input holds"


def test_training_degradation_draws_the_taper_only_from_a_real_range(tiny_cfg):
    import dataclasses
    from datasets.degrade import degrade
    section = layered_section()
    deg = dataclasses.replace(tiny_cfg.degradation, band_factor=[0.6, 0.6], noise_std=[0.1, 0.1],
                              colored_noise_std=[0.0, 0.0])
    fixed = degrade(section, np.random.default_rng(3), dataclasses.replace(deg, band_taper=[0.2, 0.2]))
    rng = np.random.default_rng(3)
    rng.uniform(0.1, 0.1), rng.uniform(0.0, 0.0), rng.uniform(0.6, 0.6)  # the draws degrade makes before the noise
    np.testing.assert_array_equal(fixed, forward_model(section, rng, 0.6, 0.1, 0.0, deg.colored_band, deg.antialias).lr)
    smooth = [degrade(section, np.random.default_rng(s), dataclasses.replace(deg, band_taper=[0.2, 1.0]))
              for s in range(4)]
    clean = [forward_model(section, np.random.default_rng(s), 0.6, 0.0, 0.0, deg.colored_band, deg.antialias).lr
             for s in range(4)]
    assert max(np.abs(a - b).std() for a, b in zip(smooth, clean)) > 0.1 * clean[0].std(), \
        "a drawn smooth taper removes more than the noise alone explains"


def test_plain_fraction_makes_inputs_without_band_narrowing(tiny_cfg):
    import dataclasses
    from datasets.degrade import degrade
    section = layered_section()
    deg = dataclasses.replace(tiny_cfg.degradation, band_factor=[0.5, 0.6], noise_std=[0.0, 0.0],
                              colored_noise_std=[0.0, 0.0], band_taper=[0.2, 0.2])
    plain = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, deg.colored_band, deg.antialias).lr
    always = degrade(section, np.random.default_rng(1), dataclasses.replace(deg, plain_fraction=1.0))
    np.testing.assert_allclose(always, plain, atol=1e-6)
    never = degrade(section, np.random.default_rng(1), dataclasses.replace(deg, plain_fraction=0.0))
    assert np.abs(never - plain).max() > 0.05 * plain.std(), "without it the band is narrowed"
    hits = sum(np.allclose(degrade(section, np.random.default_rng(s), dataclasses.replace(deg, plain_fraction=0.25)),
                           plain, atol=1e-6) for s in range(200))
    assert 30 < hits < 70, f"about a quarter of the inputs are plain, got {hits} of 200"


def test_alias_fraction_decimates_a_share_of_inputs_without_the_anti_alias_filter(tiny_cfg):
    import dataclasses
    from datasets.degrade import degrade
    section = layered_section()
    deg = dataclasses.replace(tiny_cfg.degradation, band_factor=[1.0, 1.0], noise_std=[0.0, 0.0],
                              colored_noise_std=[0.0, 0.0], antialias=True)
    aliased = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, deg.colored_band, False).lr
    filtered = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, deg.colored_band, True).lr
    assert np.abs(aliased - filtered).max() > 0.05 * filtered.std(), "the filter matters for this section"
    np.testing.assert_allclose(degrade(section, np.random.default_rng(1), dataclasses.replace(deg, alias_fraction=1.0)),
                               aliased, atol=1e-6)
    np.testing.assert_allclose(degrade(section, np.random.default_rng(1), dataclasses.replace(deg, alias_fraction=0.0)),
                               filtered, atol=1e-6)
    hits = sum(np.allclose(degrade(section, np.random.default_rng(s), dataclasses.replace(deg, alias_fraction=0.25)),
                           aliased, atol=1e-6) for s in range(200))
    assert 30 < hits < 70, f"about a quarter of the inputs are aliased, got {hits} of 200"
    assert (degrade(section, np.random.default_rng(1), dataclasses.replace(deg, antialias=False, alias_fraction=0.0))
            == degrade(section, np.random.default_rng(1), dataclasses.replace(deg, antialias=False,
                                                                               alias_fraction=1.0))).all()


def test_point_sampling_takes_the_value_at_each_cell_centre_where_cell_means_soften_the_band_top():
    from datasets.degrade import decimate
    f = 0.15  # cycles per HR sample: 0.3 of the HR Nyquist, inside the anti-alias pass band
    t = np.arange(96)[:, None] + np.zeros((1, 64))
    section = np.cos(2 * np.pi * f * t + 0.4)
    centres = np.cos(2 * np.pi * f * (2 * np.arange(48) + 0.5) + 0.4)[:, None]  # LR sample i at HR 2i + 0.5
    inner = slice(8, 40)  # away from the mirrored ends
    for antialias in (True, False):
        points = decimate(section, antialias, "samples")
        assert points.shape == (48, 32)
        np.testing.assert_allclose(points[inner], np.broadcast_to(centres, points.shape)[inner], atol=0.02)
    cells = decimate(section, True, "cells")
    box = np.cos(np.pi * f)  # the mean of two samples half a period apart in phase
    np.testing.assert_allclose(cells[inner], box * np.broadcast_to(centres, cells.shape)[inner], atol=0.02)
    with pytest.raises(ValueError, match="decimation must be one of"):
        decimate(section, True, "median")


def test_blur_then_point_sampling_scales_a_cosine_by_the_gaussian_response_at_the_cell_centres():
    from datasets.degrade import BLUR_SIGMA, DECIMATIONS, decimate
    f = 0.15  # cycles per HR sample, as above
    t = np.arange(96)[:, None] + np.zeros((1, 64))
    section = np.cos(2 * np.pi * f * t + 0.4)
    centres = np.cos(2 * np.pi * f * (2 * np.arange(48) + 0.5) + 0.4)[:, None]
    response = np.exp(-2 * (np.pi * BLUR_SIGMA * f) ** 2)  # a Gaussian's gain at f; constant across traces
    inner = slice(8, 40)
    blurred = decimate(section, False, "blur")
    assert blurred.shape == (48, 32) and 0.5 < response < 0.7
    np.testing.assert_allclose(blurred[inner], response * np.broadcast_to(centres, blurred.shape)[inner], atol=0.02)
    from utils.config import load_config
    for by in DECIMATIONS:  # the config's list of choices is its own: it must name every decimation
        assert load_config(None, [f"roundtrip.decimation={by}"]).roundtrip.decimation == by


def test_the_two_image_resizers_keep_the_cell_centred_grid_and_skimage_agrees():
    from skimage.transform import rescale
    from datasets.degrade import decimate
    ramp = np.arange(64, dtype=np.float64)[:, None] + 0.5 * np.arange(48)[None, :]
    centres = 2 * np.arange(32)[:, None] + 0.5 + 0.5 * (2 * np.arange(24)[None, :] + 0.5)
    for by in ("gaussian", "bicubic", "cells"):  # (samples: band-limited, checked on a cosine above)
        np.testing.assert_allclose(decimate(ramp, False, by)[4:-4, 4:-4], centres[4:-4, 4:-4], atol=1e-6, err_msg=by)
    noise = np.random.default_rng(0).standard_normal((64, 48))
    np.testing.assert_allclose(decimate(noise, False, "gaussian"), rescale(noise, 0.5, anti_aliasing=True), atol=1e-12)
    gain = lambda by: decimate(noise, False, by).std() / decimate(noise, False, "samples").std()  # noqa: E731
    assert gain("gaussian") < gain("bicubic") < 1, "both blur white noise before sampling, Gaussian the more"


def test_point_sampled_round_trip_records_its_decimation_and_consistency_uses_it():
    section = layered_section()
    done = forward_model(section, np.random.default_rng(0), 0.6, 0.01, 0.0, [0.05, 0.4], True, decimation="samples")
    np.testing.assert_allclose(apply_deterministic_part(section, done.time_cutoff, True, 0.2, "samples"),
                               done.clean_lr, atol=1e-9)
    cells = apply_deterministic_part(section, done.time_cutoff, True, 0.2, "cells")
    assert np.abs(cells - done.clean_lr).max() > 0.02 * cells.std(), "the two decimations differ on this section"
    record = {"time_cutoff": done.time_cutoff, "antialias": True, "band_taper": 0.2, "noise_rms": done.noise_rms}
    assert eval_script.consistency(section, done.lr, {**record, "decimation": "samples"}) == pytest.approx(1.0, abs=1e-4)
    assert eval_script.consistency(section, done.lr, record) > 2, "an older record means cell means"
    import zlib
    from utils.config import load_config
    rt = load_config(None, ["roundtrip.decimation=samples"]).roundtrip
    lr, made = sample.degrade_for_roundtrip(section, "line", rt)
    assert made["decimation"] == "samples"
    rng = np.random.default_rng([rt.seed, zlib.crc32(b"line")])
    np.testing.assert_array_equal(lr, forward_model(section, rng, rt.band_factor, rt.noise_std, rt.colored_noise_std,
                                                    rt.colored_band, rt.antialias, rt.band_taper, "samples").lr)


def test_a_band_that_narrows_with_depth_is_whole_at_the_top_and_narrow_at_the_bottom():
    from datasets.degrade import lowpass_time_with_depth
    section = np.random.default_rng(0).standard_normal((1024, 16))  # a flat spectrum up to Nyquist
    np.testing.assert_array_equal(lowpass_time_with_depth(section, [0.6]), lowpass_time(section, 0.6))
    out = lowpass_time_with_depth(section, list(np.linspace(1.0, 0.3, 9)))
    power = lambda x: (np.abs(np.fft.rfft(x, axis=0)) ** 2).sum(axis=1)  # noqa: E731
    above = lambda x: power(x)[len(power(x)) // 2:].sum() / power(x).sum()  # noqa: E731  (share above 0.5 of Nyquist)
    top, bottom = slice(0, 80), slice(-80, None)
    assert above(out[top]) > 0.9 * above(section[top]), "the first depths keep the whole band"
    assert above(out[bottom]) < 0.05 * above(section[bottom]), "the last depths lose what lies above 0.3"
    np.testing.assert_allclose(out[0], section[0], atol=1e-9)  # cutoff 1 at the first sample: untouched


def test_a_round_trip_narrowed_with_depth_records_it_and_consistency_uses_it():
    from utils.config import load_config
    section = layered_section(128, 32)
    rt = load_config(None, ["roundtrip.band_factor=1.0", "roundtrip.band_factor_bottom=0.4",
                            "roundtrip.noise_std=0.01", "roundtrip.colored_noise_std=0"]).roundtrip
    lr, made = sample.degrade_for_roundtrip(section, "line", rt)
    assert made["band_factor_bottom"] == 0.4 and len(made["depth_cutoffs"]) == 9 and made["depth_cutoffs"][0] == 1.0
    assert eval_script.consistency(section, lr, made) == pytest.approx(1.0, abs=1e-4)
    assert eval_script.consistency(section, lr, {**made, "depth_cutoffs": None}) > 2, "the depth narrowing counts"
    even = replace_fields(rt, band_factor_bottom=1.0)
    np.testing.assert_array_equal(sample.degrade_for_roundtrip(section, "line", even)[0],
                                  sample.degrade_for_roundtrip(section, "line", replace_fields(rt, band_factor_bottom=None))[0])
    assert sample.degrade_for_roundtrip(section, "line", even)[1]["depth_cutoffs"] is None


def test_the_round_trips_flaws_spoil_only_their_share_and_count_as_noise():
    from datasets.degrade import add_bad_data
    from utils.config import load_config
    section = layered_section(256, 400)
    rt = load_config(None, []).roundtrip
    clean_lr, _ = sample.degrade_for_roundtrip(section, "line", rt)
    dead_rt = replace_fields(rt, dead_trace_rate=0.05)
    dead, made = sample.degrade_for_roundtrip(section, "line", dead_rt)
    zero = np.all(dead == 0, axis=0)
    assert 3 <= zero.sum() <= 20, "about 5 % of 200 traces"
    np.testing.assert_array_equal(dead[:, ~zero], clean_lr[:, ~zero]), "the noise draw is the recipe's without flaws"
    assert eval_script.consistency(section, dead, made) == pytest.approx(1.0, abs=1e-4), "dead traces count as noise"
    swell, made = sample.degrade_for_roundtrip(section, "line", replace_fields(rt, swell_trace_rate=0.1, swell_std=1.0))
    touched = np.any(swell != clean_lr, axis=0)
    assert 8 <= touched.sum() <= 35 and eval_script.consistency(section, swell, made) == pytest.approx(1.0, abs=1e-4)
    extra = (swell - clean_lr)[:, touched]
    power = np.abs(np.fft.rfft(extra, axis=0)) ** 2
    assert power[:len(power) // 5].sum() > 0.9 * power.sum(), "swell noise is low-frequency"
    assert 0.6 < extra.std() / clean_lr.std() < 1.6
    spikes = add_bad_data(clean_lr, np.random.default_rng(1), 0.0, 0.01, 0.0, 1.0)
    hit = spikes != clean_lr
    assert 0.005 < hit.mean() < 0.015 and np.abs(spikes[hit]).min() >= 2 * clean_lr.std() * 0.999
    rng = np.random.default_rng(2)
    assert add_bad_data(clean_lr, rng, 0.0, 0.0, 0.0, 1.0) is clean_lr and rng.random() == np.random.default_rng(2).random()
    from datasets.degrade import depth_and_flaw_words
    assert depth_and_flaw_words(vars(rt)) == ""
    assert depth_and_flaw_words(vars(replace_fields(rt, dead_trace_rate=0.03, spike_rate=0.001, band_factor_bottom=0.5))) \
        == "band x0.5 at the bottom, 3 % dead traces, 0.1 % spikes"


def test_consistency_is_not_measured_against_a_noise_that_was_not_added():
    section = layered_section()
    done = forward_model(section, np.random.default_rng(0), 0.6, 0.0, 0.0, [0.05, 0.4], True)
    assert done.noise_rms == 0.0
    record = {"time_cutoff": done.time_cutoff, "antialias": True, "band_taper": 0.2, "noise_rms": 0.0}
    assert eval_script.consistency(section, done.lr, record) is None, "no noise: no ratio (it was 1e28 before)"
    assert eval_script.format_consistency(None) == "n/a" and eval_script.format_consistency(1.234) == "1.23"


def test_samples_fraction_point_samples_a_share_of_the_training_inputs(tiny_cfg):
    import dataclasses
    from datasets.degrade import degrade
    section = layered_section()
    deg = dataclasses.replace(tiny_cfg.degradation, band_factor=[1.0, 1.0], noise_std=[0.0, 0.0],
                              colored_noise_std=[0.0, 0.0], antialias=True)
    points = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, deg.colored_band, True, decimation="samples").lr
    cells = forward_model(section, np.random.default_rng(0), 1.0, 0.0, 0.0, deg.colored_band, True).lr
    np.testing.assert_allclose(degrade(section, np.random.default_rng(1), dataclasses.replace(deg, samples_fraction=1.0)),
                               points, atol=1e-6)
    np.testing.assert_allclose(degrade(section, np.random.default_rng(1), deg), cells, atol=1e-6)
    hits = sum(np.allclose(degrade(section, np.random.default_rng(s), dataclasses.replace(deg, samples_fraction=0.25)),
                           points, atol=1e-6) for s in range(200))
    assert 30 < hits < 70, f"about a quarter of the inputs are point-sampled, got {hits} of 200"


def test_noise_recorded_fraction_records_the_noise_of_a_share_of_the_training_inputs(tiny_cfg):
    import dataclasses
    from datasets.degrade import degrade
    section = layered_section(256, 400)
    deg = dataclasses.replace(tiny_cfg.degradation, band_factor=[0.6, 0.6], noise_std=[0.3, 0.3],
                              colored_noise_std=[0.0, 0.0], antialias=True)
    plain = degrade(section, np.random.default_rng(1), deg)
    np.testing.assert_array_equal(plain, degrade(section, np.random.default_rng(1), dataclasses.replace(
        deg, noise_recorded_fraction=0.0))), "a share of 0 leaves the data as before"
    clean = degrade(section, np.random.default_rng(1), dataclasses.replace(deg, noise_std=[0.0, 0.0]))
    top = lambda x: (np.abs(np.fft.rfft(x - clean, axis=0)) ** 2)[-4:].mean()  # noqa: E731 (the noise above 0.94 of Nyquist)
    recorded = degrade(section, np.random.default_rng(1), dataclasses.replace(deg, noise_recorded_fraction=1.0))
    assert top(recorded) < 0.1 * top(plain), "recorded noise is quiet near the LR Nyquist"
    quiet = sum(top(degrade(section, np.random.default_rng(s), dataclasses.replace(deg, noise_recorded_fraction=0.25)))
                < 0.3 * top(plain) for s in range(80))
    assert 8 < quiet < 35, f"about a quarter of the inputs have recorded noise, got {quiet} of 80"


# ---------------------------------------------------------------- guidance

def test_guidance_pulls_the_low_band_of_x0_towards_the_input():
    g = torch.Generator().manual_seed(0)
    truth = gaussian_lowpass(torch.randn((1, 1, 64, 48), generator=g), 0.3)
    up = lambda x: torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)  # noqa: E731
    cond = observed(truth, up)
    wrong = truth + 0.5 * gaussian_lowpass(torch.randn((1, 1, 64, 48), generator=g), 0.1)  # wrong low band
    fix = consistency_guidance(cond, 1.0, 0.25, up)
    low_error = lambda x: gaussian_lowpass(x - truth, 0.1).pow(2).mean().sqrt().item()  # noqa: E731
    assert low_error(fix(wrong, 0.5)) < 0.3 * low_error(wrong)
    assert torch.equal(consistency_guidance(cond, 0.0, 0.25, up)(wrong, 0.5), wrong), "weight 0 changes nothing"


# ---------------------------------------------------------------- round trip through sample.py and eval.py

@pytest.fixture
def field_dir(tmp_path) -> Path:
    folder = tmp_path / "field"
    for i, name in enumerate(["alpha", "beta", "gamma"]):
        write_dat(folder / f"{name}_{48 - 2 * i}x{64 + i}.dat", layered_section(64 + i, 48 - 2 * i, seed=i))
    return folder


def test_roundtrip_scores_every_section_against_its_original(tiny_cfg, field_dir):
    train.main(tiny_cfg)
    tiny_cfg.data.field_dir = str(field_dir)
    tiny_cfg.sampling.input, tiny_cfg.eval.input = "roundtrip", "roundtrip"
    tiny_cfg.sampling.num_samples = 2
    sample.main(tiny_cfg)
    folder = Path(tiny_cfg.run.dir) / "roundtrip"
    record = json.loads((folder / "degradation.json").read_text())
    assert record["sections"]["gamma_44x66"]["reference_shape"] == [66, 44]  # (time, trace), already even
    assert record["sections"]["beta_46x65"]["reference_shape"] == [64, 46], "odd sizes are cropped to even"
    assert (folder / "beta_46x65_std.dat").stat().st_size == 64 * 46 * 4
    eval_script.main(tiny_cfg)
    scores = json.loads((folder / "metrics.json").read_text())
    assert sorted(scores["held_out"]["files"]) == ["alpha_48x64", "beta_46x65", "gamma_44x66"]
    assert "trained_on" not in scores, "this model was trained on no field section"
    assert (folder / "roundtrip.png").exists()
    rows, _ = eval_script.roundtrip_rows(tiny_cfg)
    for row in rows:  # the original explains its own degraded input exactly up to the noise
        section = record["sections"][row["name"]]
        assert abs(eval_script.consistency(row["original"], row["lr"], section) - 1.0) < 1e-3
        np.testing.assert_allclose(row["bicubic"], bicubic(row["lr"]))
    # K = 2 wrote std maps: calibrated on the held-out sections, each scaled by a fit on the others only
    calib = scores["calibration"]
    assert set(calib["per_section"]) == set(scores["held_out"]["files"]) and (folder / "reliability.png").exists()
    by_name = {r["name"]: r for r in rows}
    others = [by_name[n] for n in ("beta_46x65", "gamma_44x66")]
    expected = fit_std_scale([r["original"] for r in others], [r["pred"] for r in others], [r["std"] for r in others])
    assert calib["per_section"]["alpha_48x64"]["leave_one_out_scale"] == pytest.approx(expected)
    own = fit_std_scale([by_name["alpha_48x64"]["original"]], [by_name["alpha_48x64"]["pred"]], [by_name["alpha_48x64"]["std"]])
    assert own != pytest.approx(expected), "a section's own errors do not set its scale"
    pooled = calibration([r["original"] for r in rows], [r["pred"] for r in rows],
                         [r["std"] * calib["per_section"][r["name"]]["leave_one_out_scale"] for r in rows])
    assert calib["leave_one_out"]["coverage"] == pooled["coverage"]
    assert calib["raw"]["coverage"] == calibration([r["original"] for r in rows], [r["pred"] for r in rows],
                                                   [r["std"] for r in rows])["coverage"]
    per = [v["spearman_std_abs_error"] for v in calib["per_section"].values()]  # sections differ in units
    assert calib["raw"]["spearman_std_abs_error"] == pytest.approx(float(np.median(per)))
    # With std maps of the validation split, the scale fitted there (no real HR needed) is applied too
    assert "recalibrated" not in calib, "no validation std maps yet"
    tiny_cfg.sampling.input = "val"
    sample.main(tiny_cfg)
    eval_script.main(tiny_cfg)
    calib = json.loads((folder / "metrics.json").read_text())["calibration"]
    val, val_outputs = eval_script.read_predictions(tiny_cfg, "val")
    scale = fit_std_scale(val.hr, val_outputs["pred"], val_outputs["std"])
    assert calib["recalibrated"]["scale"] == pytest.approx(scale) and calib["recalibrated"]["fitted_on"].startswith("validation")
    assert calib["recalibrated"]["coverage"] == calibration([r["original"] for r in rows], [r["pred"] for r in rows],
                                                            [r["std"] for r in rows], scale)["coverage"]
    for r in rows:  # each section on its own at the same scale: how far one scale is from fitting every section
        own = calibration([r["original"]], [r["pred"]], [r["std"]], scale)["coverage"]
        assert calib["per_section"][r["name"]]["coverage_recalibrated"] == own
    one = [100 * v["coverage_recalibrated"]["1"] for v in calib["per_section"].values()]
    assert f"per section: {min(one):.1f} to {max(one):.1f} %" in eval_script.format_calibration(calib)


# ---------------------------------------------------------------- self-check blend (sampling.self_blend)

def test_blend_weight_is_the_share_of_the_detail_that_explains_the_target():
    rng = np.random.default_rng(0)
    interpolated, target = rng.standard_normal((2, 16, 12))
    assert sample.blend_weight(target, target, interpolated) == pytest.approx(1.0)
    assert sample.blend_weight(target, interpolated + 2 * (target - interpolated), interpolated) == pytest.approx(0.5)
    assert sample.blend_weight(target, interpolated - (target - interpolated), interpolated) == 0.0, "clipped at 0"
    assert sample.blend_weight(target, interpolated, interpolated) == 0.0, "no detail: no NaN, weight 0"


def fake_model(detail):
    """Return run(lrs, names, bar=None) like super_resolve: 3 samples each, interpolation + detail(lr, name, k)."""
    def run(lrs, names, bar=None):
        return [np.stack([bicubic(x) + detail(x, n, k) for k in range(3)]).astype(np.float32) for x, n in zip(lrs, names)]
    return run


def test_self_blend_keeps_a_model_that_explains_its_input_and_drops_one_that_does_not(tiny_cfg):
    lr, _ = sample.degrade_for_roundtrip(layered_section(64, 48), "a", tiny_cfg.roundtrip)  # (32, 24)
    weights = {}

    def right_one_octave_down(x, name, k):  # its self-check gives back the input exactly
        return lr - bicubic(x) if name.endswith("/self-check") else 0.3 * (k + 1) * np.cos(np.arange(2 * x.shape[0]))[:, None]

    raw = fake_model(right_one_octave_down)([lr], ["a"])[0]
    (kept,) = sample.self_blended(fake_model(right_one_octave_down), [lr], ["a"], tiny_cfg, weights=weights)
    assert weights["a"] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(kept, raw, atol=1e-5)

    def unrelated(x, name, k):  # detail that has nothing to do with the data
        return np.random.default_rng([len(name), k]).standard_normal((2 * x.shape[0], 2 * x.shape[1]))

    raw = fake_model(unrelated)([lr], ["a"])[0]
    (pulled,) = sample.self_blended(fake_model(unrelated), [lr], ["a"], tiny_cfg, weights=weights)
    w = weights["a"]
    assert 0 <= w < 0.1, "pulled almost all the way back to interpolation"
    np.testing.assert_allclose(pulled, bicubic(lr) + w * (raw - bicubic(lr)), atol=1e-4)
    np.testing.assert_allclose(pulled.std(axis=0), w * raw.std(axis=0), atol=1e-4)


def test_the_signal_band_edge_ignores_trace_biases():
    section = layered_section(64, 48)
    trace_bias = np.random.default_rng(1).normal(0.0, 2.0, section.shape[1]) * section.std()
    biased = section + 3 * section.std() + trace_bias
    assert signal_band_edge(biased) == signal_band_edge(section) == band_edge(section)
    assert band_edge(biased) < 0.5 * band_edge(section), "counted as band energy, the bias pulls the edge down"


@pytest.mark.parametrize("bands", [[], [0.5, 1.0, 1.67]])
def test_a_bias_on_the_input_moves_neither_the_self_check_nor_the_round_trip(tiny_cfg, bands):
    section = layered_section(64, 48)
    lr, done = sample.degrade_for_roundtrip(section, "a", tiny_cfg.roundtrip)  # (32, 24)
    bias = 3 * section.std()  # three times the signal
    biased_lr, biased_done = sample.degrade_for_roundtrip(section + bias, "a", tiny_cfg.roundtrip)
    assert biased_done["time_cutoff"] == done["time_cutoff"]
    np.testing.assert_allclose(biased_lr, lr + bias, atol=1e-4 * bias)
    tiny_cfg.sampling.self_blend_bands = bands

    def weights_of(x):
        def detail(coarser, name, k):  # one octave down: half the right answer plus as much unrelated detail
            if not name.endswith("/self-check"):
                return 0.1 * np.cos(np.arange(2 * coarser.shape[0]))[:, None] * np.ones(2 * coarser.shape[1])
            right = x - bicubic(coarser)
            return 0.5 * right + right.std() * np.random.default_rng(k).standard_normal(right.shape)

        found = {}
        sample.self_blended(fake_model(detail), [x], ["a"], tiny_cfg, weights=found)
        return np.atleast_1d(found["a"])

    plain = weights_of(lr)
    assert (plain > 0).any() and (plain < 1).any(), "the check is neither all nor nothing here"
    np.testing.assert_allclose(weights_of((lr + bias).astype(np.float32)), plain, atol=0.02)  # float32 rounding of the bias


def test_bands_are_measured_in_units_of_the_inputs_own_band_edge():
    # Input band edge at half its Nyquist = a quarter of the output's: bins k / 32 < 0.25 are below 1.
    band = sample.band_index(64, 0.5, [1.0])
    assert band.shape == (33,)
    assert (band[:8] == 0).all() and (band[8:] == 1).all()
    assert (sample.band_index(64, 0.5, [0.5, 1.0, 2.0]) == np.digitize(np.arange(33) / 8, [0.5, 1.0, 2.0])).all()


def two_tones(n_time=64, n_trace=5):
    """Return a low (bin 2) and a high (bin 20) time-frequency tone on an n_time output grid, (time, trace)."""
    t = np.arange(n_time)[:, None] * np.ones(n_trace)
    return np.cos(2 * np.pi * 2 * t / n_time), np.cos(2 * np.pi * 20 * t / n_time + 0.3)


def test_band_weights_are_fitted_band_by_band():
    low, high = two_tones()
    interpolated = np.random.default_rng(0).standard_normal(low.shape)
    edges = [1.0, 3.0]  # input edge 0.5: bins < 8 | 8-23 | >= 24
    pred = interpolated + low + high
    assert sample.band_blend_weights(interpolated + low + 0.5 * high, pred, interpolated, 0.5, edges) == \
        pytest.approx([1.0, 0.5, 0.0], abs=1e-9), "low kept, high halved, no detail in the top band: 0"
    assert sample.band_blend_weights(interpolated - low, pred, interpolated, 0.5, edges)[:2] == \
        pytest.approx([0.0, 0.0]), "detail against the target is clipped at 0"
    one = sample.blend_weight(interpolated + low + 0.5 * high, pred, interpolated)
    assert 0.5 < one < 1.0, "one weight for all mixes the two bands"


def test_band_weights_scale_each_band_of_every_sample():
    low, high = two_tones()
    detail = np.stack([low + high, 2 * low - high])  # (K, time, trace)
    np.testing.assert_allclose(sample.apply_band_weights(detail, 0.5, [1.0], [1.0, 1.0]), detail, atol=1e-9)
    np.testing.assert_allclose(sample.apply_band_weights(detail, 0.5, [1.0], [1.0, 0.0]), np.stack([low, 2 * low]),
                               atol=1e-9)
    np.testing.assert_allclose(sample.apply_band_weights(detail, 0.5, [1.0], [0.5, 0.25]),
                               np.stack([0.5 * low + 0.25 * high, low - 0.25 * high]), atol=1e-9)


def test_band_self_blend_keeps_the_band_the_model_gets_right_one_octave_down(tiny_cfg):
    lr, _ = sample.degrade_for_roundtrip(layered_section(64, 48), "a", tiny_cfg.roundtrip)  # (32, 24)
    tiny_cfg.sampling.self_blend_bands = [1.0]
    noise = lambda x, k: np.random.default_rng(k).standard_normal((2 * x.shape[0], 2 * x.shape[1]))  # noqa: E731

    def right_below_the_edge(x, name, k):  # exact input one octave down, plus noise above the input's band edge
        edge = band_edge(x)
        above = sample.apply_band_weights(noise(x, k), edge, [1.0], [0.0, 1.0])
        exact = lr - bicubic(x) if name.endswith("/self-check") else np.zeros_like(above)
        return sample.apply_band_weights(exact, edge, [1.0], [1.0, 0.0]) + above

    weights = {}
    raw = fake_model(right_below_the_edge)([lr], ["a"])[0]
    (blended,) = sample.self_blended(fake_model(right_below_the_edge), [lr], ["a"], tiny_cfg, weights=weights)
    low_w, high_w = weights["a"]
    assert low_w > 0.9 and high_w < 0.1, weights
    expected = bicubic(lr) + sample.apply_band_weights(raw - bicubic(lr), band_edge(lr), [1.0], [low_w, high_w])
    np.testing.assert_allclose(blended, expected, atol=1e-4)


@pytest.mark.parametrize("bands", [[], [1.0]])
def test_the_cautious_self_check_keeps_per_band_the_smaller_weight_of_its_two_recipes(tiny_cfg, bands):
    import copy
    lr, _ = sample.degrade_for_roundtrip(layered_section(64, 48), "a", tiny_cfg.roundtrip)  # (32, 24)
    tiny_cfg.sampling.self_blend_bands = bands
    aliased = replace_fields(tiny_cfg.roundtrip, **sample.ALIASED_SELF_CHECK)
    by_roundtrip = sample.degrade_for_roundtrip(lr, "a/self-check", tiny_cfg.roundtrip)[0]
    by_aliasing = sample.degrade_for_roundtrip(lr, "a/self-check", aliased)[0]
    assert np.abs(by_roundtrip - by_aliasing).max() > 0.01

    def detail(x, name, k):  # one octave down: right below the edge and wrong above it under roundtrip.*, the
        if not name.endswith("/self-check"):  # reverse under aliasing; for the input itself any detail
            return 0.1 * np.cos(np.arange(2 * x.shape[0]))[:, None] * np.ones(2 * x.shape[1])
        exact = lr - bicubic(x)
        below, above = (sample.apply_band_weights(exact, band_edge(x), [1.0], w) for w in ([1, 0], [0, 1]))
        if not bands:
            return exact if np.array_equal(x, by_roundtrip) else -exact
        return below - above if np.array_equal(x, by_roundtrip) else above - below

    def weights_under(cfg):
        found = {}
        sample.self_blended(fake_model(detail), [lr], ["a"], cfg, weights=found)
        return np.atleast_1d(found["a"])

    alone = weights_under(tiny_cfg)
    told = copy.deepcopy(tiny_cfg)
    told.roundtrip = aliased
    under_aliasing = weights_under(told)
    cautious = copy.deepcopy(tiny_cfg)
    cautious.sampling.self_blend_aliased = True
    both = weights_under(cautious)
    if bands:
        assert alone == pytest.approx([1, 0], abs=0.05) and under_aliasing == pytest.approx([0, 1], abs=0.05)
    else:
        assert alone[0] == pytest.approx(1) and under_aliasing[0] == 0
    np.testing.assert_allclose(both, np.minimum(alone, under_aliasing), atol=1e-9)
    assert [r.antialias for r in sample.self_check_recipes(cautious)] == [tiny_cfg.roundtrip.antialias, False]
    assert "sampling.self_blend_aliased" in sample.prediction_settings(cautious, 0)
    from benchmarks.recipes import RECIPES
    assert sample.ALIASED_SELF_CHECK == RECIPES["I"][0], "the cautious check is recipe I, as documented"


@pytest.mark.parametrize("bands", [[], [0.5, 1.0, 1.67]])
def test_self_blend_through_sample_py_records_its_weights(tiny_cfg, field_dir, bands):
    train.main(tiny_cfg)
    tiny_cfg.data.field_dir = str(field_dir)
    tiny_cfg.sampling.input, tiny_cfg.eval.input = "roundtrip", "roundtrip"
    folder = Path(tiny_cfg.run.dir) / "roundtrip"
    sample.main(tiny_cfg)
    raw = {row["name"]: row["pred"] for row in eval_script.roundtrip_rows(tiny_cfg)[0]}
    assert not (folder / "self_blend.json").exists()
    tiny_cfg.sampling.self_blend, tiny_cfg.sampling.self_blend_bands = True, bands
    sample.main(tiny_cfg)  # other settings: the earlier predictions are re-made
    weights = json.loads((folder / "self_blend.json").read_text())
    assert sorted(weights) == ["alpha_48x64", "beta_46x65", "gamma_44x66"]
    eval_script.main(tiny_cfg)
    assert json.loads((folder / "metrics.json").read_text())["self_blend"] == weights
    for row in eval_script.roundtrip_rows(tiny_cfg)[0]:
        w, detail = weights[row["name"]], raw[row["name"]] - row["bicubic"]
        assert np.all((0.0 <= np.asarray(w)) & (np.asarray(w) <= 1.0)) and np.size(w) == len(bands) + 1
        expected = sample.apply_band_weights(detail, band_edge(row["lr"]), bands, w) if bands else w * detail
        np.testing.assert_allclose(row["pred"], row["bicubic"] + expected, atol=1e-4)
    tiny_cfg.sampling.self_blend = False
    sample.main(tiny_cfg)
    assert not (folder / "self_blend.json").exists(), "a stale weights file goes with its predictions"


def test_input_guard_and_spectrum_floor_through_sample_py_are_applied_to_each_prediction(tiny_cfg, field_dir, monkeypatch):
    from datasets.input_guard import guarded
    train.main(tiny_cfg)
    tiny_cfg.data.field_dir = str(field_dir)
    tiny_cfg.sampling.input, tiny_cfg.eval.input = "roundtrip", "roundtrip"
    sample.main(tiny_cfg)
    raw = {row["name"]: row["pred"] for row in eval_script.roundtrip_rows(tiny_cfg)[0]}
    tiny_cfg.sampling.input_guard = 1.0
    follows = []
    rows = []
    cells = []
    monkeypatch.setattr(sample, "guarded", lambda *args: follows.append(args[4]) or rows.append(args[5])
                        or cells.append(args[6]) or guarded(*args))
    for amplitude, by_cells in (("input", False), ("prediction", False), ("prediction", True)):
        tiny_cfg.sampling.input_guard_amplitude, tiny_cfg.sampling.input_guard_cells = amplitude, by_cells
        follows.clear(), cells.clear()
        sample.main(tiny_cfg)  # a new setting: the predictions are re-made
        assert follows and set(follows) == {amplitude == "prediction"}, "sampling.input_guard_amplitude reaches the guard"
        assert set(rows) == {tiny_cfg.sampling.noise_from_rows}, "sampling.noise_from_rows reaches the guard"
        assert set(cells) == {by_cells}, "sampling.input_guard_cells reaches the guard"
        for row in eval_script.roundtrip_rows(tiny_cfg)[0]:
            expected = guarded(raw[row["name"]][None], row["lr"], 1.0, tiny_cfg.data.upsample_modes[0],
                               amplitude == "prediction", cells=by_cells)[0]
            assert np.abs(raw[row["name"]] - expected).max() > 1e-3 * np.abs(expected).max(), "the guard changes something"
            np.testing.assert_allclose(row["pred"], expected, atol=1e-4 * np.abs(expected).max())
    from datasets.spectrum_floor import spectrum_floored
    tiny_cfg.sampling.input_guard, tiny_cfg.sampling.spectrum_floor = 0.0, 1.5
    caps = []
    monkeypatch.setattr(sample, "spectrum_floored", lambda *args: caps.append(args[2]) or spectrum_floored(*args))
    sample.main(tiny_cfg)
    assert caps and set(caps) == {1.5}, "sampling.spectrum_floor reaches the floor"
    for row in eval_script.roundtrip_rows(tiny_cfg)[0]:
        expected = spectrum_floored(raw[row["name"]][None], row["lr"], 1.5, tiny_cfg.data.upsample_modes[0])[0]
        assert np.abs(raw[row["name"]] - expected).max() > 1e-3 * np.abs(expected).max(), "the floor changes something"
        np.testing.assert_allclose(row["pred"], expected, atol=1e-4 * np.abs(expected).max())


# ---------------------------------------------------------------- training on field sections

def test_the_last_field_section_is_held_out_unless_chosen():
    assert held_out_field_stems(["b", "a", "c"], []) == ["c"]
    assert held_out_field_stems(["b", "a", "c"], ["a"]) == ["a"]


def test_field_training_never_sees_the_held_out_section(tiny_cfg, field_dir):
    tiny_cfg.data.field_dir = str(field_dir)
    tiny_cfg.data.field_fraction, tiny_cfg.data.field_versions = 0.5, 2
    train.main(tiny_cfg)
    saved = load_checkpoint(Path(tiny_cfg.run.dir) / "checkpoints" / "last.pt")
    assert saved["field_sections"] == ["alpha_48x64", "beta_46x65"]
    tiny_cfg.sampling.input, tiny_cfg.eval.input = "roundtrip", "roundtrip"
    sample.main(tiny_cfg)
    eval_script.main(tiny_cfg)
    scores = json.loads((Path(tiny_cfg.run.dir) / "roundtrip" / "metrics.json").read_text())
    assert sorted(scores["trained_on"]["files"]) == ["alpha_48x64", "beta_46x65"]
    assert sorted(scores["held_out"]["files"]) == ["gamma_44x66"], "reported apart from the trained-on ones"


def test_stretched_field_targets_end_their_band_below_the_nyquist_and_unstretched_ones_draw_nothing():
    section = layered_section(128, 40)  # band up to 0.3 cycles per sample, i.e. 0.6 of the Nyquist
    rng = np.random.default_rng(0)
    target = stretched_target(section, rng, [2.0, 2.0])
    assert target.shape == (256, 40) and target.dtype == np.float32
    share_above = lambda x, f: (lambda p: p[int(f * len(p)):].sum() / p.sum())(  # noqa: E731
        (np.abs(np.fft.rfft(x * np.hanning(len(x))[:, None], axis=0)) ** 2).sum(axis=1))
    assert share_above(section, 0.5) > 0.1
    assert share_above(target, 0.35) < 1e-6, "the band, 0.6 of the Nyquist before, ends at 0.3 of it"
    state = np.random.default_rng(1).bit_generator.state
    same = np.random.default_rng(1)
    assert stretched_target(section, same, [1.0, 1.0]) is section
    assert same.bit_generator.state == state, "no stretch, no draw: earlier runs keep their random streams"


def test_field_time_stretch_gives_versions_of_several_lengths_and_bad_ranges_name_the_key(tiny_cfg):
    tiny_cfg.data.field_versions, tiny_cfg.data.field_time_stretch = 6, [1.0, 2.0]
    sampler = FieldPatchSampler([layered_section(64, 48)], ["alpha_48x64"], tiny_cfg.data, tiny_cfg.degradation, 0)
    lengths = {x0.shape[0] for _, x0 in sampler.versions}
    assert len(lengths) > 1 and min(lengths) >= 64 and max(lengths) <= 128
    x0, cond = sampler.draw(3)
    assert x0.shape == cond.shape == (3, 1, tiny_cfg.data.patch_size, tiny_cfg.data.patch_size)
    tiny_cfg.data.field_time_stretch = [0.5, 1.0]
    with pytest.raises(ConfigError, match="data.field_time_stretch"):
        validate(tiny_cfg)


def test_field_training_without_a_section_left_to_train_on_is_refused(tiny_cfg, tmp_path):
    folder = tmp_path / "one"
    write_dat(folder / "solo_40x64.dat", layered_section(64, 40))
    tiny_cfg.data.field_dir, tiny_cfg.data.field_fraction = str(folder), 0.5
    with pytest.raises(DataError, match="data.field_holdout"):
        train.main(tiny_cfg)


def test_mix_share_samples_a_tuned_run_with_weights_between_it_and_its_start(tiny_cfg, tmp_path):
    import copy
    train.main(tiny_cfg)
    start_cfg = copy.deepcopy(tiny_cfg)
    start_path = Path(tiny_cfg.run.dir) / "checkpoints" / "last.pt"
    tuned = copy.deepcopy(tiny_cfg)
    tuned.train.init_from, tuned.run.dir, tuned.train.max_steps = str(start_path), str(tmp_path / "tuned"), 4
    tuned.train.lr = 0.05  # far enough from the start that the mixed weights differ from both
    train.main(tuned)
    start, own = load_checkpoint(start_path)["ema"], load_checkpoint(Path(tuned.run.dir) / "checkpoints" / "last.pt")["ema"]
    moved = [key for key in own if own[key].is_floating_point() and not torch.equal(own[key], start[key])]
    assert moved, "the fine-tuning moved the weights"

    def weights(share: float, partner: str = "") -> dict:
        cfg = copy.deepcopy(tuned)
        cfg.sampling.mix_share, cfg.sampling.mix_checkpoint = share, partner
        return sample.load_model(cfg, torch.device("cpu")).net.state_dict()
    none, half, whole, named = weights(0.0), weights(0.5), weights(1.0), weights(1.0, str(start_path))
    assert all(torch.equal(none[key], own[key]) for key in own), "share 0: the tuned weights as trained"
    for key in moved:  # the partner is the run's own start (train.init_from) when none is named
        assert torch.allclose(half[key], 0.5 * (own[key] + start[key]), atol=1e-6), key
    assert all(torch.equal(whole[key], start[key]) and torch.equal(named[key], start[key]) for key in own), \
        "share 1: the start's weights exactly"

    # share 1 predicts exactly as the start does
    lr = np.random.default_rng(0).standard_normal((2, 32, 32)).astype(np.float32)

    def predictions(cfg) -> list:
        model = sample.load_model(cfg, torch.device("cpu"))
        return sample.make_predictor(model.cfg, model.net, torch.device("cpu"))(list(lr), ["a", "b"])
    at_start = copy.deepcopy(tuned)
    at_start.sampling.mix_share = 1.0
    from_start = predictions(start_cfg)
    assert all(np.array_equal(a, b) for a, b in zip(from_start, predictions(at_start)))
    assert not all(np.array_equal(a, b) for a, b in zip(from_start, predictions(tuned))), "the tuned run predicts otherwise"
    settings = sample.prediction_settings(copy.deepcopy(tuned), 4)
    assert settings["sampling.mix_share"] == 0.0 and "sampling.mix_checkpoint" in settings, "a new share re-makes predictions"


def test_mix_share_refuses_what_it_cannot_mix(tiny_cfg, tmp_path):
    import copy
    train.main(tiny_cfg)
    cfg = copy.deepcopy(tiny_cfg)
    cfg.sampling.mix_share = 0.5
    with pytest.raises(DataError, match="sampling.mix_share.*train.init_from is empty"):
        sample.load_model(cfg, torch.device("cpu"))
    wider = load_checkpoint(Path(tiny_cfg.run.dir) / "checkpoints" / "last.pt")
    wider["model_args"] = {**wider["model_args"], "base_channels": 2 * wider["model_args"]["base_channels"]}
    save_checkpoint(tmp_path / "wider.pt", wider)
    cfg.sampling.mix_checkpoint = str(tmp_path / "wider.pt")
    with pytest.raises(DataError, match="sampling.mix_checkpoint: .* holds another network"):
        sample.load_model(cfg, torch.device("cpu"))
    other_target = load_checkpoint(Path(tiny_cfg.run.dir) / "checkpoints" / "last.pt")
    other_target["config"]["diffusion"]["target"] = "x0" if tiny_cfg.diffusion.target != "x0" else "residual"
    save_checkpoint(tmp_path / "other_target.pt", other_target)
    cfg.sampling.mix_checkpoint = str(tmp_path / "other_target.pt")
    with pytest.raises(DataError, match="sampling.mix_checkpoint: .* other diffusion settings .*diffusion.target"):
        sample.load_model(cfg, torch.device("cpu"))
    cfg.sampling.mix_share = 1.5
    with pytest.raises(ConfigError, match="sampling.mix_share"):
        validate(cfg)


def test_init_from_starts_with_the_trained_weights(tiny_cfg, tmp_path):
    train.main(tiny_cfg)
    source = Path(tiny_cfg.run.dir) / "checkpoints" / "last.pt"
    tiny_cfg.train.init_from, tiny_cfg.run.dir = str(source), str(tmp_path / "finetune")
    state = train.new_training_state(tiny_cfg, torch.device("cpu"), None, 0)
    for key, value in load_checkpoint(source)["ema"].items():
        assert torch.equal(state.net.state_dict()[key], value), key
    tiny_cfg.model.base_channels = 16
    with pytest.raises(DataError, match="model.base_channels"):
        train.new_training_state(tiny_cfg, torch.device("cpu"), None, 0)
