"""Training speed: ms per step, images/s, peak memory and the share of step time spent drawing data.

    python -m benchmarks.train_speed [--config PARTIAL.yaml] [section.key=value ...]
        [--patches 64,128] [--steps 20] [--warmup 3] [--max-seconds 120] [--label NAME] [--out DIR]
A step is train.py's: take a batch (PatchSampler.draw, data in memory; in data.workers background
processes when > 0, as train.py draws them), diffusion_loss forward,
backward, clip, Adam step, EMA update, loss.item(). Warm-up steps are excluded; the median of the
measured steps is reported. Rows are merged by (label, patch) into OUT/train_speed.json, so runs
with different configs (paper, quick) share one table and one plot (OUT/train_speed.png).
"""
from __future__ import annotations

import copy
import statistics
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import (config_label, int_list, load_average, machine_info, markdown_table, merge_rows,
                               output_dir, peak_memory_mb, run_benchmark, start_peak_memory, sync, write_json)
from datasets.pairs import PatchSampler, find_pairs, read_sections
from datasets.prefetch import training_batches
from diffusion.loss import diffusion_loss
from diffusion.schedule import make_schedule
from models.build import build_network, network_args
from train import apply_gradients, update_ema
from utils.config import Config
from utils.errors import DataError
from utils.plots import save_figure
from utils.runtime import autocast, pick_device, seed_everything


def add_flags(parser) -> None:
    parser.add_argument("--patches", type=int_list, default=[64, 128], help="patch sides (HR samples)")
    parser.add_argument("--steps", type=int, default=20, help="measured steps per patch size")
    parser.add_argument("--warmup", type=int, default=3, help="steps run before measuring")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop measuring a patch size after this long (at least 2 steps)")
    parser.add_argument("--sections", type=int, default=64, help="training sections held in memory")
    parser.add_argument("--label", default="", help="row label; default the --config stem or 'paper'")


def training_sections(cfg: Config, n: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Return (HR, LR or None, description): the first n configured pairs, else random sections of that shape."""
    hr_hw = (cfg.data.hr_shape[1], cfg.data.hr_shape[0])  # (time, trace)
    try:
        stems = find_pairs(cfg.data.lr_dir, cfg.data.hr_dir)[:n]
        hr = read_sections(cfg.data.hr_dir, stems, cfg.data.hr_shape)
        lr = read_sections(cfg.data.lr_dir, stems, cfg.data.lr_shape)
        source = f"{len(stems)} pairs from {cfg.data.hr_dir}"
    except DataError:
        rng = np.random.default_rng(0)
        hr = rng.standard_normal((n, *hr_hw)).astype(np.float32)
        lr = (hr[:, ::2, ::2] + 0.1 * rng.standard_normal((n, hr_hw[0] // 2, hr_hw[1] // 2))).astype(np.float32)
        source = f"{n} random sections {hr_hw[0]}x{hr_hw[1]} (no pairs in {cfg.data.hr_dir})"
    return hr, (lr if cfg.data.source == "pairs" else None), source


def make_train_step(cfg: Config, device: torch.device, batches):
    """Return (step(i) -> (data seconds, step seconds), parameter count), set up exactly as train.py; batches: training_batches."""
    net = build_network(network_args(cfg.model, cfg.diffusion.eps_skip)).to(device)
    if device.type == "cuda" and cfg.train.channels_last:
        net.to(memory_format=torch.channels_last)
    ema_net = copy.deepcopy(net).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    train_net = torch.compile(net) if cfg.train.compile else net
    alpha_bar = make_schedule(cfg.diffusion)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.run.seed)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.precision == "fp16")
    net.train()

    def step(i: int) -> tuple[float, float]:
        sync(device)
        start = time.perf_counter()
        # Data.
        x0, cond, _ = next(batches)
        x0, cond = x0.to(device, non_blocking=True), cond.to(device, non_blocking=True)
        sync(device)
        data_s = time.perf_counter() - start
        # Forward, backward, update, EMA: train.py's loop body.
        with autocast(device, cfg.train.precision):
            loss = diffusion_loss(train_net, x0, cond, alpha_bar, noise_gen, cfg.diffusion.loss,
                                  cfg.diffusion.min_snr, cfg.diffusion.snr_floor, cfg.diffusion.top_share).mean()
        apply_gradients(loss, net, optimizer, scaler, cfg.train.grad_clip)
        update_ema(ema_net, net, i + 1, cfg.train.ema_decay)
        loss.item()
        sync(device)
        return data_s, time.perf_counter() - start

    return step, sum(p.numel() for p in net.parameters())


def measure_patch(cfg: Config, device: torch.device, hr, lr, patch: int, bench_args) -> dict:
    """Return one row: median ms/step, images/s, data share and peak memory at one patch size."""
    cfg = copy.deepcopy(cfg)
    cfg.data.patch_size = patch
    sampler = PatchSampler(hr, lr, cfg.data, cfg.degradation, seed=cfg.run.seed)
    batches = training_batches(sampler, cfg.train.batch_size, cfg.data.workers, [cfg.run.seed, 0, 0], device.type == "cuda")
    baseline = start_peak_memory(device)  # model, grads, Adam state, EMA and activations count; data does not
    step, n_params = make_train_step(cfg, device, batches)
    load_before = load_average()
    data_s, step_s = [], []
    with tqdm(total=bench_args.warmup + bench_args.steps, desc=f"patch {patch}", file=sys.stdout) as bar:
        for i in range(bench_args.warmup):
            step(i)
            bar.update(1)
        started = time.perf_counter()
        for i in range(max(1, bench_args.steps)):
            d, s = step(bench_args.warmup + i)
            data_s.append(d)
            step_s.append(s)
            bar.update(1)
            if len(step_s) >= 2 and time.perf_counter() - started > bench_args.max_seconds:
                break
    batches.close()
    median = statistics.median(step_s)
    return {"patch": patch, "batch": cfg.train.batch_size, "workers": cfg.data.workers, "params_m": n_params / 1e6,
            "model": network_args(cfg.model, cfg.diffusion.eps_skip), "precision": cfg.train.precision if device.type == "cuda" else "fp32",
            "ms_per_step": 1e3 * median, "ms_per_step_min": 1e3 * min(step_s), "ms_per_step_max": 1e3 * max(step_s),
            "images_per_s": cfg.train.batch_size / median, "data_ms": 1e3 * statistics.median(data_s),
            "data_share": sum(data_s) / sum(step_s), "peak_mem_mb": peak_memory_mb(device, baseline),
            "n_measured": len(step_s), "warmup": bench_args.warmup,
            "load_before": load_before, "load_after": load_average()}


def plot_rows(rows: list[dict], path) -> None:
    """Bars of ms/step per (label, patch), and the data share against the 5 % target."""
    names = [f"{r['label']}\n{r['patch']}x{r['patch']}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    bars = axes[0].bar(names, [r["ms_per_step"] for r in rows], color="tab:blue")
    for bar, r in zip(bars, rows):
        axes[0].annotate(f"{r['images_per_s']:.1f} img/s", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                         ha="center", va="bottom", fontsize=8)
    axes[0].set(ylabel="ms per step (median)", yscale="log", title=f"training step, batch {rows[0]['batch']}")
    axes[1].bar(names, [100 * r["data_share"] for r in rows], color="tab:orange")
    axes[1].axhline(5, color="k", ls="--", lw=1, label="5 % target")
    axes[1].set(ylabel="% of step time waiting for data", title="PatchSampler.draw share")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def table(rows: list[dict], device: torch.device) -> str:
    mem = "peak GPU mem (MiB)" if device.type == "cuda" else "peak RSS increase (MiB)"
    return markdown_table(
        ["profile", "params (M)", "patch", "batch", "data workers", "ms/step (median)", "min..max", "images/s", "data share", mem,
         "steps"],
        [[r["label"], f"{r['params_m']:.2f}", r["patch"], r["batch"], r.get("workers", 0), f"{r['ms_per_step']:.0f}",
          f"{r['ms_per_step_min']:.0f}..{r['ms_per_step_max']:.0f}", f"{r['images_per_s']:.2f}",
          f"{100 * r['data_share']:.2f} %", f"{r['peak_mem_mb']:.0f}", r["n_measured"]] for r in rows])


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    out = output_dir(cfg, bench_args)
    info = machine_info(device)
    hr, lr, source = training_sections(cfg, bench_args.sections)
    label = config_label(bench_args)
    print(f"{label}: data {source}; device {device}; load {info['load_before']}")
    rows = [dict(label=label, **measure_patch(cfg, device, hr, lr, p, bench_args)) for p in bench_args.patches]
    path = out / "train_speed.json"
    all_rows = merge_rows(path, rows, key=lambda r: (r["label"], r["patch"]))
    info["load_after"] = load_average()
    write_json(path, {"benchmark": "train_speed", "machine": info, "data": source, "rows": all_rows})
    plot_rows(all_rows, out / "train_speed.png")
    print(table(all_rows, device))
    print(f"wrote {path} and {out / 'train_speed.png'}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
