"""Config: defaults + partial YAML + typed overrides, and one-line errors from the command line."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from utils.config import config_from_dict, config_to_dict, load_config, parse_override
from utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_load_and_round_trip_through_a_dict():
    cfg = load_config(None, [])
    assert cfg.diffusion.num_steps == 1000
    assert config_from_dict(config_to_dict(cfg)) == cfg
    weighted = load_config(None, ["diffusion.min_snr=5", "diffusion.snr_floor=1"])
    assert config_from_dict(config_to_dict(weighted)) == weighted


def test_overrides_parse_yaml_scalars_and_lists():
    cfg = load_config(None, ["train.max_steps=7", "train.lr=0.0003", "train.compile=true",
                             "model.channel_mults=[1, 2,4]", "run.dir=some/where", "sampling.eta=1",
                             "data.upsample_modes=[nearest]", "eval.field_dt={tp_352x240: 0.004}"])
    assert cfg.train.max_steps == 7 and isinstance(cfg.train.max_steps, int)
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.train.compile is True
    assert cfg.model.channel_mults == [1, 2, 4]
    assert cfg.run.dir == "some/where"
    assert cfg.sampling.eta == 1.0 and isinstance(cfg.sampling.eta, float), "int accepted where float expected"
    assert cfg.data.upsample_modes == ["nearest"]
    assert cfg.eval.field_dt == {"tp_352x240": 0.004}
    # later overrides win
    assert load_config(None, ["train.max_steps=7", "train.max_steps=9"]).train.max_steps == 9


@pytest.mark.parametrize("text,value", [("train.lr=3e-4", 3e-4), ("train.lr=1E-5", 1e-5),
                                        ("train.lr=2.5e-4", 2.5e-4), ("train.lr=1.0e-4", 1e-4)])
def test_float_overrides_in_exponent_notation(text, value):
    """PyYAML reads '3e-4' as a string (YAML 1.1); a float key must still accept it."""
    assert load_config(None, [text]).train.lr == pytest.approx(value)


def test_float_list_override_in_exponent_notation():
    assert load_config(None, ["degradation.noise_std=[1e-2, 0.3]"]).degradation.noise_std == [0.01, 0.3]


def test_parse_override_splits_key_and_value():
    assert parse_override("train.max_steps=2") == ("train", "max_steps", 2)
    assert parse_override("sampling.checkpoint=") == ("sampling", "checkpoint", "")
    assert parse_override("run.dir=a=b") == ("run", "dir", "a=b")
    for bad in ("train.max_steps", "max_steps=2", "a.b.c=1"):
        with pytest.raises(ConfigError):
            parse_override(bad)


@pytest.mark.parametrize("override,suggestion", [("train.max_stepz=3", "train.max_steps"),
                                                 ("sampling.step=3", "sampling.steps"),
                                                 ("trian.max_steps=3", "train")])
def test_unknown_key_suggests_the_closest(override, suggestion):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    msg = str(err.value)
    assert "unknown" in msg and override.split("=")[0].split(".")[0] in msg
    assert f"did you mean '{suggestion}'" in msg


@pytest.mark.parametrize("override,key", [("train.max_steps=abc", "train.max_steps"),
                                          ("train.max_steps=2.5", "train.max_steps"),
                                          ("model.channel_mults=3", "model.channel_mults"),
                                          ("model.channel_mults=[1, x]", "model.channel_mults"),
                                          ("train.compile=maybe", "train.compile"),
                                          ("train.lr=fast", "train.lr"),
                                          ("train.batch_size=true", "train.batch_size")])
def test_wrong_type_raises_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


@pytest.mark.parametrize("override,key", [("train.batch_size=0", "train.batch_size"),
                                          ("sampling.steps=1001", "sampling.steps"),
                                          ("sampling.steps=0", "sampling.steps"),
                                          ("data.patch_size=512", "data.patch_size"),
                                          ("data.patch_size=40", "data.patch_size"),
                                          ("train.max_steps=-1", "train.max_steps"),
                                          ("sampling.eta=1.5", "sampling.eta"),
                                          ("sampling.spacing=cubic", "sampling.spacing"),
                                          ("data.split=[0.5, 0.5, 0.5]", "data.split"),
                                          ("data.hr_shape=[256, 255]", "data.hr_shape"),
                                          ("train.val_steps=5000", "train.val_steps"),
                                          ("diffusion.min_snr=-1", "diffusion.min_snr"),
                                          ("diffusion.snr_floor=-1", "diffusion.snr_floor"),
                                          ("degradation.band_taper=[0.5, 0.2]", "degradation.band_taper"),
                                          ("degradation.band_taper=[0.0, 0.2]", "degradation.band_taper"),
                                          ("degradation.plain_fraction=1.5", "degradation.plain_fraction"),
                                          ("degradation.alias_fraction=-0.1", "degradation.alias_fraction"),
                                          ("degradation.samples_fraction=1.5", "degradation.samples_fraction"),
                                          ("degradation.noise_recorded_fraction=-0.1", "degradation.noise_recorded_fraction"),
                                          ("roundtrip.decimation=mean", "roundtrip.decimation"),
                                          ("roundtrip.band_taper=0", "roundtrip.band_taper"),
                                          ("roundtrip.band_factor_bottom=0", "roundtrip.band_factor_bottom"),
                                          ("roundtrip.dead_trace_rate=1", "roundtrip.dead_trace_rate"),
                                          ("roundtrip.spike_rate=-0.1", "roundtrip.spike_rate"),
                                          ("roundtrip.swell_trace_rate=1.5", "roundtrip.swell_trace_rate"),
                                          ("roundtrip.swell_std=-1", "roundtrip.swell_std"),
                                          ("sampling.spectral_match=1.5", "sampling.spectral_match"),
                                          ("sampling.spectral_match=-0.1", "sampling.spectral_match"),
                                          ("train.lr_schedule=linear", "train.lr_schedule"),
                                          ("train.lr_final=1.5", "train.lr_final"),
                                          ("sampling.input_guard=-1", "sampling.input_guard"),
                                          ("sampling.input_guard_amplitude=model", "sampling.input_guard_amplitude"),
                                          ("sampling.spectrum_floor=0.5", "sampling.spectrum_floor"),
                                          ("sampling.spectrum_floor=-1", "sampling.spectrum_floor"),
                                          ("sampling.std_scale=0", "sampling.std_scale"),
                                          ("sampling.field_grid=cells", "sampling.field_grid")])
def test_out_of_range_raises_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_partial_yaml_layer(tmp_path):
    partial = tmp_path / "quick.yaml"
    partial.write_text("train:\n  max_steps: 12\nsampling:\n  steps: 4\n")
    cfg = load_config(str(partial), ["sampling.steps=5"])
    assert cfg.train.max_steps == 12 and cfg.sampling.steps == 5, "overrides come after the YAML"
    assert cfg.train.batch_size == load_config(None, []).train.batch_size, "other keys keep defaults"
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_stepz: 12\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*did you mean 'train\.max_steps'"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))




def test_cli_bad_key_is_one_line_and_exit_code_2(tmp_path):
    result = run_cli("train", "train.max_stepz=3", f"run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "train.max_stepz" in lines[0] and "train.max_steps" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "run").exists(), "nothing is written when the config is rejected"


def test_cli_dry_run_prints_the_resolved_config(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("train", "--dry-run", "train.max_steps=5", f"run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert isinstance(printed, dict), result.stdout
    assert printed["train"]["max_steps"] == 5
    assert printed["run"]["dir"] == str(run_dir)
    expected = config_to_dict(load_config(None, ["train.max_steps=5", f"run.dir={run_dir}"]))
    differing = {k: (printed.get(k), v) for k, v in expected.items() if printed.get(k) != v}
    assert not differing and set(printed) == set(expected), differing
    assert not run_dir.exists(), "--dry-run writes nothing"


@pytest.mark.parametrize("partial", sorted(p.name for p in (Path(__file__).parent.parent / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(partial):
    """A shipped profile with a misspelt or out-of-range key would only fail when a user runs it."""
    cfg = load_config(str(Path(__file__).parent.parent / "configs" / partial), [])
    assert cfg.run.dir and cfg.data.lr_dir != cfg.data.hr_dir


def test_snr_floor_above_the_cap_raises_naming_the_key():
    with pytest.raises(ConfigError, match=r"diffusion\.snr_floor"):
        load_config(None, ["diffusion.min_snr=5", "diffusion.snr_floor=10"])
    assert load_config(None, ["diffusion.snr_floor=10"]).diffusion.snr_floor == 10.0, "no cap: any floor"


@pytest.mark.parametrize("overrides,key", [(["sampling.antithetic=true", "sampling.num_samples=3"], "sampling.num_samples"),
                                           (["sampling.antithetic=true", "sampling.flips=true"], "sampling.antithetic")])
def test_antithetic_pairs_need_even_k_and_no_flips(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, overrides)
    for fine in (["sampling.antithetic=true", "sampling.num_samples=1"], ["sampling.antithetic=true", "sampling.num_samples=4"]):
        assert load_config(None, fine).sampling.antithetic
