"""Train the conditional diffusion model.

    python train.py [--config PARTIAL.yaml] [section.key=value ...]
    torchrun --nproc_per_node=N train.py [...]      # N processes, effective batch N x train.batch_size
"""
from __future__ import annotations

import copy
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from datasets.dat_io import list_field_files, read_field
from datasets.field_patches import FieldPatchSampler, MixedSampler, held_out_field_stems
from datasets.heldout import HeldOut, load_heldout
from datasets.pairs import PatchSampler, find_pairs, list_stems, load_or_make_split, read_sections
from datasets.prefetch import training_batches
from diffusion.loss import diffusion_loss, regression_loss, training_target
from diffusion.schedule import make_schedule, sampling_gammas
from models.build import build_network, network_args, stored_network_args
from sample import make_net_fn, mean_and_std, super_resolve, with_sampling
from utils.atomic import atomic_write_bytes
from utils.checkpoint import check_same_settings, load_checkpoint, save_checkpoint
from utils.cli import run_main
from utils.config import Config, config_from_dict, config_to_dict
from utils.errors import DataError
from utils.metrics import compare_to_targets
from utils.plots import plot_loss_curve
from utils.run_folder import format_config, prepare_run_dir, record_run, refuse_input_folders
from utils.runtime import (DistInfo, autocast, barrier, global_torch_rng_state, init_distributed, pick_device,
                           seed_everything, set_global_torch_rng_state)


@dataclass
class TrainingState:
    """Everything that changes while training and goes into a checkpoint."""

    net: torch.nn.Module  # raw weights, updated by the optimiser
    ema_net: torch.nn.Module  # EMA of net, used for validation and sampling
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler  # loss scaling, active for fp16 on CUDA only
    noise_gen: torch.Generator  # draws gamma and eps of the loss
    sampler: PatchSampler | MixedSampler  # draws patches; owns its numpy generator
    field_sections: list[str] = field(default_factory=list)  # field stems trained on (self-supervised)
    step: int = 0
    loss_window: list[float] = field(default_factory=list)  # losses since the last log line


# ---- Set-up -------------------------------------------------------------------------------------

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


def start_run(cfg: Config) -> tuple[DistInfo, torch.device]:
    """Join the process group, pick the device, seed, and (rank 0) prepare run.dir and the data."""
    dist_info = init_distributed(cfg.run.device)
    device = pick_device(cfg.run.device, dist_info.local_rank)
    seed_everything(cfg.run.seed + dist_info.rank, cfg.run.deterministic)
    if dist_info.is_main:
        refuse_input_folders(cfg.run.dir, cfg.data)
        ckpt_dir = prepare_run_dir(Path(cfg.run.dir) / "checkpoints")
        for stale in ckpt_dir.glob(".*.tmp"):  # left by a process killed while writing a checkpoint
            stale.unlink()
        print(format_config(cfg))
        ensure_training_data(cfg)
    barrier(dist_info)
    return dist_info, device


def training_split(cfg: Config, dist_info: DistInfo) -> dict[str, list[str]]:
    """Return the run's train/val/test stems: written once by rank 0 to split.json, read by every rank."""
    if dist_info.is_main:
        if cfg.data.source == "pairs":
            stems = find_pairs(cfg.data.lr_dir, cfg.data.hr_dir)
        else:
            stems = list_stems(cfg.data.hr_dir, "HR")
            if not stems:
                raise DataError(f"HR folder '{cfg.data.hr_dir}' holds no .dat files (data.source=degrade reads HR only)")
        load_or_make_split(cfg.run.dir, stems, cfg.data.split, cfg.data.split_seed)
    barrier(dist_info)
    return json.loads((Path(cfg.run.dir) / "split.json").read_text())


def patch_sampler(cfg: Config, stems: list[str], rank: int) -> tuple[PatchSampler | MixedSampler, list[str]]:
    """Return (the sampler of training patches, held in memory, the field stems it trains on).

    With data.field_fraction > 0 that share of every batch comes from field sections made into
    pairs by the forward model; data.field_holdout (default: the last by name) stays out.
    """
    hr = read_sections(cfg.data.hr_dir, stems, cfg.data.hr_shape)
    lr = read_sections(cfg.data.lr_dir, stems, cfg.data.lr_shape) if cfg.data.source == "pairs" else None
    names = [str(Path(cfg.data.lr_dir if lr is not None else cfg.data.hr_dir) / f"{s}.dat") for s in stems]
    synthetic = PatchSampler(hr, lr, cfg.data, cfg.degradation, seed=cfg.run.seed * 1000 + rank, names=names)
    if cfg.data.field_fraction == 0:
        return synthetic, []
    files = list_field_files(cfg.data.field_dir)
    held_out = held_out_field_stems([f.stem for f in files], cfg.data.field_holdout)
    chosen = [f for f in files if f.stem not in held_out]
    if not chosen:
        raise DataError(f"data.field_fraction={cfg.data.field_fraction} needs field sections to train on, but "
                        f"data.field_dir '{cfg.data.field_dir}' holds {len(files)} and {len(held_out)} are held out "
                        f"(data.field_holdout); add sections or set data.field_fraction=0")
    sections = [read_field(f, cfg.eval.field_transpose.get(f.stem, True)) for f in chosen]
    field = FieldPatchSampler(sections, [str(f) for f in chosen], cfg.data, cfg.degradation,
                              seed=cfg.run.seed * 1000 + rank + 500)
    return MixedSampler(synthetic, field, cfg.data.field_fraction), [f.stem for f in chosen]


def new_training_state(cfg: Config, device: torch.device, sampler: PatchSampler | MixedSampler,
                       rank: int) -> TrainingState:
    """Return a new network (random, or train.init_from's weights), its EMA copy, Adam, loss scaler and noise generator."""
    net = build_network(network_args(cfg.model, cfg.diffusion.eps_skip))
    if cfg.train.init_from:
        start = load_checkpoint(cfg.train.init_from)
        check_same_settings(cfg.train.init_from, "model", "model", stored_network_args(start["model_args"]),
                            network_args(cfg.model, cfg.diffusion.eps_skip))
        net.load_state_dict(start["ema"])  # the EMA weights are the trained model; Adam starts afresh
    net = net.to(device)
    if device.type == "cuda" and cfg.train.channels_last:
        net.to(memory_format=torch.channels_last)
    return TrainingState(
        net=net, ema_net=copy.deepcopy(net).eval().requires_grad_(False),
        optimizer=torch.optim.Adam(net.parameters(), lr=cfg.train.lr),
        scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.precision == "fp16"),
        noise_gen=torch.Generator(device=device).manual_seed(cfg.run.seed * 1000 + rank), sampler=sampler)


# ---- Checkpoints ---------------------------------------------------------------------------------

def checkpoint_state(cfg: Config, state: TrainingState) -> dict:
    """Return the checkpoint dict: plain state_dicts, step, network arguments, config and every random stream."""
    return {"model": state.net.state_dict(), "ema": state.ema_net.state_dict(),
            "optimizer": state.optimizer.state_dict(), "scaler": state.scaler.state_dict(), "step": state.step,
            "model_args": network_args(cfg.model, cfg.diffusion.eps_skip), "config": config_to_dict(cfg),
            "field_sections": state.field_sections,
            "rng": {"sampler": state.sampler.state_dict(), "noise": state.noise_gen.get_state().cpu(),
                    "torch_global": global_torch_rng_state()}}


def restore_state(cfg: Config, state: TrainingState, path: Path, dist_info: DistInfo) -> None:
    """Load path into state after checking that the network and the diffusion settings are the ones configured.

    One process continues every random stream exactly (dropout's global generator included);
    under torchrun, ranks restart their streams from (seed, rank, step), distinct and repeatable.
    """
    saved = load_checkpoint(path, map_location=state.noise_gen.device)
    check_same_settings(path, "diffusion setting", "diffusion", vars(config_from_dict(saved["config"]).diffusion),
                        vars(cfg.diffusion))
    check_same_settings(path, "model", "model", stored_network_args(saved["model_args"]),
                        network_args(cfg.model, cfg.diffusion.eps_skip))
    state.net.load_state_dict(saved["model"])
    state.ema_net.load_state_dict(saved["ema"])
    state.optimizer.load_state_dict(saved["optimizer"])
    if saved.get("scaler"):
        state.scaler.load_state_dict(saved["scaler"])
    state.step = saved["step"]
    if dist_info.world_size == 1:
        state.sampler.load_state_dict(saved["rng"]["sampler"])
        state.noise_gen.set_state(saved["rng"]["noise"].to(state.noise_gen.get_state().device))
        if "torch_global" in saved["rng"]:  # absent from checkpoints written before it was saved
            set_global_torch_rng_state(saved["rng"]["torch_global"])
    else:
        stream = (cfg.run.seed, dist_info.rank, state.step)
        state.sampler.reseed(list(stream))
        state.noise_gen.manual_seed(hash(stream) % 2**62)
        torch.manual_seed(hash(stream + (1,)) % 2**62)


def write_checkpoint(cfg: Config, state: TrainingState) -> None:
    """Write checkpoints/step_N.pt and last.pt, drop old step files, redraw the loss curve."""
    run_dir = Path(cfg.run.dir)
    ckpt_dir = run_dir / "checkpoints"
    saved = checkpoint_state(cfg, state)
    save_checkpoint(ckpt_dir / f"step_{state.step:08d}.pt", saved)
    save_checkpoint(ckpt_dir / "last.pt", saved)
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-cfg.train.keep_checkpoints or None]:
        old.unlink()
    plot_loss_curve(run_dir / "log.jsonl", run_dir / "loss.png")


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


# ---- One step and what follows it ---------------------------------------------------------------

def learning_rate(step: int, base_lr: float, warmup_steps: int, schedule: str = "constant",
                  max_steps: int = 1, final: float = 1.0) -> float:
    """Linear warm-up to base_lr, then constant (the paper trains at a fixed 1e-4) or a half cosine.

    cosine: from base_lr at the end of warm-up down to base_lr * final at max_steps (and held there
    if a run is extended past max_steps).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    progress = min(1.0, (step - warmup_steps) / max(max_steps - warmup_steps, 1))
    return base_lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress)))


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


def validate(cfg: Config, ema_net: torch.nn.Module, val_set: HeldOut, device: torch.device) -> dict:
    """Sample the validation sections with the EMA weights (one deterministic sample of train.val_steps steps).

    Returns mean PSNR/SSIM of the model and of bicubic.
    """
    cfg = with_sampling(cfg, steps=cfg.train.val_steps, eta=0.0, num_samples=1)
    gammas = sampling_gammas(make_schedule(cfg.diffusion), cfg.sampling.steps, cfg.sampling.spacing)
    samples = super_resolve(make_net_fn(ema_net, device, cfg.train.precision), val_set.lr, val_set.stems,
                            cfg, gammas, device)
    preds = [mean_and_std(s)[0] for s in samples]
    scores = compare_to_targets(val_set.stems, val_set.hr, {"pred": preds, "bicubic": val_set.bicubic})
    return {"psnr": scores["pred"]["psnr"]["mean"], "ssim": scores["pred"]["ssim"]["mean"],
            "bicubic_psnr": scores["bicubic"]["psnr"]["mean"], "bicubic_ssim": scores["bicubic"]["ssim"]["mean"]}


def out_of_time(start: float, minutes: float, step: int, dist_info: DistInfo, every: int) -> bool:
    """Return whether train.max_minutes have passed since start (0: never); all processes agree.

    Under torchrun the processes compare clocks every `every` steps (one all-reduce), so they
    all stop after the same step.
    """
    if minutes <= 0:
        return False
    late = time.perf_counter() - start > 60 * minutes
    if dist_info.world_size == 1:
        return late
    if step % every:
        return False
    flag = torch.tensor([float(late)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def after_step(cfg: Config, state: TrainingState, val_set: HeldOut | None, device: torch.device,
               bar: tqdm, clock: dict, last: bool) -> None:
    """Rank 0's work on schedule after a step: a log line, a validation, a checkpoint (all three after the last)."""
    step = state.step
    log_path = Path(cfg.run.dir) / "log.jsonl"
    if step % cfg.train.log_every == 0 or last:
        elapsed = time.perf_counter() - clock["start"]
        record = {"step": step, "loss": float(np.mean(state.loss_window)), "lr": state.optimizer.param_groups[0]["lr"],
                  "sec_per_step": elapsed / len(state.loss_window), "data_fraction": clock["data"] / max(elapsed, 1e-9)}
        with open(log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        bar.set_postfix(loss=f"{record['loss']:.4f}")
        state.loss_window.clear()
        clock.update(start=time.perf_counter(), data=0.0)
    if val_set and (step % cfg.train.val_every == 0 or last):
        metrics = validate(cfg, state.ema_net, val_set, device)
        with open(log_path, "a") as log:
            log.write(json.dumps({"step": step, "val": metrics}) + "\n")
        bar.write(f"step {step}: val PSNR {metrics['psnr']:.2f} dB (bicubic {metrics['bicubic_psnr']:.2f}), "
                  f"SSIM {metrics['ssim']:.3f} (bicubic {metrics['bicubic_ssim']:.3f})")
    if step % cfg.train.ckpt_every == 0 or last:
        write_checkpoint(cfg, state)


def comparison_commands(cfg: Config) -> list[str]:
    """Return the commands that score this run and its train.init_from checkpoint on the field sections under
    recipes A, B and Q and print both side by side; [] unless the run was fine-tuned on field sections.

    Both read this run's train_config.yaml, so they see the same field sections and sampling settings;
    only sections a model was not trained on are listed for it (benchmarks/transfer.py).
    """
    if not (cfg.train.init_from and cfg.data.field_fraction > 0):
        return []
    run_dir, quote = Path(cfg.run.dir), lambda x: shlex.quote(str(x))  # noqa: E731
    bench = run_dir / "bench"
    common = (f"--config {quote(run_dir / 'train_config.yaml')} --recipes ABQ --n-test 4 --n-gen2 4 --base-data '' "
              f"--out {quote(bench)}")
    start, tuned = quote(f"start={bench / 'transfer_start.json'}"), quote(f"tuned={bench / 'transfer_tuned.json'}")
    return [f"python -m benchmarks.transfer {common} {quote('sampling.checkpoint=' + cfg.train.init_from)} --label start",
            f"python -m benchmarks.transfer {common} --label tuned",
            f"python -m benchmarks.transfer_summary {start} {tuned} --per-section"]


def check_held_out(cfg: Config, last: Path) -> None:
    """Score the fine-tuned checkpoint last and train.init_from on the held-out field sections (benchmarks.held_out_check)."""
    from benchmarks.held_out_check import held_out_check  # pulls in eval.py and the benchmarks: fine-tuning only
    tuned = copy.deepcopy(cfg)
    tuned.sampling.checkpoint = str(last)
    held_out_check(tuned)


# ---- Main ----------------------------------------------------------------------------------------

def main(cfg: Config) -> torch.nn.Module:
    """Train as configured and return the trained network (raw weights, not EMA)."""
    dist_info, device = start_run(cfg)
    split = training_split(cfg, dist_info)
    sampler, field_sections = patch_sampler(cfg, split["train"], dist_info.rank)
    state = new_training_state(cfg, device, sampler, dist_info.rank)
    state.field_sections = field_sections
    wants_val = dist_info.is_main and cfg.train.val_every > 0 and cfg.train.val_images > 0 and split["val"]
    val_set = load_heldout(cfg, "val", cfg.train.val_images) if wants_val else None
    print(f"rank {dist_info.rank}: {len(split['train'])} training sections, patches {cfg.data.patch_size}x"
          f"{cfg.data.patch_size}, batch {cfg.train.batch_size} x {dist_info.world_size} processes")
    last = Path(cfg.run.dir) / "checkpoints" / "last.pt"
    if cfg.train.resume == "auto" and last.exists():
        restore_state(cfg, state, last, dist_info)
        if dist_info.is_main:
            trim_log(Path(cfg.run.dir) / "log.jsonl", state.step)
            print(f"resumed from {last} at step {state.step}")
    if dist_info.is_main:  # only now: a config that the checkpoint rejects leaves the run's record alone
        record_run(cfg, cfg.run.dir, "train")
    train_net = DistributedDataParallel(state.net, device_ids=[device.index] if device.type == "cuda" else None) \
        if dist_info.world_size > 1 else state.net
    train_net = torch.compile(train_net) if cfg.train.compile else train_net
    alpha_bar = make_schedule(cfg.diffusion)

    bar = tqdm(total=cfg.train.max_steps, initial=state.step, desc="train", disable=not dist_info.is_main,
               dynamic_ncols=True, file=sys.stdout)
    clock = {"start": time.perf_counter(), "data": 0.0}
    started, last_step = time.perf_counter(), state.step >= cfg.train.max_steps
    batches = training_batches(state.sampler, cfg.train.batch_size, cfg.data.workers,
                               [cfg.run.seed, dist_info.rank, state.step], device.type == "cuda")
    state.net.train()
    while not last_step:
        for group in state.optimizer.param_groups:
            group["lr"] = learning_rate(state.step, cfg.train.lr, cfg.train.warmup_steps, cfg.train.lr_schedule,
                                        cfg.train.max_steps, cfg.train.lr_final)
        # Draw a batch of patches.
        t_data = time.perf_counter()
        x0, cond, drawn_state = next(batches)
        if drawn_state is not None:  # drawn by a worker: checkpoints continue its stream
            state.sampler.load_state_dict(drawn_state)
        x0, cond = x0.to(device, non_blocking=True), cond.to(device, non_blocking=True)
        clock["data"] += time.perf_counter() - t_data
        # Forward and backward.
        target = training_target(x0, cond, cfg.diffusion.target)
        with autocast(device, cfg.train.precision):
            if cfg.model.objective == "regression":
                loss = regression_loss(train_net, target, cond, cfg.diffusion.loss).mean()
            else:
                loss = diffusion_loss(train_net, target, cond, alpha_bar, state.noise_gen, cfg.diffusion.loss,
                                      cfg.diffusion.min_snr, cfg.diffusion.snr_floor, cfg.diffusion.top_share).mean()
        loss_value = loss.item()  # the one host-device sync of a step
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss is {loss_value} at step {state.step}; lower train.lr or check the data")
        # Update weights, then the EMA.
        apply_gradients(loss, state.net, state.optimizer, state.scaler, cfg.train.grad_clip)
        state.step += 1
        update_ema(state.ema_net, state.net, state.step, cfg.train.ema_decay)
        state.loss_window.append(loss_value)
        bar.update(1)
        # Log, validate, checkpoint (rank 0); stop after max_steps or max_minutes.
        last_step = state.step >= cfg.train.max_steps or \
            out_of_time(started, cfg.train.max_minutes, state.step, dist_info, cfg.train.log_every)
        if dist_info.is_main:
            after_step(cfg, state, val_set, device, bar, clock, last_step)
    bar.close()
    batches.close()  # stops the data workers
    if dist_info.is_main:
        if not last.exists():  # resumed at or past max_steps: nothing trained, keep what is there
            write_checkpoint(cfg, state)
        print(f"done: {state.step} steps in {(time.perf_counter() - started) / 60:.1f} min; checkpoint {last}, "
              f"loss curve {Path(cfg.run.dir) / 'loss.png'}")
        commands = comparison_commands(cfg)
        if commands and cfg.train.held_out_check:
            check_held_out(cfg, last)
        if commands:
            print("fine-tuned on field sections: compare with the starting checkpoint on the held-out ones, under the "
                  "config's recipe A, plain decimation B and point sampling Q (README, 'Training on your own sections'):")
            print("\n".join(commands))
    barrier(dist_info)
    return state.net


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
