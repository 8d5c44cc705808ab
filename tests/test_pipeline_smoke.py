"""train.py -> sample.py -> eval.py on toy data with a tiny model, plus resume and skip-existing."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import eval as eval_script
import sample
import train
from diffusion.loss import diffusion_loss
from tests.conftest import REPO, TINY_MODEL
from utils.checkpoint import load_checkpoint, save_checkpoint
from utils.config import config_from_dict, load_config
from utils.runtime import DistInfo


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

    assert not (run / "samples" / "metrics.json").exists(), "only eval.py writes metrics"

    eval_script.main(tiny_cfg)
    scores = json.loads((run / "eval" / "metrics.json").read_text())
    assert sorted(scores["files"]) == sorted(test_stems)
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


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_continues_bit_exactly(toy_data, tmp_path, dropout):
    """Dropout draws from torch's global generator: its state must travel in the checkpoint too."""
    common = toy_data + TINY_MODEL + ["train.batch_size=2", "train.log_every=1", "train.val_every=0",
                                      "run.device=cpu", f"model.dropout={dropout}"]
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


def test_a_data_worker_draws_the_same_batches_and_resumes_its_stream(toy_data, tmp_path):
    """data.workers=1 moves the drawing into a background process: the weights must be those of drawing in-process,
    also across a resume (the checkpoint holds the worker's stream, not the training process's idle one)."""
    common = toy_data + TINY_MODEL + ["train.batch_size=2", "train.log_every=1", "train.val_every=0", "run.device=cpu"]
    straight = load_config(None, common + [f"run.dir={tmp_path / 'a'}", "train.max_steps=4", "train.ckpt_every=4"])
    train.main(straight)
    for steps in (2, 4):
        worker = load_config(None, common + [f"run.dir={tmp_path / 'b'}", f"train.max_steps={steps}",
                                             "train.ckpt_every=2", "data.workers=1"])
        train.main(worker)
    a = load_checkpoint(tmp_path / "a/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "b/checkpoints/last.pt")
    assert a["step"] == b["step"] == 4
    assert a["rng"]["sampler"] == b["rng"]["sampler"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_train_draws_the_configured_share_of_levels_at_t_max(toy_data, tmp_path, monkeypatch):
    """diffusion.top_share reaches the loss: a train.py that dropped it would train the one-step level no more often."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(args[8] if len(args) > 8 else kwargs.get("top_share", 0.0))
        return diffusion_loss(*args, **kwargs)

    monkeypatch.setattr(train, "diffusion_loss", spy)
    cfg = load_config(None, toy_data + TINY_MODEL + [f"run.dir={tmp_path / 'r'}", "train.max_steps=2", "train.val_every=0",
                                                     "run.device=cpu", "diffusion.top_share=0.75"])
    train.main(cfg)
    assert seen == [0.75, 0.75]


def test_loss_scaler_state_travels_in_the_checkpoint(tiny_cfg, tmp_path):
    """fp16 on CUDA scales the loss; a resumed run must continue with the scale it had reached."""
    train.start_run(tiny_cfg)
    split = train.training_split(tiny_cfg, DistInfo(0, 1, 0))
    make_state = lambda: train.new_training_state(  # noqa: E731
        tiny_cfg, torch.device("cpu"), train.patch_sampler(tiny_cfg, split["train"], 0)[0], 0)
    state = make_state()
    state.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)  # an active scaler, as fp16 on CUDA has
    state.scaler.scale(torch.ones(()))
    state.scaler.update(new_scale=96.0)
    save_checkpoint(tmp_path / "last.pt", train.checkpoint_state(tiny_cfg, state))
    resumed = make_state()
    resumed.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    train.restore_state(tiny_cfg, resumed, tmp_path / "last.pt", DistInfo(0, 1, 0))
    assert resumed.scaler.get_scale() == 96.0


LEGACY = REPO / "tests" / "data" / "legacy_checkpoint_6747fe8.pt"  # written by train.py at commit 6747fe8


def test_checkpoints_of_the_previous_layout_still_load_and_predict(tiny_cfg):
    """Network arguments, weights and the stored config of an older checkpoint rebuild the same network."""
    tiny_cfg.sampling.checkpoint = str(LEGACY)
    model = sample.load_model(tiny_cfg, torch.device("cpu"))
    net, cfg = model.net, model.cfg
    assert model.step == 3 and cfg.model.base_channels == 8 and cfg.model.objective == "diffusion"
    g = torch.Generator().manual_seed(0)
    x_t, cond = torch.randn(2, 1, 16, 24, generator=g), torch.randn(2, 1, 16, 24, generator=g)
    expected = np.load(LEGACY.with_name(LEGACY.stem + "_output.npy"))  # that commit's output on these inputs
    np.testing.assert_allclose(net(x_t, cond, torch.tensor([-3.0, 2.0])).numpy(), expected, atol=1e-6)
    stored = load_checkpoint(LEGACY)["config"]
    assert stored["data"]["augment"] is True, "that commit stored a bool: flips and quarter turns"
    assert config_from_dict(stored).data.augment == "flips_rot90"
    assert "min_snr" not in stored["diffusion"]
    rebuilt = config_from_dict(stored).diffusion
    assert (rebuilt.min_snr, rebuilt.snr_floor) == (0.0, 0.0), "trained before the weighting existed: unweighted"


def test_trained_settings_returns_a_copy(tiny_cfg):
    stored = load_config(None, ["model.base_channels=32", "data.normalization=minmax"])
    before = json.dumps(tiny_cfg.__dict__, default=lambda o: o.__dict__)
    merged = sample.trained_settings(tiny_cfg, stored)
    assert merged.model.base_channels == 32 and merged.data.normalization == "minmax"
    assert json.dumps(tiny_cfg.__dict__, default=lambda o: o.__dict__) == before, "the argument is not changed"


def test_time_budget_stops_training_with_a_checkpoint(tiny_cfg):
    tiny_cfg.train.max_steps, tiny_cfg.train.max_minutes = 1000, 1e-6  # out of time after the first step
    tiny_cfg.train.log_every = tiny_cfg.train.ckpt_every = 500
    train.main(tiny_cfg)
    run = Path(tiny_cfg.run.dir)
    assert load_checkpoint(run / "checkpoints/last.pt")["step"] == 1
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 1, "the last step is logged"


def test_min_snr_reaches_the_training_loss(tiny_cfg, tmp_path):
    """The same seeded run with diffusion.min_snr on logs a different (weighted, never larger) first loss."""
    def first_loss(min_snr: float, name: str) -> float:
        cfg = copy.deepcopy(tiny_cfg)
        cfg.train.max_steps, cfg.diffusion.min_snr, cfg.run.dir = 1, min_snr, str(tmp_path / name)
        train.main(cfg)
        return json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[0])["loss"]
    plain, weighted = first_loss(0.0, "plain"), first_loss(1e-6, "weighted")  # weights <= 0.16 at every level
    assert weighted < 0.5 * plain
