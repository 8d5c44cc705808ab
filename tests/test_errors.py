"""Bad input ends in one line `error: ...` naming the file or key; inputs stay untouched; untrusted files stay inert.

Each catalogue case runs the real command line from the repository root, as a user would, with
the toy pairs of tests/conftest.py and a tiny model, and checks: non-zero exit, exactly one
stderr line starting with 'error:' that names the offending file or key, and no traceback
(a traceback only with --debug). Cases about one library function call it directly.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import sample
import train
from datasets.dat_io import read_dat, write_dat
from datasets.pairs import make_split, read_sections, read_split
from datasets.synthetic import generate_dataset
from tests.conftest import TINY_MODEL, run_cli, write_toy_pairs
from utils.checkpoint import load_checkpoint
from utils.config import config_to_dict, load_config
from utils.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
FAST = ["train.max_steps=1", "train.batch_size=2", "train.log_every=1", "train.ckpt_every=1",
        "train.val_every=0", "sampling.steps=2", "sampling.batch_size=2", "run.device=cpu"]


def toy_overrides(root: Path) -> list[str]:
    """Write conftest's eight toy pairs under root/data; return overrides for them, a tiny model and root/run."""
    lr_dir, hr_dir = write_toy_pairs(root / "data", 8)
    return [f"data.lr_dir={lr_dir}", f"data.hr_dir={hr_dir}", "data.lr_shape=[32,32]", "data.hr_shape=[64,64]",
            "data.patch_size=32", "data.split=[0.5,0.25,0.25]", f"run.dir={root / 'run'}",
            "data.generate_if_missing=false", "run.deterministic=true", *TINY_MODEL, *FAST]




def assert_one_line_error(result: subprocess.CompletedProcess, *names) -> str:
    """Check the failure contract and that the line names every item of names; return the line."""
    err = result.stderr.strip()
    assert result.returncode != 0, f"expected a failure; stdout ends with {result.stdout[-1500:]}"
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    for name in names:
        assert str(name) in err, f"{name!r} not named in: {err}"
    return err


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run folder trained for one step in-process: (overrides, run dir, checkpoint path)."""
    root = tmp_path_factory.mktemp("trained")
    overrides = toy_overrides(root)
    train.main(load_config(None, overrides))
    return overrides, root / "run", root / "run" / "checkpoints" / "last.pt"


# ---------------------------------------------------------------- config keys and values

# All scripts share utils.cli.run_main; datasets.synthetic starts without torch, so it carries most cases.
@pytest.mark.parametrize("script,override,names", [
    ("train", "train.max_step=3", ["'train.max_step'", "did you mean", "'train.max_steps'"]),
    ("datasets.synthetic", "train.max_steps=abc", ["train.max_steps", "expects int"]),
    ("datasets.synthetic", "train.max_steps=-1", ["train.max_steps", "> 0"]),
    ("eval", "sampling.steps=2000", ["sampling.steps", "diffusion.num_steps=1000"]),
    ("datasets.synthetic", "data.patch_size=512", ["data.patch_size", "at most the HR image side 256"]),
    ("datasets.synthetic", "train.batch_size=0", ["train.batch_size", "> 0"]),
])
def test_bad_config_value_is_one_line_naming_the_key(tmp_path, script, override, names):
    result = run_cli(script, f"run.dir={tmp_path / 'run'}", override)
    assert_one_line_error(result, *names)
    assert result.returncode == 2
    assert not (tmp_path / "run").exists(), "nothing is written before the config is valid"


# ---------------------------------------------------------------- training data

def wrong_size(data: Path, overrides: list[str]) -> tuple[list[str], list]:
    path = data / "sx" / f"{training_stem()}.dat"
    path.write_bytes(path.read_bytes()[:-4])
    return overrides, [path, "16380 bytes, expected 16384"]


def non_finite(value: float):
    def corrupt(data: Path, overrides: list[str]) -> tuple[list[str], list]:
        path = data / "nx2" / f"{training_stem()}.dat"
        section = read_dat(path, (32, 32))
        section[5, 7] = value
        write_dat(path, section)
        return overrides, [path, "NaN or Inf"]
    return corrupt


def missing_folder(data: Path, overrides: list[str]) -> tuple[list[str], list]:
    return overrides + [f"data.lr_dir={data / 'nowhere'}"], [data / "nowhere", "does not exist", "data.lr_dir"]


def empty_folder(data: Path, overrides: list[str]) -> tuple[list[str], list]:
    (data / "empty").mkdir()
    return overrides + [f"data.hr_dir={data / 'empty'}"], [data / "empty", "no .dat files"]


def lr_without_hr(data: Path, overrides: list[str]) -> tuple[list[str], list]:
    (data / "sx" / "0003.dat").unlink()
    return overrides, ["1 LR files have no partner", data / "sx", "0003"]


def hr_without_lr(data: Path, overrides: list[str]) -> tuple[list[str], list]:
    (data / "nx2" / "0006.dat").unlink()
    return overrides, ["1 HR files have no partner", data / "nx2", "0006"]


def training_stem() -> str:
    """A stem of the training part of the toy split, so train.py reads it."""
    return make_split([f"{i:04d}" for i in range(8)], [0.5, 0.25, 0.25], seed=0)["train"][0]


@pytest.mark.parametrize("corrupt", [wrong_size, non_finite(float("nan")), missing_folder, empty_folder,
                                     lr_without_hr, hr_without_lr],
                         ids=["wrong-size", "nan", "missing-folder", "empty-folder", "lr-without-hr",
                              "hr-without-lr"])
def test_bad_training_data_is_one_line_naming_the_file(tmp_path, corrupt):
    overrides, names = corrupt(tmp_path / "data", toy_overrides(tmp_path))
    assert_one_line_error(run_cli("train", *overrides), *names)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused(tmp_path, value):
    section = np.ones((32, 16), np.float32)
    section[3, 4] = value
    write_dat(tmp_path / "a.dat", section)
    with pytest.raises(DataError, match="contains NaN or Inf"):
        read_sections(tmp_path, ["a"], [16, 32])


# ---------------------------------------------------------------- field sections

@pytest.mark.parametrize("name,size,message", [("foo.dat", 64, "must end in _<traces>x<samples>"),
                                               ("line_4x4.dat", 100, "100 bytes, expected 64")])
def test_bad_field_file_is_one_line_naming_it(tmp_path, trained, name, size, message):
    overrides, _, ckpt = trained
    field = tmp_path / "field"
    field.mkdir()
    (field / name).write_bytes(bytes(size))
    result = run_cli("sample", *overrides, f"run.dir={tmp_path / 'out'}", f"sampling.checkpoint={ckpt}",
                     "sampling.input=field", f"data.field_dir={field}")
    assert_one_line_error(result, field / name, message)


def test_constant_field_section_is_named_skipped_and_the_others_still_predicted(tmp_path, trained):
    overrides, _, ckpt = trained
    field = tmp_path / "field"
    write_dat(field / "dead_24x16.dat", np.zeros((16, 24), dtype=np.float32))  # (time, trace)
    write_dat(field / "line_24x16.dat", np.random.default_rng(0).standard_normal((16, 24)).astype(np.float32))
    result = run_cli("sample", *overrides, f"run.dir={tmp_path / 'out'}", f"sampling.checkpoint={ckpt}",
                     "sampling.input=field", f"data.field_dir={field}")
    assert_one_line_error(result, field / "dead_24x16.dat", "constant", "1 of 2 field sections were skipped")
    assert (tmp_path / "out" / "field" / "line_48x32_pred.dat").stat().st_size == 48 * 32 * 4
    assert not (tmp_path / "out" / "field" / "dead_48x32_pred.dat").exists()


# ---------------------------------------------------------------- checkpoints and run order

def test_resume_with_a_different_model_lists_the_differing_keys(tmp_path, trained):
    overrides, run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = file_hashes(copy)
    result = run_cli("train", *overrides, f"run.dir={copy}", "train.max_steps=2", "model.base_channels=16")
    err = assert_one_line_error(result, copy / "checkpoints" / "last.pt", "different model",
                                "model.base_channels: checkpoint 8 vs config 16")
    assert "model.num_res_blocks" not in err, "lists only the keys that differ"
    assert file_hashes(copy) == before, "a rejected resume changes nothing in the run folder"


@pytest.mark.parametrize("override,named", [
    ("diffusion.loss=l2", "diffusion.loss: checkpoint 'l1' vs config 'l2'"),
    ("diffusion.beta_end=0.03", "diffusion.beta_end: checkpoint 0.02 vs config 0.03"),
    ("diffusion.eps_skip=false", "diffusion.eps_skip: checkpoint True vs config False"),
])
def test_resume_with_a_different_diffusion_setting_is_refused(tmp_path, trained, override, named):
    overrides, run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = file_hashes(copy)
    result = run_cli("train", *overrides, f"run.dir={copy}", "train.max_steps=2", override)
    err = assert_one_line_error(result, copy / "checkpoints" / "last.pt", "different diffusion setting", named)
    assert "diffusion.num_steps" not in err, "lists only the keys that differ"
    assert file_hashes(copy) == before, "a rejected resume changes nothing in the run folder"


def test_sample_uses_the_checkpoint_model_and_says_so(tmp_path, trained, capsys):
    overrides, run, ckpt = trained
    (tmp_path / "run").mkdir()
    shutil.copy(run / "split.json", tmp_path / "run" / "split.json")
    cfg = load_config(None, overrides + [f"run.dir={tmp_path / 'run'}", f"sampling.checkpoint={ckpt}",
                                         "model.base_channels=16", "model.num_res_blocks=2"])
    sample.main(cfg)
    out = capsys.readouterr().out
    assert "note: using model.base_channels=8 from the checkpoint (config says 16)" in out
    assert "note: using model.num_res_blocks=1 from the checkpoint (config says 2)" in out
    assert "model.channel_mults" not in out, "only the differing keys are noted"
    assert yaml.safe_load((tmp_path / "run" / "sample_config.yaml").read_text())["model"]["base_channels"] == 8
    for stem in read_split(tmp_path / "run")["test"]:
        assert (tmp_path / "run" / "samples" / f"{stem}_pred.dat").stat().st_size == 64 * 64 * 4


def test_truncated_checkpoint_is_called_damaged(tmp_path, trained):
    overrides, _, ckpt = trained
    damaged = tmp_path / "last.pt"
    damaged.write_bytes(ckpt.read_bytes()[:ckpt.stat().st_size // 2])
    result = run_cli("sample", *overrides, f"run.dir={tmp_path / 'out'}", f"sampling.checkpoint={damaged}")
    assert_one_line_error(result, damaged, "damaged")


def test_sample_without_checkpoint_says_train_first(tmp_path):
    result = run_cli("sample", f"run.dir={tmp_path / 'run'}")
    assert_one_line_error(result, tmp_path / "run" / "checkpoints" / "last.pt", "does not exist", "python train.py")


def test_eval_before_sample_says_run_sample_first(trained):
    overrides, run, _ = trained
    assert_one_line_error(run_cli("eval", *overrides), run / "samples", "run sample.py first")


def test_damaged_split_file_is_named(tmp_path):
    (tmp_path / "split.json").write_text('{"train": ["a"], "va')
    with pytest.raises(DataError, match="split.json: not a valid split file"):
        read_split(tmp_path)


# ---------------------------------------------------------------- outputs

def unwritable_folder(tmp_path: Path) -> Path:
    """Return a folder path that cannot be created: under a read-only folder, or under a file for root."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if not os.access(locked, os.W_OK):
        return locked / "out"
    blocker = tmp_path / "a_file"  # root ignores permissions; a regular file as parent stops root too
    blocker.write_text("")
    return blocker / "out"


@pytest.mark.parametrize("script,key", [("train", "run.dir"), ("datasets.synthetic", "data.lr_dir")])
def test_unwritable_output_folder_is_one_line(tmp_path, script, key):
    target = unwritable_folder(tmp_path)
    try:
        overrides = toy_overrides(tmp_path) if script == "train" else [
            "synthetic.n_pairs=1", f"data.hr_dir={tmp_path / 'sx'}"]
        result = run_cli(script, *overrides, f"{key}={target}")
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert_one_line_error(result, key, target, "cannot be")


def test_outputs_inside_input_folders_are_refused(tmp_path, trained):
    overrides, _, ckpt = trained
    data = tmp_path / "data"
    own = toy_overrides(tmp_path)
    before = file_hashes(data)
    result = run_cli("sample", *own, f"run.dir={data / 'nx2' / 'run'}", f"sampling.checkpoint={ckpt}")
    assert_one_line_error(result, "data.lr_dir", data / "nx2")
    with pytest.raises(DataError, match="inside data.hr_dir"):
        train.main(load_config(None, own + [f"run.dir={data / 'sx'}"]))
    assert file_hashes(data) == before and not (data / "nx2" / "run").exists(), "nothing written inside the inputs"


# ---------------------------------------------------------------- --debug

@pytest.mark.parametrize("script,args", [
    ("train", ["train.max_steps=-1"]),
    ("sample", ["run.dir={tmp}/run"]),
    ("eval", ["run.dir={tmp}/run"]),
    ("datasets.synthetic", ["data.lr_dir={tmp}/file/nx2", "data.hr_dir={tmp}/file/sx"]),
])
def test_debug_shows_the_traceback(tmp_path, script, args):
    (tmp_path / "file").write_text("")
    result = run_cli(script, "--debug", *(a.format(tmp=tmp_path) for a in args))
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "Error: " in result.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------- untrusted files

class Payload:
    """Unpickling this runs `touch marker`, if anything ever unpickles it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CustomObject:
    pass


@pytest.mark.parametrize("payload", ["reduce", "custom-class"])
def test_checkpoint_with_pickled_objects_is_refused_and_inert(tmp_path, payload):
    marker = tmp_path / "ran"
    model = Payload(marker) if payload == "reduce" else CustomObject()
    torch.save({"model": model, "model_args": {}, "config": {}, "step": 1}, tmp_path / "evil.pt")
    with pytest.raises(DataError, match="refused") as err:
        load_checkpoint(tmp_path / "evil.pt")
    assert str(tmp_path / "evil.pt") in str(err.value)
    assert not marker.exists(), "the payload ran"


def test_yaml_with_python_tags_is_refused_and_inert(tmp_path):
    marker = tmp_path / "ran"
    config = tmp_path / "evil.yaml"
    config.write_text(f"run:\n  dir: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="is not valid YAML") as err:
        load_config(str(config), [])
    assert str(config) in str(err.value)
    assert not marker.exists(), "the payload ran"


# ---------------------------------------------------------------- reproducibility and records

def test_same_config_and_seed_give_the_same_bytes_and_inputs_stay_untouched(tmp_path):
    overrides = toy_overrides(tmp_path)
    inputs = file_hashes(tmp_path / "data")
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        for script in ("train", "sample"):
            result = run_cli(script, *overrides, f"run.dir={run}", "train.max_steps=2")
            assert result.returncode == 0, result.stderr[-2000:]
    assert file_hashes(tmp_path / "data") == inputs, "inputs are never modified or added to"

    a, b = runs
    assert (a / "split.json").read_bytes() == (b / "split.json").read_bytes()
    preds = sorted(p.name for p in (a / "samples").glob("*_pred.dat"))
    assert preds and preds == sorted(p.name for p in (b / "samples").glob("*_pred.dat"))
    for name in preds:
        assert (a / "samples" / name).read_bytes() == (b / "samples" / name).read_bytes(), name

    cfg = load_config(None, overrides + [f"run.dir={a}", "train.max_steps=2"])
    assert yaml.safe_load((a / "train_config.yaml").read_text()) == config_to_dict(cfg)
    info = json.loads((a / "train_info.json").read_text())
    assert {"script", "git_commit", "seed", "sampling_seed", "packages"} <= set(info)
    assert info["seed"] == cfg.run.seed and info["git_commit"]
    assert {"python", "torch", "numpy"} <= set(info["packages"])


def test_same_seed_gives_the_same_synthetic_files(tmp_path):
    for name in ("a", "b"):
        generate_dataset(load_config(None, [f"data.lr_dir={tmp_path / name / 'nx2'}",
                                            f"data.hr_dir={tmp_path / name / 'sx'}", "data.lr_shape=[32,32]",
                                            "data.hr_shape=[64,64]", "data.patch_size=32", "synthetic.n_pairs=3"]))
    a, b = file_hashes(tmp_path / "a"), file_hashes(tmp_path / "b")
    assert len([k for k in a if k.endswith(".dat")]) == 6
    meta = {k for k in a if k.endswith("meta.json")}
    assert {k: v for k, v in a.items() if k not in meta} == {k: v for k, v in b.items() if k not in meta}
