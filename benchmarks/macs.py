"""Multiply-accumulates of one noise-predictor forward, its measured time, and the implied fraction of peak.

    python -m benchmarks.macs [--config PARTIAL.yaml] [section.key=value ...] [--size 256] [--repeats 5]
        [--matmul 2048] [--label NAME] [--out DIR]
MACs are counted with forward hooks on every Conv1d/2d/3d and Linear (output elements x
in_channels / groups x kernel volume; in_features for Linear); norms, activations, additions and
the eps skip are not counted. Time is the median of --repeats forwards (batch 1, no_grad) after
one warm-up, with the config's device, train.precision (autocast, CUDA only), train.channels_last
and train.compile. Peak is a measured proxy, not a datasheet figure: the best of 10 square matmuls
of side --matmul (float32 on CPU; bf16/fp16 on CUDA when train.precision says so).
Rows are merged by (label, device, precision, channels_last, compile, size) into OUT/macs.json.
"""
from __future__ import annotations

import statistics
import sys

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm import tqdm

from benchmarks.common import (config_label, load_average, machine_info, markdown_table, merge_rows, output_dir,
                               run_benchmark, timed, write_json)
from models.build import build_network, network_args
from sample import make_net_fn
from utils.config import Config
from utils.plots import save_figure
from utils.runtime import pick_device, seed_everything

COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def add_flags(parser) -> None:
    parser.add_argument("--size", type=int, default=256, help="input side (HR samples), batch 1")
    parser.add_argument("--repeats", type=int, default=5, help="timed forwards (median reported)")
    parser.add_argument("--matmul", type=int, default=2048, help="side of the peak-proxy matmul")
    parser.add_argument("--label", default="", help="row label; default the --config stem or 'paper'")


def count_macs(net: nn.Module, x_t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor) -> dict[str, int]:
    """Return MACs of one forward by layer type ('conv', 'linear'), counted with forward hooks."""
    macs = {"conv": 0, "linear": 0}

    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            macs["linear"] += output.numel() * module.in_features
        else:
            kernel = module.weight[0, 0].numel()  # kernel volume
            macs["conv"] += output.numel() * module.in_channels // module.groups * kernel

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, COUNTED)]
    try:
        with torch.no_grad():
            net(x_t, cond, s)
    finally:
        for handle in handles:
            handle.remove()
    return macs


def matmul_peak_flops(side: int, dtype: torch.dtype, device: torch.device, tries: int = 10) -> float:
    """Return the best FLOP/s of `tries` square matmuls: a measured stand-in for the device's peak."""
    a = torch.randn(side, side, device=device).to(dtype)
    b = torch.randn(side, side, device=device).to(dtype)
    a @ b  # warm-up
    best = min(timed(lambda: a @ b, device)[1] for _ in range(tries))
    return 2 * side**3 / best


def compute_dtype(cfg: Config, device: torch.device) -> torch.dtype:
    """Return the dtype autocast runs convolutions in (float32 on CPU, as utils.runtime.autocast does)."""
    if device.type != "cuda" or cfg.train.precision == "fp32":
        return torch.float32
    return torch.bfloat16 if cfg.train.precision == "bf16" else torch.float16


def plot_rows(rows: list[dict], path) -> None:
    """Bars: GMACs per forward, and the achieved fraction of the matmul peak."""
    names = [f"{r['label']}\n{r['size']}x{r['size']} {r['device']}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].bar(names, [r["gmacs"] for r in rows])
    axes[0].set(ylabel="GMAC per forward (batch 1)", yscale="log", title="multiply-accumulates")
    axes[1].bar(names, [100 * r["fraction_of_peak"] for r in rows], color="tab:green")
    axes[1].set(ylabel="% of measured matmul peak", title="achieved / peak proxy")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def table(rows: list[dict]) -> str:
    return markdown_table(
        ["model", "input", "device / dtype", "params (M)", "GMAC", "forward s (median)", "GFLOP/s achieved",
         "matmul peak proxy GFLOP/s", "fraction of peak"],
        [[r["label"], f"{r['size']}x{r['size']}", f"{r['device']} {r['precision']}"
          + (" channels_last" if r["channels_last"] else "") + (" compiled" if r["compile"] else ""),
          f"{r['params_m']:.2f}", f"{r['gmacs']:.2f}", f"{r['forward_s']:.3f}", f"{r['achieved_gflops']:.1f}",
          f"{r['peak_proxy_gflops']:.1f}", f"{100 * r['fraction_of_peak']:.1f} %"] for r in rows])


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    out = output_dir(cfg, bench_args)
    info = machine_info(device)
    net = build_network(network_args(cfg.model, cfg.diffusion.eps_skip)).to(device).eval().requires_grad_(False)
    n = bench_args.size
    x_t, cond = torch.randn(1, 1, n, n, device=device), torch.randn(1, 1, n, n, device=device)
    s = torch.zeros(1, device=device)
    macs = count_macs(net, x_t, cond, s)
    channels_last = device.type == "cuda" and cfg.train.channels_last
    if channels_last:
        net.to(memory_format=torch.channels_last)
    net_fn = make_net_fn(torch.compile(net) if cfg.train.compile else net, device, cfg.train.precision)

    # Forward time, then the matmul peak proxy.
    net_fn(x_t, cond, s)  # warm-up (and compilation)
    times = [timed(lambda: net_fn(x_t, cond, s), device)[1]
             for _ in tqdm(range(bench_args.repeats), desc=f"forward {n}x{n}", file=sys.stdout)]
    dtype = compute_dtype(cfg, device)
    peak = matmul_peak_flops(bench_args.matmul, dtype, device)
    total = macs["conv"] + macs["linear"]
    seconds = statistics.median(times)
    row = {"label": config_label(bench_args), "device": str(device), "precision": str(dtype).replace("torch.", ""),
           "channels_last": channels_last, "compile": cfg.train.compile, "size": n,
           "params_m": sum(p.numel() for p in net.parameters()) / 1e6, "gmacs": total / 1e9,
           "gmacs_conv": macs["conv"] / 1e9, "gmacs_linear": macs["linear"] / 1e9,
           "forward_s": seconds, "forward_s_min": min(times), "achieved_gflops": 2 * total / seconds / 1e9,
           "peak_proxy_gflops": peak / 1e9, "fraction_of_peak": 2 * total / seconds / peak,
           "matmul_side": bench_args.matmul, "load_before": info["load_before"], "load_after": load_average()}
    path = out / "macs.json"
    rows = merge_rows(path, [row], key=lambda r: (r["label"], r["device"], r["precision"], r["channels_last"],
                                                   r["compile"], r["size"]))
    write_json(path, {"benchmark": "macs", "machine": info, "rows": rows})
    plot_rows(rows, out / "macs.png")
    print(table(rows))
    print(f"wrote {path} and {out / 'macs.png'}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
