"""Train the conditional diffusion model.

    python train.py [--config PARTIAL.yaml] [section.key=value ...]
    torchrun --nproc_per_node=N train.py [...]      # N processes, effective batch N x train.batch_size
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from datasets.condition import upsample
from datasets.dat_io import atomic_write_bytes
from datasets.pairs import PatchSampler, find_pairs, heldout_lr, list_stems, load_or_make_split, read_sections
from diffusion.loss import diffusion_loss
from diffusion.schedule import make_alpha_bar, make_betas, sampling_gammas
from utils.checkpoint import build_noise_predictor, check_model_args, load_checkpoint, noise_predictor_args, save_checkpoint
from utils.cli import run_main
from utils.config import Config, config_to_dict
from utils.errors import DataError
from utils.metrics import section_metrics, summarize
from utils.plots import plot_loss_curve
from utils.predict import make_net_fn, super_resolve
from utils.run_folder import format_config, prepare_run_dir, record_run, refuse_input_folders
from utils.runtime import autocast, barrier, init_distributed, pick_device, seed_everything


def ensure_training_data(cfg: Config) -> None:
    """Write the synthetic data set when the configured folders hold no .dat files and the config allows it."""
    folders = [cfg.data.hr_dir] + ([cfg.data.lr_dir] if cfg.data.source == "pairs" else [])
    empty = [f for f in folders if not Path(f).is_dir() or not any(Path(f).glob("*.dat"))]
    if not empty or not cfg.data.generate_if_missing:
        return
    from datasets.synthetic import generate_dataset
    print(f"no .dat files in {', '.join(empty)}: writing {cfg.synthetic.n_pairs} synthetic pairs "
          f"(data.generate_if_missing=true)")
    generate_dataset(cfg)


def training_stems(cfg: Config) -> list[str]:
    if cfg.data.source == "pairs":
        return find_pairs(cfg.data.lr_dir, cfg.data.hr_dir)
    stems = list_stems(cfg.data.hr_dir, "HR")
    if not stems:
        raise DataError(f"HR folder '{cfg.data.hr_dir}' holds no .dat files (data.source=degrade reads HR only)")
    return stems


def trim_log(log_path: Path, step: int) -> None:
    """Keep the log records up to `step`: a resumed run repeats the steps logged after its checkpoint."""
    if not log_path.exists():
        return
    kept = []
    for line in log_path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line + "\n")
        except (json.JSONDecodeError, KeyError, TypeError):  # a line torn by the interruption
            continue
    atomic_write_bytes(log_path, "".join(kept).encode())


def learning_rate(step: int, base_lr: float, warmup_steps: int) -> float:
    """Linear warm-up to base_lr, then constant (the paper trains at a fixed 1e-4)."""
    return base_lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else base_lr


def apply_gradients(loss: torch.Tensor, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, grad_clip: float) -> None:
    """Backpropagate loss and take one optimiser step (loss scaling for fp16, optional clipping)."""
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


def update_ema(ema_net: torch.nn.Module, net: torch.nn.Module, step: int, target_decay: float) -> None:
    """Move the EMA weights towards net's after optimiser step `step` (counted from 1).

    The decay ramps up as (1 + step) / (10 + step) towards target_decay, so that early
    checkpoints of short runs are not dominated by the initial weights.
    """
    decay = min(target_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        torch._foreach_lerp_(list(ema_net.parameters()), list(net.parameters()), 1 - decay)


def validate(ema_net, cfg: Config, val_set: dict, alpha_bar: torch.Tensor, device: torch.device) -> dict:
    """Sample the validation sections with the EMA weights; return mean metrics and bicubic's."""
    gammas = sampling_gammas(alpha_bar, cfg.train.val_steps, cfg.sampling.spacing)
    preds = super_resolve(make_net_fn(ema_net, device, cfg.train.precision), val_set["lr"], val_set["stems"],
                          cfg.data, gammas, 0.0, cfg.sampling.clip_x0, cfg.sampling.seed, device,
                          batch=cfg.sampling.batch_size)
    model = summarize([section_metrics(p, hr) for p, hr in zip(preds, val_set["hr"])])
    return {"psnr": model["psnr"]["mean"], "ssim": model["ssim"]["mean"],
            "bicubic_psnr": val_set["bicubic"]["psnr"]["mean"], "bicubic_ssim": val_set["bicubic"]["ssim"]["mean"]}


def main(cfg: Config, args=None) -> torch.nn.Module:
    """Train as configured and return the trained noise predictor (raw weights, not EMA)."""
    # Setup: processes, device, seeds, run folder.
    dist_info = init_distributed(cfg.run.device)
    device = pick_device(cfg.run.device, dist_info.local_rank)
    seed_everything(cfg.run.seed + dist_info.rank, cfg.run.deterministic)
    run_dir = Path(cfg.run.dir)
    ckpt_dir = run_dir / "checkpoints"
    if dist_info.is_main:
        refuse_input_folders(run_dir, cfg.data)
        prepare_run_dir(ckpt_dir)
        for stale in ckpt_dir.glob(".*.tmp"):  # left by a process killed while writing a checkpoint
            stale.unlink()
        print(format_config(cfg))
        ensure_training_data(cfg)
    barrier(dist_info)

    # Data: the split is fixed once per run folder; patches are drawn fresh every step.
    stems = training_stems(cfg)
    split = load_or_make_split(run_dir, stems, cfg.data.split, cfg.data.split_seed) if dist_info.is_main else None
    barrier(dist_info)
    if split is None:
        split = json.loads((run_dir / "split.json").read_text())
    hr_train = read_sections(cfg.data.hr_dir, split["train"], cfg.data.hr_shape)
    lr_train = read_sections(cfg.data.lr_dir, split["train"], cfg.data.lr_shape) if cfg.data.source == "pairs" else None
    sampler = PatchSampler(hr_train, lr_train, cfg.data, cfg.degradation, seed=cfg.run.seed * 1000 + dist_info.rank)
    val_set = None
    if dist_info.is_main and cfg.train.val_every > 0 and cfg.train.val_images > 0 and split["val"]:
        val_stems = split["val"][:cfg.train.val_images]
        hr_val = read_sections(cfg.data.hr_dir, val_stems, cfg.data.hr_shape)
        lr_val = [heldout_lr(s, hr, cfg.data, cfg.degradation, cfg.data.split_seed) for s, hr in zip(val_stems, hr_val)]
        bicubic = summarize([section_metrics(upsample(lr, "bicubic").numpy(), hr) for lr, hr in zip(lr_val, hr_val)])
        val_set = {"stems": val_stems, "lr": lr_val, "hr": list(hr_val), "bicubic": bicubic}
    print(f"rank {dist_info.rank}: {len(split['train'])} training sections, patches "
          f"{cfg.data.patch_size}x{cfg.data.patch_size}, batch {cfg.train.batch_size} x {dist_info.world_size} processes")

    # Noise predictor (U-Net inside), EMA, optimiser, schedule.
    model_args = noise_predictor_args(cfg)
    net = build_noise_predictor(model_args).to(device)
    if device.type == "cuda" and cfg.train.channels_last:
        net.to(memory_format=torch.channels_last)
    ema_net = copy.deepcopy(net).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    alpha_bar = make_alpha_bar(make_betas(cfg.diffusion.num_steps, cfg.diffusion.beta_schedule,
                                          cfg.diffusion.beta_start, cfg.diffusion.beta_end))
    noise_gen = torch.Generator(device=device).manual_seed(cfg.run.seed * 1000 + dist_info.rank)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.precision == "fp16")

    # Resume: weights, EMA, optimiser, step and random streams from last.pt.
    step = 0
    last = ckpt_dir / "last.pt"
    if cfg.train.resume == "auto" and last.exists():
        state = load_checkpoint(last, map_location=device)
        check_model_args(last, state["model_args"], model_args)
        net.load_state_dict(state["model"])
        ema_net.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        if dist_info.world_size == 1:
            sampler.load_state_dict(state["rng"]["sampler"])
            noise_gen.set_state(state["rng"]["noise"].to(noise_gen.get_state().device))
        else:  # ranks draw from streams that depend on (seed, rank, step): distinct and repeatable
            sampler.rng = np.random.default_rng([cfg.run.seed, dist_info.rank, step])
            noise_gen.manual_seed(hash((cfg.run.seed, dist_info.rank, step)) % 2**62)
        if dist_info.is_main:
            trim_log(run_dir / "log.jsonl", step)
            print(f"resumed from {last} at step {step}")
    if dist_info.is_main:  # only now: a config that the checkpoint rejects leaves the run's record alone
        record_run(cfg, run_dir, "train")
    train_net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None) \
        if dist_info.world_size > 1 else net
    if cfg.train.compile:
        train_net = torch.compile(train_net)

    def write_checkpoint() -> None:
        state = {"model": net.state_dict(), "ema": ema_net.state_dict(), "optimizer": optimizer.state_dict(),
                 "step": step, "model_args": model_args, "config": config_to_dict(cfg),
                 "rng": {"sampler": sampler.state_dict(), "noise": noise_gen.get_state().cpu()}}
        save_checkpoint(ckpt_dir / f"step_{step:08d}.pt", state)
        save_checkpoint(last, state)
        for old in sorted(ckpt_dir.glob("step_*.pt"))[:-cfg.train.keep_checkpoints or None]:
            old.unlink()
        plot_loss_curve(run_dir / "log.jsonl", run_dir / "loss.png")

    # Training loop.
    log_path = run_dir / "log.jsonl"
    bar = tqdm(total=cfg.train.max_steps, initial=step, desc="train", disable=not dist_info.is_main,
               dynamic_ncols=True, file=sys.stdout)
    window, t_window, data_time = [], time.perf_counter(), 0.0
    net.train()
    while step < cfg.train.max_steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg.train.lr, cfg.train.warmup_steps)

        # Forward and backward.
        t_data = time.perf_counter()
        x0, cond = sampler.draw(cfg.train.batch_size)
        x0, cond = x0.to(device, non_blocking=True), cond.to(device, non_blocking=True)
        data_time += time.perf_counter() - t_data
        with autocast(device, cfg.train.precision):
            loss = diffusion_loss(train_net, x0, cond, alpha_bar, noise_gen, cfg.diffusion.loss).mean()
        loss_value = loss.item()  # the one host-device sync of a step
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss is {loss_value} at step {step}; lower train.lr or check the data")
        # Update weights, then the EMA.
        apply_gradients(loss, net, optimizer, scaler, cfg.train.grad_clip)
        step += 1
        update_ema(ema_net, net, step, cfg.train.ema_decay)

        # Log, checkpoint, validate (rank 0 only).
        window.append(loss_value)
        bar.update(1)
        if not dist_info.is_main:
            continue
        if step % cfg.train.log_every == 0 or step == cfg.train.max_steps:
            elapsed = time.perf_counter() - t_window
            record = {"step": step, "loss": float(np.mean(window)), "lr": optimizer.param_groups[0]["lr"],
                      "sec_per_step": elapsed / len(window), "data_fraction": data_time / max(elapsed, 1e-9)}
            with open(log_path, "a") as log:
                log.write(json.dumps(record) + "\n")
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            window, t_window, data_time = [], time.perf_counter(), 0.0
        if val_set and (step % cfg.train.val_every == 0 or step == cfg.train.max_steps):
            metrics = validate(ema_net, cfg, val_set, alpha_bar, device)
            with open(log_path, "a") as log:
                log.write(json.dumps({"step": step, "val": metrics}) + "\n")
            bar.write(f"step {step}: val PSNR {metrics['psnr']:.2f} dB (bicubic {metrics['bicubic_psnr']:.2f}), "
                      f"SSIM {metrics['ssim']:.3f} (bicubic {metrics['bicubic_ssim']:.3f})")
            net.train()
        if step % cfg.train.ckpt_every == 0 or step == cfg.train.max_steps:
            write_checkpoint()
    bar.close()
    if dist_info.is_main:
        if not last.exists():  # resumed at or past max_steps: nothing trained, keep what is there
            write_checkpoint()
        print(f"done: {step} steps; checkpoint {last}, loss curve {run_dir / 'loss.png'}")
    barrier(dist_info)
    return net


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
