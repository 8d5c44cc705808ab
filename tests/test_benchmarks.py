"""Smoke runs of every benchmark at tiny sizes: each exits 0 and writes its JSON and PNG. No timing checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import train
from benchmarks import early_mean, macs, objectives, picked, quality_vs_steps, sample_speed, train_speed, transfer, val_sweep
from benchmarks.common import run_benchmark
from datasets.condition import upsample
from datasets.dat_io import read_dat, read_field, write_dat
from datasets.degrade import lowpass_time
from datasets.segy_io import to_input_grid
from datasets.heldout import load_heldout
from diffusion.schedule import make_schedule, sampling_gammas
from sample import chunked, load_model, make_net_fn, make_predictor
from tests.conftest import TINY_MODEL
from utils.config import ConfigError, load_config
from utils.metrics import section_metrics


@pytest.fixture(autouse=True)
def restore_threads():
    """The runs below pass --threads 1 (robust on a busy machine); put the test-wide count back after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run(module, argv: list[str]) -> int:
    return run_benchmark(module.main, argv + ["--threads", "1"], module.__doc__.splitlines()[0], module.add_flags)


def read_json(path) -> dict:
    assert path.exists(), path
    assert path.with_suffix(".png").exists()
    return json.loads(path.read_text())


def test_train_speed(toy_data, tmp_path):
    out = tmp_path / "bench"
    common = toy_data + TINY_MODEL + ["run.device=cpu", "train.batch_size=2", "--warmup", "0", "--out", str(out)]
    assert run(train_speed, common + ["--patches", "16,32", "--steps", "2", "--label", "tiny"]) == 0
    assert run(train_speed, common + ["--patches", "32", "--steps", "1", "--label", "other"]) == 0
    assert run(train_speed, common + ["--patches", "16", "--steps", "2", "--label", "tiny"]) == 0  # replaces its row
    result = read_json(out / "train_speed.json")
    assert [(r["label"], r["patch"]) for r in result["rows"]] == [("tiny", 32), ("other", 32), ("tiny", 16)]
    assert [r["n_measured"] for r in result["rows"]] == [2, 1, 2]
    assert all(0 <= r["data_share"] <= 1 for r in result["rows"])
    assert torch.get_num_threads() == 1 and result["machine"]["torch_threads"] == 1
    assert result["data"].startswith("8 pairs from")


def test_sample_speed(toy_data, tmp_path):
    field = tmp_path / "field" / "tiny_40x24.dat"  # 40 traces x 24 samples: tiled at 32 px after x2
    write_dat(field, np.random.default_rng(0).standard_normal((24, 40)).astype(np.float32))
    argv = toy_data + TINY_MODEL + ["run.device=cpu", "sampling.tile_size=32", "sampling.tile_overlap=8",
                                    "sampling.batch_size=2", "sampling.steps=2", "--levels", "2,3",
                                    "--batches", "1,2", "--probe-steps", "1", "--full-limit", "1e-9",
                                    "--mem-sizes", "16x16", "--field", str(field), "--label", "tiny"]
    assert run(sample_speed, argv) == 0
    result = read_json(tmp_path / "run" / "bench" / "sample_speed_tiny.json")
    assert [(r["kind"], r["levels"]) for r in result["levels"]] == [("image", 2), ("image", 3), ("field", 2),
                                                                    ("field", 3)]
    assert all(r["how"].startswith("scaled") for r in result["levels"])
    assert [r["tile"] for r in result["memory"]] == [0, 32]
    assert len(result["batches"]) == 2 and len(result["outside_network"]) == 4


def test_quality_vs_steps(tiny_cfg, toy_data, tmp_path):
    torch.set_num_threads(1)
    train.main(tiny_cfg)
    argv = toy_data + TINY_MODEL + ["run.device=cpu", "sampling.batch_size=2", "--n-files", "2",
                                    "--levels", "1,2", "--spacings", "log", "--etas", "0,1",
                                    "--k", "2", "--k-levels", "2"]
    assert run(quality_vs_steps, argv) == 0
    result = read_json(tmp_path / "run" / "bench" / "quality_vs_steps.json")
    assert len(result["rows"]) == 2 * 2 and result["n_files"] == 2
    methods = [b["method"] for b in result["baselines"]]
    assert methods == ["bicubic"] + ["single sample, log", "mean of 2 samples, log"] * 2
    assert all(np.isfinite(r["psnr"]) for r in result["rows"] + result["baselines"])


def test_macs(toy_data, tmp_path):
    argv = toy_data + TINY_MODEL + ["run.device=cpu", "--size", "32", "--repeats", "1", "--matmul", "64"]
    assert run(macs, argv) == 0
    (row,) = read_json(tmp_path / "run" / "bench" / "macs.json")["rows"]
    assert row["gmacs"] > 0 and row["gmacs_conv"] > row["gmacs_linear"] > 0


def test_mac_count_of_one_conv():
    from torch import nn

    class OneConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1, groups=2)

        def forward(self, x_t, cond, s):
            return self.conv(torch.cat([x_t, cond], 1))

    x = torch.zeros(1, 1, 5, 7)
    # 4 out channels x 35 pixels x (2 / 2 groups) x 9 taps
    assert macs.count_macs(OneConv(), x, x, torch.zeros(1)) == {"conv": 4 * 35 * 9, "linear": 0}


@pytest.fixture
def trained_tiny(tiny_cfg, toy_data, tmp_path):
    """A tiny model trained two steps on the toy pairs, and tiny field sections: the overrides that name them."""
    train.main(tiny_cfg)
    rng = np.random.default_rng(0)
    for name, (traces, samples) in {"east": (40, 36), "west": (36, 40)}.items():
        section = rng.standard_normal((samples, traces)).cumsum(0).astype(np.float32)
        write_dat(tmp_path / "field" / f"{name}_{traces}x{samples}.dat", section)
    return toy_data + TINY_MODEL + ["run.device=cpu", "sampling.steps=2", "sampling.batch_size=2",
                                    f"data.field_dir={tmp_path / 'field'}"]


def test_transfer(trained_tiny, tmp_path):
    out = tmp_path / "bench"
    argv = trained_tiny + ["--settings", "1:0,2:0.5", "--n-test", "2", "--gen2", str(tmp_path / "gen2"),
                           "--n-gen2", "2", "--base-data", "", "--out", str(out), "--label", "tiny",
                           "--recipe-c", "band_factor=0.75", "noise_std=0.15", "colored_noise_std=0"]
    assert run(transfer, argv) == 0
    result = json.loads((out / "transfer_tiny.json").read_text())
    assert [(r["num_samples"], r["guidance"]) for r in result["runs"]] == [(1, 0.0), (2, 0.5)]
    for entry in result["runs"]:
        assert sorted(entry["roundtrip_a"]["held_out"]["files"]) == ["east_40x36", "west_36x40"]
        assert entry["roundtrip_b"]["held_out"]["n_files"] == 2 and entry["second_generator"]["n_files"] == 2
        assert np.isfinite(entry["retention"])
        bands = entry["roundtrip_a"]["band_errors"]["east_40x36"]
        assert all(len(bands[key]) == 10 for key in ("original", "pred", "bicubic"))
        assert abs(sum(bands["original"]) - 1) < 1e-9 and min(bands["bicubic"]) >= 0
        for scored in (entry["roundtrip_a"]["held_out"], entry["own_test"], entry["second_generator"]):
            for metrics in scored["files"].values():  # the oracle ceiling: bicubic best filtered is never worse
                assert metrics["ceiling"]["psnr"] >= metrics["bicubic"]["psnr"] - 1e-6
    assert result["roundtrip_b"]["band_factor"] == 1.0, "recipe B is plain decimation"
    assert (result["roundtrip_c"]["band_factor"], result["roundtrip_c"]["noise_std"]) == (0.75, 0.15)
    assert result["roundtrip_c"]["colored_band"] == result["roundtrip_a"]["colored_band"], "keys not named stay as A"
    c, a = (result["runs"][0][r]["held_out"]["files"]["east_40x36"]["bicubic"]["psnr"] for r in ("roundtrip_c", "roundtrip_a"))
    assert c != a, "recipe C degrades differently from A"


def test_picked_scores_the_written_field_files_against_the_original(trained_tiny, tmp_path, capsys):
    out = tmp_path / "bench"
    assert run(picked, trained_tiny + ["--variants", "aa,raw", "--out", str(out), "--label", "tiny"]) == 0
    result = json.loads((out / "picked_tiny.json").read_text())
    assert list(result["results"]) == ["aa", "raw"] and result["field_grid"] == "input"
    east = read_field(tmp_path / "field" / "east_40x36.dat", True)  # (36 time, 40 traces)
    lr = picked.picked(east, "east", "raw")
    assert lr.shape == (18, 20) and np.std(lr - east[::2, ::2]) == pytest.approx(0.05 * np.std(east[::2, ::2]), rel=0.3)
    recorded, in_time = picked.picked(east, "east", "recorded"), lowpass_time(east.astype(np.float64), 0.5)[::2, ::2]
    assert np.std(recorded - in_time) == pytest.approx(0.05 * np.std(in_time), rel=0.3), "filtered in time only"
    written = out / "picked_tiny" / "raw"
    assert np.array_equal(read_field(written / "inputs" / "east_20x18.dat", True), lr), "the picked input as predicted"
    pred = read_dat(written / "run" / "field" / "east_40x36_pred.dat", (40, 36))
    bicubic = upsample(lr, "bicubic").numpy()
    files = result["results"]["raw"]["files"]["east"]
    assert files["pred"] == section_metrics(pred, east), "the .dat as written, against the original as it is"
    assert files["bicubic"] == section_metrics(to_input_grid(bicubic), east)
    assert files["bicubic_cell"] == section_metrics(bicubic, east)
    printed = capsys.readouterr().out
    assert "| aa | bicubic | 2 |" in printed and "| raw | bicubic_cell | 2 |" in printed
    assert run(picked, trained_tiny + ["--variants", "aa,blur", "--out", str(out)]) == 2
    assert "--variants: unknown blur" in capsys.readouterr().err


def test_a_fine_tuning_run_prints_a_comparison_with_its_start_that_runs(trained_tiny, tiny_cfg, tmp_path, capsys):
    import copy
    import shlex

    from benchmarks import transfer_summary
    tuned = copy.deepcopy(tiny_cfg)
    tuned.run.dir, tuned.data.field_dir = str(tmp_path / "mine"), str(tmp_path / "field")
    tuned.train.init_from = str(tmp_path / "run" / "checkpoints" / "last.pt")
    tuned.data.field_fraction, tuned.data.field_holdout = 0.5, ["west_36x40"]
    capsys.readouterr()
    train.main(tuned)
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines() if line.startswith("python -m benchmarks.")]
    assert [c[2] for c in commands] == ["benchmarks.transfer", "benchmarks.transfer", "benchmarks.transfer_summary"]
    for command in commands[:2]:  # the second generator goes to tmp_path, not to the repository's data/gen2
        assert run(transfer, command[3:] + ["--gen2", str(tmp_path / "gen2")]) == 0
    assert transfer_summary.main(commands[2][3:]) == 0
    lines = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.count(" | ") == 3]
    listed = {(cells[0].strip("| "), cells[1].split(":")[0], cells[2]) for cells in lines[2:]}
    assert {("start", r, "east") for r in "ABQ"} | {("start", r, "west") for r in "ABQ"} <= listed
    assert {("tuned", r, "west") for r in "ABQ"} <= listed and not any(m == "tuned" and n == "east" for m, _, n in listed)
    # The held-out check train.py ran: west alone, the same figures as the two transfer runs above.
    check = json.loads((tmp_path / "mine" / "held_out_check.json").read_text())
    assert [(c["section"], c["recipe"]) for c in check["cases"]] == [("west_36x40", r) for r in "ABQ"]
    assert all(abs(c["tuned"]["pred"]["psnr"] - c["start"]["pred"]["psnr"]) > 1e-3 for c in check["cases"]), \
        "start and tuned predict differently, so the comparison below tells them apart"
    bench = tmp_path / "mine" / "bench"
    for model in ("start", "tuned"):
        scored = json.loads((bench / f"transfer_{model}.json").read_text())["runs"][0]
        for case in check["cases"]:
            files = scored[f"roundtrip_{case['recipe'].lower()}"]["held_out"]["files"]["west_36x40"]
            for kind in ("pred", "bicubic"):  # equal up to the float rounding of the CPU threads each call used
                assert case[model][kind] == pytest.approx(files[kind], rel=1e-6), (model, case["recipe"], kind)
    tiny_cfg.train.init_from = ""
    assert train.comparison_commands(tiny_cfg) == [], "nothing to compare without a fine-tuning on field sections"


def test_the_held_out_check_flags_a_tuned_model_worse_than_its_start():
    from benchmarks.held_out_check import WORSE_BY, flagged

    def case(pred: float, bicubic: float = 20.0) -> dict:
        return {"pred": {"psnr": pred}, "bicubic": {"psnr": bicubic}}
    assert flagged(case(25.0), case(25.0 - WORSE_BY)).startswith("-0.05 dB")
    assert flagged(case(25.0), case(25.0 - 0.8 * WORSE_BY)) == "", "a rounding-level move is not flagged"
    assert flagged(case(20.02), case(19.99)) == "PSNR below bicubic's, its start's above"
    assert flagged(case(19.0), case(19.5)) == "" and flagged(case(19.5), case(19.48)) == "", "both below: no new loss"
    assert flagged(case(25.0), case(26.0)) == ""


def test_a_flagged_check_tries_only_the_safer_settings_that_change_the_run(tiny_cfg):
    from benchmarks.held_out_check import overrides_text, safer_settings, tuning_advice
    tiny_cfg.sampling.self_blend = True
    assert safer_settings(tiny_cfg) == [{"self_blend_aliased": True}, {"mix_share": 0.5},
                                        {"mix_share": 0.5, "self_blend_aliased": True}]
    assert overrides_text(safer_settings(tiny_cfg)[2]) == "sampling.mix_share=0.5 sampling.self_blend_aliased=true"
    tiny_cfg.sampling.mix_share = 0.75  # a run mixed already keeps its own share: only the cautious check is added
    assert safer_settings(tiny_cfg) == [{"self_blend_aliased": True}]
    tiny_cfg.sampling.mix_share, tiny_cfg.sampling.self_blend_aliased = 0.0, True
    assert safer_settings(tiny_cfg) == [{"mix_share": 0.5}]
    tiny_cfg.sampling.self_blend, tiny_cfg.sampling.self_blend_aliased = False, False  # no self-check to make cautious
    assert safer_settings(tiny_cfg) == [{"mix_share": 0.5}]
    assert "data.field_time_stretch=[1.0,2.0]" in tuning_advice(tiny_cfg)
    tiny_cfg.data.field_time_stretch = [1.0, 2.0]
    assert tuning_advice(tiny_cfg) == ""


def test_the_check_advises_the_setting_that_clears_every_case_else_the_smallest_loss():
    from benchmarks.held_out_check import safest, sampling_advice

    def tried(name: str, flagged: int, mean: float, worst: float) -> dict:
        return {"overrides": name, "summary": {"flagged": flagged, "cases": 12, "mean_vs_start_db": mean,
                                               "worst_vs_start_db": worst}}
    small_loss, many_small = tried("few", 2, -0.07, -1.24), tried("many", 4, -0.01, -0.28)
    assert safest([small_loss, many_small]) is many_small, "a 1.2 dB loss weighs more than three 0.2 dB ones"
    assert "smallest loss: many" in sampling_advice([small_loss, many_small])
    cleared, cleared_better = tried("clear", 0, -0.02, -0.04), tried("clear+", 0, +0.10, -0.03)
    assert safest([many_small, cleared, cleared_better]) is cleared_better
    assert sampling_advice([cleared]).startswith(" Sampled with clear the tuned run is flagged on none of the cases")
    assert safest([]) is None and sampling_advice([]) == ""


def test_the_held_out_check_compares_a_mixed_run_with_its_start_as_it_is(tiny_cfg):
    from benchmarks.held_out_check import check_models
    tiny_cfg.train.init_from, tiny_cfg.sampling.mix_share = "runs/start/checkpoints/last.pt", 0.5
    models = check_models(tiny_cfg)
    assert models["tuned"].sampling.mix_share == 0.5 and models["start"].sampling.mix_share == 0.0
    assert models["start"].sampling.checkpoint == "runs/start/checkpoints/last.pt"


def test_the_held_out_check_can_be_turned_off_and_needs_a_start(trained_tiny, tiny_cfg, tmp_path, capsys):
    import copy

    from benchmarks import held_out_check
    tuned = copy.deepcopy(tiny_cfg)
    tuned.run.dir, tuned.data.field_dir = str(tmp_path / "mine"), str(tmp_path / "field")
    tuned.train.init_from = str(tmp_path / "run" / "checkpoints" / "last.pt")
    tuned.data.field_fraction, tuned.data.field_holdout = 0.5, ["west_36x40"]
    tuned.train.held_out_check = False
    train.main(tuned)
    assert not (tmp_path / "mine" / "held_out_check.json").exists() and "held-out check" not in capsys.readouterr().out
    out = tmp_path / "check"
    assert run(held_out_check, trained_tiny + [f"run.dir={tmp_path / 'mine'}", f"train.init_from={tuned.train.init_from}",
                                               "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held-out check: the tuned model" in printed and (out / "held_out_check.json").exists()
    assert run(held_out_check, trained_tiny + [f"run.dir={tmp_path / 'mine'}"]) == 2
    assert "train.init_from" in capsys.readouterr().err


def test_a_flagged_check_scores_the_tuned_run_under_each_safer_setting(trained_tiny, tiny_cfg, tmp_path, capsys,
                                                                      monkeypatch):
    import copy

    from benchmarks import held_out_check
    tuned = copy.deepcopy(tiny_cfg)
    tuned.run.dir, tuned.data.field_dir = str(tmp_path / "mine"), str(tmp_path / "field")
    tuned.train.init_from = str(tmp_path / "run" / "checkpoints" / "last.pt")
    tuned.data.field_fraction, tuned.data.field_holdout, tuned.train.held_out_check = 0.5, ["west_36x40"], False
    train.main(tuned)
    monkeypatch.setattr(held_out_check, "WORSE_BY", -1e9)  # every case flagged, so the safer settings are tried
    sampled_with, round_trips = [], held_out_check.round_trips

    def recorded(model_cfg, *args):
        sampled_with.append((model_cfg.sampling.checkpoint, model_cfg.sampling.mix_share,
                             model_cfg.sampling.self_blend_aliased))
        return round_trips(model_cfg, *args)
    monkeypatch.setattr(held_out_check, "round_trips", recorded)
    out = tmp_path / "check"
    assert run(held_out_check, trained_tiny + [f"run.dir={tmp_path / 'mine'}", f"train.init_from={tuned.train.init_from}",
                                               "sampling.self_blend=true", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    check = json.loads((out / "held_out_check.json").read_text())
    assert [t["overrides"] for t in check["safer"]] == ["sampling.self_blend_aliased=true", "sampling.mix_share=0.5",
                                                        "sampling.mix_share=0.5 sampling.self_blend_aliased=true"]
    checked = {(c["section"], c["recipe"]): c["tuned"]["pred"]["psnr"] for c in check["cases"]}
    for tried in check["safer"]:
        assert [(c["section"], c["recipe"]) for c in tried["cases"]] == list(checked)
        assert all(c["start"] == s["start"] for c, s in zip(tried["cases"], check["cases"])), "one start for all"
        assert tried["summary"]["flagged"] == len(checked) and tried["overrides"] in printed
    start = tuned.train.init_from  # a two-step model need not predict otherwise under them: the settings used are read
    assert sampled_with == [("", 0.0, False), (start, 0.0, False), ("", 0.0, True), ("", 0.5, False), ("", 0.5, True)]
    assert check["advised"]["overrides"] in [t["overrides"] for t in check["safer"]]
    assert "No safer sampling setting clears every case; the smallest loss:" in printed
    # sample.py on the tuned run then names what its check found and advised
    (tmp_path / "mine" / "held_out_check.json").write_text((out / "held_out_check.json").read_text())
    import sample
    sample.main(load_config(None, trained_tiny + [f"run.dir={tmp_path / 'mine'}", "sampling.self_blend=true"]))
    assert f"it advised sampling with {check['advised']['overrides']}" in capsys.readouterr().out


def test_sample_py_names_what_the_runs_held_out_check_found(tiny_cfg, tmp_path):
    from utils.run_folder import HELD_OUT_CHECK_FILE, held_out_notice
    tiny_cfg.run.dir = str(tmp_path)
    assert held_out_notice(tiny_cfg) == "", "no check, no note"

    def checked(flags: list[str], advised: dict | None) -> None:
        cases = [{"section": "west_36x40", "recipe": "Q", "flag": flag} for flag in flags]
        (tmp_path / HELD_OUT_CHECK_FILE).write_text(json.dumps({"start": "start.pt", "cases": cases, "advised": advised}))
    mix = {"overrides": "sampling.mix_share=0.5", "changes": {"mix_share": 0.5}}
    checked(["", ""], None)
    assert held_out_notice(tiny_cfg) == "", "nothing flagged, no note"
    checked(["-1.00 dB PSNR against its start", ""], mix)
    assert "flagged 1 of 2 cases" in held_out_notice(tiny_cfg)
    assert "it advised sampling with sampling.mix_share=0.5" in held_out_notice(tiny_cfg)
    tiny_cfg.sampling.mix_share = 0.5
    assert held_out_notice(tiny_cfg).endswith("sampling with the setting it advised (sampling.mix_share=0.5)")
    checked(["-1.00 dB PSNR against its start"], None)
    assert held_out_notice(tiny_cfg).endswith("keep its start (start.pt) for sections like those")
    tiny_cfg.sampling.checkpoint = str(tmp_path / "other.pt")
    assert held_out_notice(tiny_cfg) == "", "another checkpoint than the run's own was not checked"
    tiny_cfg.sampling.checkpoint = ""
    (tmp_path / HELD_OUT_CHECK_FILE).write_text("{not json")
    assert "could not be read" in held_out_notice(tiny_cfg)


def test_transfer_runs_named_recipes_and_counts_them_per_recipe(trained_tiny, tmp_path, capsys):
    from benchmarks import transfer_summary
    out = tmp_path / "bench"
    argv = trained_tiny + ["--n-test", "1", "--gen2", str(tmp_path / "gen2"), "--n-gen2", "1", "--base-data", "",
                           "--out", str(out), "--label", "suite", "--recipes", "ajl"]
    assert run(transfer, argv) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "transfer_suite.json").read_text())
    assert result["recipe_letters"] == {"roundtrip_a": "A", "roundtrip_j": "J", "roundtrip_l": "L"}
    assert "roundtrip_b" not in result["runs"][0], "only the named recipes run"
    assert (result["roundtrip_j"]["noise_std"], result["roundtrip_j"]["colored_noise_std"]) == (0.3, 0.1)
    assert result["roundtrip_l"]["noise_std"] == 0 and result["roundtrip_j"]["band_factor"] == result["roundtrip_a"]["band_factor"]
    lines = [line.split(" | ") for line in printed.splitlines() if line.startswith("| K=1")]
    per_recipe = {cells[1].split()[0]: cells for cells in lines if len(cells) == 9}
    assert set(per_recipe) == {"A", "J", "L"} and per_recipe["L"][1] == "L (A without noise)"
    deltas = transfer_summary.held_out_deltas(result["runs"][0]["roundtrip_j"])
    assert per_recipe["J"][2:4] == ["2", f"{sum(d[0] for d in deltas.values()) / 2:+.2f}"]
    assert transfer_summary.main([f"m={out / 'transfer_suite.json'}"]) == 0
    names = [line.split(" | ")[1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert names[0] == "A" and names[1].startswith("J: band 0.6, noise 0.3 + 0.1 coloured") and names[2].startswith("L: ")


def test_every_named_recipe_is_a_valid_roundtrip_and_letters_are_checked():
    from benchmarks.recipes import RECIPES, recipe_letters
    cfg = load_config(None, [])
    recipes, letters = transfer.named_recipes(cfg, "all", [])
    assert list(letters.values()) == list(RECIPES) == list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert recipes["roundtrip_a"] == cfg.roundtrip and recipes["roundtrip_b"].band_factor == 1.0
    assert recipes["roundtrip_i"].antialias is False and recipes["roundtrip_e"].band_taper == 0.8
    assert cfg.roundtrip.decimation == "cells" and recipes["roundtrip_p"].decimation == "samples"
    assert recipes["roundtrip_s"].decimation == "bicubic" and recipes["roundtrip_t"].antialias is False
    assert recipes["roundtrip_u"].noise_std == 0.6 and recipes["roundtrip_u"].band_factor == cfg.roundtrip.band_factor
    assert recipes["roundtrip_v"].decimation == "bicubic" and recipes["roundtrip_v"].noise_std == 0.2
    assert recipes["roundtrip_w"].decimation == "blur" and recipes["roundtrip_w"].antialias is False
    assert recipes["roundtrip_x"].band_factor_bottom == 0.5 and recipes["roundtrip_x"].noise_std == cfg.roundtrip.noise_std
    assert recipes["roundtrip_y"].dead_trace_rate == 0.03 and recipes["roundtrip_z"].swell_trace_rate == 0.1
    assert cfg.roundtrip.band_factor_bottom is None and cfg.roundtrip.dead_trace_rate == 0
    assert recipe_letters("b, A") == ["B", "A"]
    for spec, words in (("A1", "unknown recipe '1'"), ("AA", "named twice"), ("", "no recipe")):
        with pytest.raises(ValueError, match=words):
            recipe_letters(spec)
    with pytest.raises(ConfigError, match="--recipe-c: round trip C is already named"):
        transfer.named_recipes(cfg, "ABC", ["band_factor=0.7"])
    recipes, letters = transfer.named_recipes(cfg, "AB", ["band_factor=0.7"])
    assert list(recipes) == ["roundtrip_a", "roundtrip_b", "roundtrip_c"] and "roundtrip_c" not in letters
    recorded, _ = transfer.named_recipes(cfg, "AB", ["band_factor=0.7"], noise_recorded=True)
    assert all(r.noise_recorded for r in recorded.values()) and recorded["roundtrip_b"].band_factor == 1.0
    assert cfg.roundtrip.noise_recorded is False, "--noise-recorded leaves the self-check's roundtrip.* alone"


def test_transfer_unknown_recipe_letter_is_one_line_before_any_work(trained_tiny, tmp_path, capsys):
    argv = trained_tiny + ["--n-test", "1", "--gen2", str(tmp_path / "gen2"), "--n-gen2", "1", "--base-data", "",
                           "--out", str(tmp_path / "bench"), "--recipes", "A?"]
    assert run(transfer, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --recipes:") and "unknown recipe '?'" in err[0]
    assert not (tmp_path / "gen2").exists() and not (tmp_path / "bench").exists()


@pytest.mark.parametrize("item, words", [("band_factr=0.7", "unknown key 'band_factr'"),
                                         ("band_factor=2", "roundtrip.band_factor")])
def test_transfer_recipe_c_errors_name_the_key(trained_tiny, tmp_path, capsys, item, words):
    argv = trained_tiny + ["--n-test", "1", "--gen2", str(tmp_path / "gen2"), "--n-gen2", "1", "--base-data", "",
                           "--out", str(tmp_path / "bench"), "--recipe-c", item]
    assert run(transfer, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --recipe-c:") and words in err[0]
    assert not (tmp_path / "gen2").exists(), "the recipe is checked before any work"


def test_val_sweep_scores_each_value_on_the_validation_split_as_sample_py_predicts(trained_tiny, tmp_path, tiny_cfg, capsys):
    out = tmp_path / "bench"
    argv = trained_tiny + [f"run.dir={tiny_cfg.run.dir}", "--key", "sampling.spectrum_floor", "--values", "0, 1.5",
                           "--n-val", "2", "--out", str(out)]
    assert run(val_sweep, argv) == 0
    result = json.loads((out / "val_sweep_spectrum_floor.json").read_text())
    assert result["key"] == "sampling.spectrum_floor" and [v["value"] for v in result["values"]] == [0, 1.5]
    cfg = load_config(None, trained_tiny + [f"run.dir={tiny_cfg.run.dir}", "sampling.spectrum_floor=1.5"])
    model = load_model(cfg, torch.device("cpu"))
    pairs = load_heldout(model.cfg, "val", 2)
    preds = make_predictor(model.cfg, model.net, torch.device("cpu"))(pairs.lr, pairs.stems)
    scored = result["values"][1]["result"]["files"]
    assert sorted(scored) == sorted(pairs.stems)
    for stem, samples, hr in zip(pairs.stems, preds, pairs.hr):  # the swept value is what sample.py would write
        assert abs(scored[stem]["pred"]["psnr"] - section_metrics(samples[0], hr)["psnr"]) < 1e-4
    row = result["values"][1]
    assert row["all_three"] <= min(row["psnr_up"], row["ssim_up"], row["lsd_down"]) <= 2
    assert row["mean_dpsnr"] == pytest.approx(result["values"][1]["result"]["gain_db"])
    assert "| 1.5 | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize("flags, words", [(["--key", "sampling.spectrum_flor", "--values", "1"], "--key: unknown key"),
                                          (["--key", "spectrum_floor", "--values", "0.5"], "sampling.spectrum_floor")])
def test_val_sweep_bad_key_or_value_is_one_line(trained_tiny, tmp_path, tiny_cfg, capsys, flags, words):
    argv = trained_tiny + [f"run.dir={tiny_cfg.run.dir}", "--out", str(tmp_path / "bench"), *flags]
    assert run(val_sweep, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --") and words in err[0]


def test_early_mean_ends_on_the_samples_that_sample_py_writes(trained_tiny, tmp_path, tiny_cfg):
    out = tmp_path / "bench"
    argv = trained_tiny + [f"run.dir={tiny_cfg.run.dir}", "sampling.eta=1.0", "--k", "1,2", "--n-test", "2",
                           "--n-val", "2", "--out", str(out)]
    assert run(early_mean, argv) == 0
    result = read_json(out / "early_mean.json")
    assert len(result["test"]["K=2"]) == len(result["log_snr"]) == 2, "one row per DDIM step"
    cfg = load_config(None, trained_tiny + [f"run.dir={tiny_cfg.run.dir}", "sampling.eta=1.0", "sampling.num_samples=2"])
    model = load_model(cfg, torch.device("cpu"))
    pairs = load_heldout(model.cfg, "test", 1)
    samples = make_predictor(model.cfg, model.net, torch.device("cpu"))(pairs.lr, pairs.stems)[0]
    gammas = sampling_gammas(make_schedule(model.cfg.diffusion), model.cfg.sampling.steps, model.cfg.sampling.spacing)
    net_fn = chunked(make_net_fn(model.net, torch.device("cpu"), "fp32"), 2)
    estimates = early_mean.x0_estimates(net_fn, pairs.lr[0], pairs.stems[0], model.cfg, gammas, 2)
    np.testing.assert_allclose(estimates[-1], samples, atol=1e-4)
    assert not np.allclose(estimates[0], samples, atol=1e-3), "the first step's estimates are not the samples"


def test_objectives(trained_tiny, tmp_path, tiny_cfg):
    out = tmp_path / "bench"
    argv = trained_tiny + ["--runs", f"tiny={tiny_cfg.run.dir}", "--k", "1,2", "--n-test", "2", "--n-val", "2",
                           "--gen2", str(tmp_path / "gen2"), "--n-gen2", "2", "--out", str(out),
                           "--std-smoothings", "0,2", "sampling.std_smoothing=2", "--spectral-matches", "0,1",
                           "sampling.spectral_match=1"]
    assert run(objectives, argv) == 0
    entry = json.loads((out / "objectives.json").read_text())["runs"]["tiny"]
    assert entry["k_max"] == 2 and set(entry["test"]) == {"bicubic", "K=1", "K=2"}
    assert "calibration_recalibrated" in entry["test"]["K=2"] and "calibration_raw" not in entry["test"]["K=1"]
    # the std sample.py writes (its std_smoothing) is the one scored; --std-smoothings adds others from the same samples
    by = entry["test"]["K=2"]["by_std_smoothing"]
    assert set(by) == {"0", "2"} and by["2"]["calibration_raw"] == entry["test"]["K=2"]["calibration_raw"]
    assert by["0"]["calibration_raw"]["coverage"] != by["2"]["calibration_raw"]["coverage"]
    # the mean is shaped as sample.py shapes it (spectral_match 1); --spectral-matches scores others from the same samples
    matched = entry["test"]["K=2"]["by_spectral_match"]
    assert set(matched) == {"0", "1"} and matched["1"] == entry["test"]["K=2"]["metrics"]
    assert matched["0"]["lsd"]["mean"] > matched["1"]["lsd"]["mean"], "the plain mean's spectrum is further off"
    assert set(entry["validation"]) == {"bicubic", "K=1", "K=2"}


def test_transfer_summary_counts_wins_per_recipe_and_merges_files(tmp_path, capsys):
    from benchmarks import transfer_summary

    def files(deltas):  # {section: (dpsnr, dssim, dlsd)} -> transfer's per-file metrics
        return {"held_out": {"files": {s: {"pred": {"psnr": 20 + p, "ssim": 0.5 + q, "lsd": 10 + r},
                                           "bicubic": {"psnr": 20.0, "ssim": 0.5, "lsd": 10.0}}
                                       for s, (p, q, r) in deltas.items()}}}
    a = {"k_1x1": (0.4, 0.01, -1.0), "l_1x1": (-0.2, 0.02, -0.5)}
    b = {"k_1x1": (-1.0, -0.01, 0.5), "l_1x1": (0.3, 0.01, -0.1)}
    c = {"k_1x1": (0.1, 0.001, -0.2), "l_1x1": (0.2, -0.001, -0.3)}
    recipe_c = {"band_factor": 0.75, "band_taper": 0.2, "noise_std": 0.15, "colored_noise_std": 0.0,
                "colored_band": [0.05, 0.4]}
    first = {"roundtrip_c": recipe_c, "runs": [{"roundtrip_a": files(a), "roundtrip_b": files(b), "roundtrip_c": files(c),
                                               "own_test": {"gain_db": 0.5}, "second_generator": {"gain_db": 0.4}}]}
    second = {"roundtrip_c": dict(recipe_c, band_factor=0.9, band_taper=0.8, antialias=False, colored_noise_std=0.1),
              "runs": [{"roundtrip_a": files(a), "roundtrip_b": files(b), "roundtrip_c": files(a)}]}
    (tmp_path / "one.json").write_text(json.dumps(first))
    (tmp_path / "two.json").write_text(json.dumps(second))
    assert transfer_summary.main([f"m={tmp_path / 'one.json'},{tmp_path / 'two.json'}"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    by_recipe = {row[1]: row for row in rows}
    assert set(by_recipe) == {"A", "B", "band 0.75, noise 0.15 + 0 coloured",
                              "band 0.9 taper 0.8, noise 0.15 + 0.1 coloured in [0.05, 0.4], no anti-alias", "all 4 recipes"}
    assert by_recipe["A"][2:9] == ["2", "+0.10", "-0.20", "1", "2", "2", "1"]
    assert by_recipe["B"][2:9] == ["2", "-0.35", "-1.00", "1", "1", "1", "1"]
    assert by_recipe["band 0.75, noise 0.15 + 0 coloured"][5:9] == ["2", "1", "2", "1"]
    assert by_recipe["A"][9:11] == ["+0.50", "+0.40"] and by_recipe["B"][9] == "", "synthetic gains once per model"
    # the last row counts all 8 (recipe, section) cases at once: PSNR up 5, SSIM up 6, LSD down 7, all three 4
    total = by_recipe.pop("all 4 recipes")
    assert total[2] == "8" and abs(float(total[3])) < 0.005 and total[4:9] == ["-1.00", "5", "6", "7", "4"]
    assert rows[-1] is total
    assert transfer_summary.main([f"m={tmp_path / 'missing.json'}"]) == 2


def test_budget_curve_tabulates_and_draws_gains_per_checkpoint(tmp_path, capsys):
    from benchmarks import budget_curve

    def result(a, b, own, second):  # two sections under A and B, deltas (dpsnr, dssim, dlsd)
        files = lambda deltas: {"held_out": {"files": {s: {"pred": {"psnr": 20 + p, "ssim": 0.5 + q, "lsd": 10 + r},  # noqa: E731
                                                           "bicubic": {"psnr": 20.0, "ssim": 0.5, "lsd": 10.0}}
                                                       for s, (p, q, r) in deltas.items()}}}
        return {"runs": [{"roundtrip_a": files(a), "roundtrip_b": files(b), "own_test": {"gain_db": own},
                          "second_generator": {"gain_db": second}}]}
    early = result({"k": (0.2, 0.01, -1.0), "l": (0.0, 0.01, -1.0)}, {"k": (1.0, 0.02, -0.5), "l": (-0.4, -0.01, 0.2)},
                   0.4, 0.5)
    late = result({"k": (0.4, 0.01, -1.0), "l": (0.2, 0.01, -1.0)}, {"k": (1.2, 0.02, -0.5), "l": (0.2, 0.01, -0.2)},
                  0.6, 0.7)
    for name, payload in {"early.json": early, "late.json": late}.items():
        (tmp_path / name).write_text(json.dumps(payload))
    png = tmp_path / "curve.png"
    # steps are sorted whatever order they are named in
    assert budget_curve.main([f"9000={tmp_path / 'late.json'}", f"3000={tmp_path / 'early.json'}", "--out", str(png)]) == 0
    rows = [[c.strip("| ") for c in line.split(" | ")] for line in capsys.readouterr().out.splitlines()[2:4]]
    assert [r[0] for r in rows] == ["3000", "9000"]
    assert rows[0][1:6] == ["+0.20", "+0.10", "2 of 4", "+0.40", "+0.50"]
    assert rows[1][1:6] == ["+0.50", "+0.30", "4 of 4", "+0.60", "+0.70"]
    assert png.stat().st_size > 0
    assert budget_curve.main([f"x={tmp_path / 'early.json'}", "--out", str(png)]) == 2
    assert budget_curve.main([f"3000={tmp_path / 'missing.json'}", "--out", str(png)]) == 2
