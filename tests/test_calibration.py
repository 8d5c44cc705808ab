"""Posterior mean and std maps: K samples written by sample.py, scored and calibrated by eval.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import eval as eval_script
import sample
import train
from datasets.dat_io import read_dat
from utils.metrics import calibration, fit_std_scale


def gaussian_case(true_std: float, claimed_std: float, seed: int = 0):
    """Targets drawn around a zero mean with true_std, and std maps that claim claimed_std (varying per pixel)."""
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.5, 2.0, (3, 48, 40))
    targets = [true_std * s * rng.standard_normal(s.shape) for s in spread]
    return targets, [np.zeros_like(t) for t in targets], [claimed_std * s for s in spread]


def test_a_calibrated_std_covers_like_a_gaussian():
    result = calibration(*gaussian_case(1.0, 1.0))
    for z, nominal in result["nominal"].items():
        assert abs(result["coverage"][z] - nominal) < 0.02
    assert np.allclose(result["reliability"]["observed"], result["reliability"]["nominal"], atol=0.02)
    assert result["spearman_std_abs_error"] > 0.2, "where the std is larger, so is the error"


def test_an_overconfident_std_is_caught_and_one_scale_fixes_it():
    targets, means, stds = gaussian_case(2.0, 1.0)
    raw = calibration(targets, means, stds)
    assert raw["coverage"]["1"] < 0.45, "errors twice the claimed std"
    val = gaussian_case(2.0, 1.0, seed=1)
    scale = fit_std_scale(*val)  # fitted on other data, as on the validation split
    assert 1.8 < scale < 2.2
    fixed = calibration(targets, means, stds, scale)
    assert abs(fixed["coverage"]["1"] - 0.683) < 0.03 and abs(fixed["coverage"]["2"] - 0.954) < 0.02


def test_sample_and_eval_write_mean_std_one_sample_and_calibration(tiny_cfg):
    train.main(tiny_cfg)
    tiny_cfg.sampling.num_samples = 3
    sample.main(tiny_cfg)
    run = Path(tiny_cfg.run.dir)
    stems = json.loads((run / "split.json").read_text())["test"]
    for stem in stems:
        for kind in ("pred", "std", "sample0"):
            assert (run / "samples" / f"{stem}_{kind}.dat").stat().st_size == 64 * 64 * 4, kind
        assert not (run / "samples" / f"{stem}_sample1.dat").exists(), "all K only with save_samples"
    eval_script.main(tiny_cfg)
    scores = json.loads((run / "eval" / "metrics.json").read_text())
    assert {"pred", "sample", "bicubic"} <= set(scores)
    assert "raw" in scores["calibration"] and "recalibrated" not in scores["calibration"]
    assert "sampling.input=val" in scores["calibration"]["note"]
    tiny_cfg.sampling.input = "val"
    sample.main(tiny_cfg)
    eval_script.main(tiny_cfg)
    scores = json.loads((run / "eval" / "metrics.json").read_text())
    assert scores["calibration"]["recalibrated"]["fitted_on"].startswith("validation split")
    assert (run / "eval" / "reliability.png").exists()


def test_single_sample_runs_write_no_std(tiny_cfg):
    train.main(tiny_cfg)
    sample.main(tiny_cfg)
    eval_script.main(tiny_cfg)
    scores = json.loads((Path(tiny_cfg.run.dir) / "eval" / "metrics.json").read_text())
    assert "calibration" not in scores and "sample" not in scores
    assert not list((Path(tiny_cfg.run.dir) / "samples").glob("*_std.dat"))


@pytest.mark.parametrize("k", [2])
def test_sample_zero_of_k_is_the_single_sample_run(tiny_cfg, tmp_path, k):
    train.main(tiny_cfg)
    sample.main(tiny_cfg)
    run = Path(tiny_cfg.run.dir)
    single = {p.name: p.read_bytes() for p in (run / "samples").glob("*_pred.dat")}
    tiny_cfg.sampling.num_samples, tiny_cfg.sampling.overwrite = k, True
    sample.main(tiny_cfg)
    for name, data in single.items():
        sample0 = np.frombuffer((run / "samples" / name.replace("_pred", "_sample0")).read_bytes(), np.float32)
        np.testing.assert_allclose(sample0, np.frombuffer(data, np.float32), atol=1e-5)


def test_std_smoothing_and_spectral_match_are_what_sample_py_writes(tiny_cfg):
    train.main(tiny_cfg)
    s = tiny_cfg.sampling
    s.num_samples, s.save_samples, s.std_smoothing, s.spectral_match = 2, True, 2.0, 0.5
    sample.main(tiny_cfg)
    folder = Path(tiny_cfg.run.dir) / "samples"
    read = lambda path: read_dat(path, tiny_cfg.data.hr_shape)  # noqa: E731  (time, trace): the match runs along time
    stds = sorted(folder.glob("*_std.dat"))
    assert stds
    for path in stds:
        samples = np.stack([read(path.with_name(path.name.replace("_std", f"_sample{k}"))) for k in range(2)])
        np.testing.assert_allclose(read(path), sample.mean_and_std(samples, 2.0)[1], rtol=1e-5, atol=1e-7)
        assert np.abs(read(path) - sample.mean_and_std(samples)[1]).max() > 1e-4, "the per-pixel std is not it"
        pred = read(path.with_name(path.name.replace("_std", "_pred")))
        np.testing.assert_allclose(pred, sample.mean_and_std(samples, 0.0, 0.5)[0], rtol=1e-5, atol=1e-6)
        assert np.abs(pred - samples.mean(axis=0)).max() > 1e-4, "the plain mean is not it"


def test_std_written_after_the_self_check_and_guard_comes_from_the_models_own_draws(tiny_cfg):
    """The self-check and the guard pull every sample toward the input, so the written samples agree
    where the truth is no nearer (real sections: a tenth of it inside 1 std); the std must stay the
    spread of the model's draws (the same seeds without those steps) about the written samples' mean."""
    train.main(tiny_cfg)
    s = tiny_cfg.sampling
    s.num_samples, s.save_samples, s.std_smoothing, s.spectral_match = 2, True, 0.0, 0.0
    sample.main(tiny_cfg)
    folder = Path(tiny_cfg.run.dir) / "samples"
    read = lambda path: read_dat(path, tiny_cfg.data.hr_shape)  # noqa: E731
    stems = [p.name[:-len("_std.dat")] for p in sorted(folder.glob("*_std.dat"))]
    assert stems
    drawn = {n: np.stack([read(folder / f"{n}_sample{k}.dat") for k in range(2)]) for n in stems}
    s.self_blend, s.input_guard, s.overwrite = True, 1.0, True
    sample.main(tiny_cfg)
    for n in stems:
        moved = np.stack([read(folder / f"{n}_sample{k}.dat") for k in range(2)])
        assert np.abs(moved - drawn[n]).max() > 1e-3, "the self-check and guard moved the samples"
        expected = np.sqrt(((drawn[n].astype(np.float64) - moved.mean(axis=0)) ** 2).mean(axis=0))
        np.testing.assert_allclose(read(folder / f"{n}_std.dat"), expected, rtol=1e-4, atol=1e-6)
        assert np.abs(read(folder / f"{n}_std.dat") - moved.std(axis=0)).max() > 1e-4, "not the moved samples' spread"
    s.std_scale = 3.5  # the validation split's scale: only the written std changes
    sample.main(tiny_cfg)
    for n in stems:
        moved = np.stack([read(folder / f"{n}_sample{k}.dat") for k in range(2)])
        expected = np.sqrt(((drawn[n].astype(np.float64) - moved.mean(axis=0)) ** 2).mean(axis=0))
        np.testing.assert_allclose(read(folder / f"{n}_std.dat"), 3.5 * expected, rtol=1e-4, atol=1e-6)


def test_changed_sampling_settings_remake_predictions_and_drop_stale_std(tiny_cfg, capsys):
    """Without this, K = 4 after a K = 1 run kept the K = 1 means and wrote no std, and K = 1 after
    K = 4 left the old std maps for eval.py to score beside the new predictions."""
    train.main(tiny_cfg)
    sample.main(tiny_cfg)
    folder = Path(tiny_cfg.run.dir) / "samples"
    single = {p.name: p.read_bytes() for p in folder.glob("*_pred.dat")}
    sample.main(tiny_cfg)  # same settings: nothing is re-made
    assert "skipping them" in capsys.readouterr().out
    tiny_cfg.sampling.num_samples = 2
    sample.main(tiny_cfg)
    assert "sampling.num_samples 1 -> 2" in capsys.readouterr().out
    assert sorted(p.name.replace("_std", "_pred") for p in folder.glob("*_std.dat")) == sorted(single)
    assert any(folder.joinpath(name).read_bytes() != data for name, data in single.items()), "means re-made"
    tiny_cfg.sampling.num_samples = 1
    sample.main(tiny_cfg)
    assert not list(folder.glob("*_std.dat")) and not list(folder.glob("*_sample0.dat"))
    assert {p.name: p.read_bytes() for p in folder.glob("*_pred.dat")} == single


def test_a_changed_forward_model_remakes_what_it_decides(tiny_cfg, capsys):
    """The self-check degrades each input by roundtrip.*, and with data.source=degrade the held-out
    inputs come from degradation.*: predictions made under other values must not be kept."""
    tiny_cfg.data.source = "degrade"
    train.main(tiny_cfg)
    sample.main(tiny_cfg)
    capsys.readouterr()
    tiny_cfg.degradation.band_taper = [0.2, 1.0]
    sample.main(tiny_cfg)
    assert "degradation.band_taper [0.2, 0.2] -> [0.2, 1.0]" in capsys.readouterr().out
    sample.main(tiny_cfg)
    out = capsys.readouterr().out
    assert "skipping them" in out and "other settings" not in out, "same settings: nothing re-made"
    tiny_cfg.roundtrip.band_taper = 0.5
    sample.main(tiny_cfg)
    assert "other settings" not in capsys.readouterr().out, "roundtrip.* decides nothing without the self-check"
    tiny_cfg.sampling.self_blend = True
    sample.main(tiny_cfg)
    tiny_cfg.roundtrip.band_taper = 0.8
    sample.main(tiny_cfg)
    assert "roundtrip.band_taper 0.5 -> 0.8" in capsys.readouterr().out
