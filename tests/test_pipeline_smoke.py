"""train.py -> sample.py -> eval.py on toy data with a tiny model, plus resume and skip-existing."""
from __future__ import annotations

import json
from pathlib import Path

import torch

import eval as eval_script
import sample
import train
from utils.checkpoint import load_checkpoint
from utils.config import load_config


def test_train_sample_eval_round_trip(tiny_cfg):
    run = Path(tiny_cfg.run.dir)
    train.main(tiny_cfg)
    for name in ("checkpoints/last.pt", "log.jsonl", "loss.png", "split.json", "train_config.yaml", "train_info.json"):
        assert (run / name).exists(), name
    assert load_checkpoint(run / "checkpoints/last.pt")["step"] == 2

    sample.main(tiny_cfg)
    test_stems = json.loads((run / "split.json").read_text())["test"]
    for stem in test_stems:
        assert (run / "samples" / f"{stem}_pred.dat").stat().st_size == 64 * 64 * 4
    assert (run / "samples" / "grid.png").exists()

    eval_script.main(tiny_cfg)
    from_sample = json.loads((run / "samples" / "metrics.json").read_text())
    from_eval = json.loads((run / "eval" / "metrics.json").read_text())
    assert from_sample["files"] == from_eval["files"]  # one metric function, same numbers
    assert (run / "eval" / "spectra.png").exists()


def test_sample_skips_finished_outputs_unless_overwrite(tiny_cfg, toy_data, capsys):
    train.main(tiny_cfg)
    sample.main(tiny_cfg)
    pred = next((Path(tiny_cfg.run.dir) / "samples").glob("*_pred.dat"))
    before = pred.stat().st_mtime_ns
    sample.main(tiny_cfg)
    assert pred.stat().st_mtime_ns == before
    assert "skipping" in capsys.readouterr().out
    tiny_cfg.sampling.overwrite = True
    sample.main(tiny_cfg)
    assert pred.stat().st_mtime_ns != before


def test_resume_continues_bit_exactly(toy_data, tmp_path):
    from tests.conftest import TINY_MODEL
    common = toy_data + TINY_MODEL + ["train.batch_size=2", "train.log_every=1", "train.val_every=0",
                                      "run.device=cpu"]
    straight = load_config(None, common + [f"run.dir={tmp_path / 'a'}", "train.max_steps=4", "train.ckpt_every=4"])
    train.main(straight)
    first = load_config(None, common + [f"run.dir={tmp_path / 'b'}", "train.max_steps=2", "train.ckpt_every=2"])
    train.main(first)
    second = load_config(None, common + [f"run.dir={tmp_path / 'b'}", "train.max_steps=4", "train.ckpt_every=2"])
    train.main(second)
    a = load_checkpoint(tmp_path / "a/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
        assert torch.equal(a["ema"][key], b["ema"][key]), key
