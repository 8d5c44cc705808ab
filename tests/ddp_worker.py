"""Launched by tests/test_ddp.py through torchrun: trains, then saves this rank's weights."""
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train  # noqa: E402
from utils.config import load_config  # noqa: E402

torch.set_num_threads(1)
cfg = load_config(None, sys.argv[1:])
net = train.main(cfg)
torch.save(net.state_dict(), Path(cfg.run.dir) / f"rank{os.environ['RANK']}_weights.pt")
