"""torchrun with 2 CPU processes (gloo): identical weights on both ranks, checkpoint usable by sample.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

import sample
from tests.conftest import REPO, TINY_MODEL
from utils.checkpoint import load_checkpoint
from utils.config import load_config


def test_two_process_gloo_training(toy_data):
    overrides = toy_data + TINY_MODEL + ["train.max_steps=3", "train.batch_size=2", "train.log_every=1",
                                         "train.ckpt_every=3", "train.val_every=0", "run.device=cpu",
                                         "sampling.steps=2"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "ddp_worker.py"), *overrides]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    cfg = load_config(None, overrides)
    run = Path(cfg.run.dir)
    rank0 = torch.load(run / "rank0_weights.pt", weights_only=True)
    rank1 = torch.load(run / "rank1_weights.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"ranks disagree on {key}"
    assert load_checkpoint(run / "checkpoints/last.pt")["step"] == 3
    assert "rank 1:" in done.stdout  # both processes took part
    sample.main(cfg)
    assert any((run / "samples").glob("*_pred.dat"))
