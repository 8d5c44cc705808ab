"""Shared test set-up: deterministic torch, tiny configs, and a 'slow' marker skipped unless --runslow."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datasets.dat_io import write_dat  # noqa: E402
from utils.config import load_config  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(2)

TINY_MODEL = ["model.base_channels=8", "model.channel_mults=[1,2]", "model.num_res_blocks=1",
              "model.dropout=0.0", "model.norm_groups=4"]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; skipped unless --runslow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def write_toy_pairs(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Write n small random LR/HR pairs (HR 64x64 on disk) under root/nx2 and root/sx."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        hr = rng.standard_normal((64, 64)).astype(np.float32).cumsum(0)
        lr = hr[::2, ::2] + 0.1 * rng.standard_normal((32, 32)).astype(np.float32)
        write_dat(root / "sx" / f"{i:04d}.dat", hr)
        write_dat(root / "nx2" / f"{i:04d}.dat", lr)
    return root / "nx2", root / "sx"


@pytest.fixture
def toy_data(tmp_path):
    """Eight toy pairs (LR 32x32, HR 64x64) and the overrides that point a config at them."""
    lr_dir, hr_dir = write_toy_pairs(tmp_path / "data", 8)
    return [f"data.lr_dir={lr_dir}", f"data.hr_dir={hr_dir}", "data.lr_shape=[32,32]",
            "data.hr_shape=[64,64]", "data.patch_size=32", "data.split=[0.5,0.25,0.25]",
            f"run.dir={tmp_path / 'run'}", "data.generate_if_missing=false", "run.deterministic=true"]


@pytest.fixture
def tiny_cfg(toy_data):
    """A config with a tiny model and training run on the toy pairs."""
    return load_config(None, toy_data + TINY_MODEL + [
        "train.max_steps=2", "train.batch_size=2", "train.log_every=1", "train.ckpt_every=1",
        "train.val_every=0", "sampling.steps=2", "sampling.batch_size=2", "run.device=cpu"])
