"""Shared test set-up and the one definition of every helper used by more than one test file.

Deterministic torch, tiny configs, toy data, oracle and random networks, PSNR and bicubic
references and a command-line runner.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datasets.condition import upsample  # noqa: E402
from datasets.dat_io import write_dat  # noqa: E402
from diffusion.schedule import gamma_from_noise_input, make_alpha_bar, make_betas  # noqa: E402
from models.build import build_network  # noqa: E402
from models.unet import UNet  # noqa: E402
from utils.config import load_config  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(2)

CLI_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # two shared cores: one thread per process is fastest
TINY_NET_ARGS = dict(base_channels=8, channel_mults=[1, 2], num_res_blocks=1, dropout=0.0, norm_groups=4, dims=2,
                     eps_skip=True)
TINY_MODEL = ["model.base_channels=8", "model.channel_mults=[1,2]", "model.num_res_blocks=1",
              "model.dropout=0.0", "model.norm_groups=4"]


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


def band_limited(n_time: int, n_trace: int, low: float, high: float, seed: int) -> np.ndarray:
    """Return white noise (time, trace) kept between low and high x the Nyquist along time."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal((n_time, n_trace)), axis=0)
    f = np.arange(spectrum.shape[0]) / (spectrum.shape[0] - 1)
    spectrum[(f < low) | (f >= high)] = 0
    return np.fft.irfft(spectrum, n=n_time, axis=0)


def run_cli(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python script.py args` (or `python -m datasets.x args`) from the repository root, as a user would."""
    target = ["-m", script] if "." in script else [f"{script}.py"]
    return subprocess.run([sys.executable, *target, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, env=CLI_ENV, timeout=timeout)


def linear_alpha_bar(num_steps: int = 1000) -> torch.Tensor:
    """Return the paper's linear schedule (1e-4 .. 2e-2) as alpha_bar_0..alpha_bar_T."""
    return make_alpha_bar(make_betas(num_steps, "linear", 1e-4, 2e-2))


def oracle_for(x0: torch.Tensor, offset: float = 0.0):
    """Return net(x_t, cond, s) giving the exact eps of x_t for this x0 at level sigmoid(s), plus offset."""
    x0_64 = x0.double()

    def net(x_t, cond, s):
        gamma = gamma_from_noise_input(s).view(-1, *(1,) * (x_t.dim() - 1))
        return ((x_t.double() - gamma.sqrt() * x0_64) / (1 - gamma).sqrt() + offset).float()
    return net


def randomise_zero_init(net: nn.Module, seed: int = 0, std: float = 0.1) -> nn.Module:
    """Give N(0, std^2) weights to every zero-initialised conv (conv_out and each block's conv2).

    With them at zero the U-Net's output is identically zero, which would hide any dependence
    on its inputs.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)) and not module.weight.any():
                module.weight.copy_(std * torch.randn(module.weight.shape, generator=g))
                module.bias.copy_(std * torch.randn(module.bias.shape, generator=g))
    return net


def tiny_unet(mults=(1, 2), dims: int = 2, base: int = 8) -> UNet:
    """Return a tiny bare U-Net (seeded initialisation, eval mode)."""
    torch.manual_seed(0)
    return UNet(base_channels=base, channel_mults=list(mults), num_res_blocks=1, dropout=0.0,
                norm_groups=4, dims=dims).eval()


def tiny_network(seed: int = 0, std: float = 0.1, **changes) -> nn.Module:
    """Return the tiny noise predictor (TINY_NET_ARGS, with changes) at random weights, in eval mode."""
    torch.manual_seed(seed)
    return randomise_zero_init(build_network({**TINY_NET_ARGS, **changes}), seed, std).eval()


def psnr(x, ref) -> float:
    """Return PSNR (dB) of x against ref with data range max - min of ref (numpy arrays or tensors)."""
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(10 * np.log10((ref.max() - ref.min()) ** 2 / np.mean((x - ref) ** 2)))


def bicubic(lr: np.ndarray) -> np.ndarray:
    """Return the project's bicubic x2 upsampling of (H, W) or (n, H, W) sections, same rank."""
    if lr.ndim == 2:
        return upsample(lr, "bicubic").numpy()
    return upsample(torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float32))[:, None], "bicubic")[:, 0].numpy()
