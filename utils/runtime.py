"""Device, precision, seeding and torch.distributed set-up for the entry scripts."""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from utils.errors import ConfigError


@dataclass
class DistInfo:
    rank: int  # global rank, 0 when not launched by torchrun
    world_size: int  # number of processes
    local_rank: int  # GPU index on this node

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_setting: str) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else return a single-process info."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(0, 1, 0)
    use_cuda = torch.cuda.is_available() and device_setting != "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def barrier(info: DistInfo) -> None:
    if info.world_size > 1:
        dist.barrier()


def pick_device(setting: str, local_rank: int = 0) -> torch.device:
    """Return the torch device for run.device (auto picks CUDA when present)."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"config key 'run.device' is {setting!r} but no CUDA GPU is visible; use auto or cpu")
        device = torch.device(f"cuda:{local_rank}" if setting == "cuda" else setting)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        return device
    return torch.device("cpu")


def autocast(device: torch.device, precision: str):
    """Return an autocast context for bf16/fp16 on CUDA; a no-op on CPU or for fp32."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch; optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def global_torch_rng_state() -> dict:
    """Return the state of torch's global generators (CPU and every CUDA device): dropout draws from them."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_torch_rng_state(state: dict) -> None:
    """Restore what global_torch_rng_state returned (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
