"""An interrupted train.py, restarted with the same command, finishes as if it had never stopped."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_MODEL, write_toy_pairs
from utils.checkpoint import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # two shared cores: one thread per process is fastest
MAX_STEPS = 60


def train_command(root: Path, run: Path) -> list[str]:
    lr_dir, hr_dir = root / "data" / "nx2", root / "data" / "sx"
    return [sys.executable, "train.py", f"data.lr_dir={lr_dir}", f"data.hr_dir={hr_dir}", "data.lr_shape=[32,32]",
            "data.hr_shape=[64,64]", "data.patch_size=32", "data.split=[0.5,0.25,0.25]", f"run.dir={run}",
            "data.generate_if_missing=false", "run.deterministic=true", "run.device=cpu", *TINY_MODEL,
            f"train.max_steps={MAX_STEPS}", "train.batch_size=2", "train.log_every=1", "train.ckpt_every=5",
            "train.val_every=0"]


def run_to_end(command: list[str], log: Path) -> subprocess.CompletedProcess:
    with open(log, "w") as out:
        result = subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True, env=ENV,
                                timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def logged_steps(log: Path) -> int:
    return log.read_text().count("\n") if log.exists() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The toy data and the final checkpoint of an uninterrupted run."""
    root = tmp_path_factory.mktemp("kill_resume")
    write_toy_pairs(root / "data", 8)
    run_to_end(train_command(root, root / "straight"), root / "straight.log")
    return root, load_checkpoint(root / "straight" / "checkpoints" / "last.pt")


@pytest.mark.parametrize("seed,offset", [(0, 2), (1, 0)], ids=["between-checkpoints", "at-a-checkpoint"])
def test_sigkill_then_restart_finishes_as_if_never_stopped(reference, seed, offset):
    """offset: steps past a checkpoint (every 5 steps) at which the kill is triggered."""
    root, straight = reference
    run = root / f"killed_{seed}"
    command = train_command(root, run)
    last = run / "checkpoints" / "last.pt"

    # Start, wait until a seeded random step is logged, then kill after a small random delay.
    rng = random.Random(seed)
    kill_step, delay = 5 * rng.randint(1, 7) + offset, rng.uniform(0.0, 0.05)
    with open(root / f"first_{seed}.log", "w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=ENV)
        deadline = time.monotonic() + 120
        while not (last.exists() and logged_steps(run / "log.jsonl") >= kill_step):
            assert process.poll() is None, (root / f"first_{seed}.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"step {kill_step} not reached after 120 s"
            time.sleep(0.01)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    killed_at = load_checkpoint(last)["step"]
    assert 0 < killed_at < MAX_STEPS, "the kill must land mid-run (lower the delay)"

    # Restart with the same command.
    run_to_end(command, root / f"second_{seed}.log")
    stdout = (root / f"second_{seed}.log").read_text()
    assert f"resumed from {last} at step {killed_at}" in stdout
    final = load_checkpoint(last)
    assert final["step"] == MAX_STEPS
    for key in straight["model"]:
        assert torch.equal(final["model"][key], straight["model"][key]), key
        assert torch.equal(final["ema"][key], straight["ema"][key]), key
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, MAX_STEPS + 1)), "each step logged once, in order"


def test_a_failed_save_leaves_the_last_good_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}, "model_args": {}, "config": {}, "step": 5})
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "model_args": {}, "config": {}, "step": 10})
    monkeypatch.undo()
    assert path.read_bytes() == before, "the old checkpoint was written over in place"
    assert load_checkpoint(path)["step"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "no temporary file is left behind"
