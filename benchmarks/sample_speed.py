"""Sampling speed and memory: seconds per image and per field section, batch size, tiling, sampler overhead.

    python -m benchmarks.sample_speed [--config PARTIAL.yaml] [section.key=value ...]
        [--levels 10,20,50,100] [--batches 1,2,4,8] [--probe-steps 3] [--full-limit 60]
        [--mem-sizes 64x64,128x128,200x304,400x608] [--field PATH|none] [--label NAME] [--out DIR]
Everything goes through sample.super_resolve (sample.py's code path) with the config's
model at random weights (speed does not depend on them), spacing and eta from sampling.*. A
run of L steps is timed in full when L x (time per step) is below --full-limit seconds;
otherwise it is --probe-steps steps timed and scaled by L / probe-steps (rows say which).
Sizes are LR (time x trace); outputs are twice that. Writes OUT/sample_speed_<label>.json and .png.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import (config_label, int_list, load_average, machine_info, markdown_table, output_dir,
                               peak_memory_mb, run_benchmark, start_peak_memory, timed, write_json)
from datasets.condition import upsample
from datasets.dat_io import read_field
from datasets.normalize import clip_for, normalize, section_stats
from diffusion.ddim import per_sample_noise, sample_ddim
from diffusion.schedule import make_schedule, sampling_gammas
from diffusion.tiling import tiled
from models.build import build_network, network_args
from sample import file_seed, make_net_fn, super_resolve, with_sampling
from utils.config import Config
from utils.plots import save_figure
from utils.runtime import pick_device, seed_everything

FIELD_FILE = "kumano2_608x400.dat"  # looked up in data.field_dir; 608 traces x 400 samples


def add_flags(parser) -> None:
    parser.add_argument("--levels", type=int_list, default=[10, 20, 50, 100], help="DDIM steps L")
    parser.add_argument("--batches", type=int_list, default=[1, 2, 4, 8], help="images per network call")
    parser.add_argument("--probe-steps", type=int, default=3, help="steps timed when a full run is too slow")
    parser.add_argument("--full-limit", type=float, default=60.0, help="seconds: longer runs are scaled from a probe")
    parser.add_argument("--mem-sizes", default="64x64,128x128,200x304,400x608",
                        help="LR sizes (time x trace) for peak memory with and without tiling; '' skips")
    parser.add_argument("--field", default="", help=f"field section; default data.field_dir/{FIELD_FILE}; none skips")
    parser.add_argument("--label", default="", help="names the output files; default the --config stem or 'paper'")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",") if item.strip()]


def random_sections(n: int, shape: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """Return n smooth random (time, trace) float32 sections (only their size matters here)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).cumsum(0).astype(np.float32) for _ in range(n)]


def field_section(cfg: Config, choice: str) -> tuple[np.ndarray | None, str]:
    """Return (the field section (time, trace) or None, where it came from)."""
    if choice == "none":
        return None, "skipped"
    path = Path(choice or Path(cfg.data.field_dir) / FIELD_FILE)
    if path.exists():
        return read_field(path), str(path)
    return random_sections(1, (400, 608))[0], f"random 400x608 section ({path} not found)"


def make_runner(cfg: Config, device: torch.device):
    """Return (run, net_fn, alpha_bar); run(sections, steps, batch, tile, of_levels) times super_resolve.

    run times `steps` DDIM steps: the first steps of an of_levels run (default: a steps run), with
    the config's spacing, eta, seed and overlap, and returns seconds.
    """
    net = build_network(network_args(cfg.model, cfg.diffusion.eps_skip)).to(device).eval().requires_grad_(False)
    if device.type == "cuda" and cfg.train.channels_last:
        net.to(memory_format=torch.channels_last)
    net_fn = make_net_fn(torch.compile(net) if cfg.train.compile else net, device, cfg.train.precision)
    alpha_bar = make_schedule(cfg.diffusion)
    s = cfg.sampling

    def run(sections: list[np.ndarray], steps: int, batch: int, tile: int, of_levels: int | None = None) -> float:
        gammas = sampling_gammas(alpha_bar, of_levels or steps, s.spacing)[:steps + 1]
        names = [f"section{i}" for i in range(len(sections))]
        run_cfg = with_sampling(cfg, batch_size=batch, tile_size=tile, num_samples=1)
        _, seconds = timed(lambda: super_resolve(net_fn, sections, names, run_cfg, gammas, device), device)
        return seconds

    return run, net_fn, alpha_bar


def seconds_per_step(run, sections: list[np.ndarray], batch: int, tile: int, probe_steps: int) -> float:
    """Return seconds per DDIM step (all sections together), after one warm-up step."""
    run(sections, 1, batch, tile)
    return run(sections, probe_steps, batch, tile, of_levels=100) / probe_steps


def time_levels(run, section: np.ndarray, kind: str, batch: int, tile: int, bench_args) -> list[dict]:
    """Return a row per L: seconds for one section, measured in full or scaled from a probe."""
    per_step = seconds_per_step(run, [section], batch, tile, bench_args.probe_steps)
    rows = []
    for levels in tqdm(bench_args.levels, desc=kind, file=sys.stdout):
        if levels * per_step < bench_args.full_limit:
            seconds, how = run([section], levels, batch, tile), "full run"
        else:
            seconds, how = levels * per_step, f"scaled from {bench_args.probe_steps} timed step(s)"
        rows.append({"kind": kind, "shape_lr": list(section.shape), "levels": levels, "s_per_section": seconds,
                     "s_per_step": per_step, "how": how, "load": load_average()})
    return rows


def time_batches(run, shape: tuple[int, int], device: torch.device, bench_args) -> list[dict]:
    """Return a row per batch size: seconds per image-step and peak memory (images of one shape)."""
    rows = []
    for batch in tqdm(bench_args.batches, desc="batch sizes", file=sys.stdout):
        sections = random_sections(batch, shape)
        run(sections, 1, batch, 0)
        baseline = start_peak_memory(device)
        seconds = run(sections, bench_args.probe_steps, batch, 0, of_levels=100)
        rows.append({"batch": batch, "s_per_image_step": seconds / (bench_args.probe_steps * batch),
                     "peak_mem_mb": peak_memory_mb(device, baseline), "load": load_average()})
    return rows


def memory_vs_size(run, sizes: list[tuple[int, int]], cfg: Config, device: torch.device) -> list[dict]:
    """Return peak memory of one DDIM step on a section of each size, whole and tiled."""
    rows = []
    tile = cfg.sampling.tile_size or 256
    for shape in tqdm(sizes, desc="memory vs size", file=sys.stdout):
        for tiling in (0, tile):
            sections = random_sections(1, shape)
            baseline = start_peak_memory(device)
            seconds = run(sections, 1, cfg.sampling.batch_size, tiling)
            rows.append({"shape_lr": list(shape), "shape_hr": [2 * shape[0], 2 * shape[1]], "tile": tiling,
                         "peak_mem_mb": peak_memory_mb(device, baseline), "s_one_step": seconds})
    return rows


def outside_network_share(net_fn, alpha_bar, cfg: Config, device: torch.device, section: np.ndarray, tile: int,
                          steps: int, eta: float) -> dict:
    """Return sample_ddim's total time and the time inside network calls (tile blending counts as outside)."""
    inside = [0.0]

    def timed_net(x_t, cond, s):
        out, seconds = timed(lambda: net_fn(x_t, cond, s), device)
        inside[0] += seconds
        return out

    clip = clip_for(cfg.data.normalization, cfg.data.zscore_clip)
    lr_n = normalize(section, section_stats(section, cfg.data.normalization), clip)
    cond = upsample(torch.from_numpy(lr_n)[None, None], cfg.data.upsample_modes[0]).to(device)
    net = tiled(timed_net, tile, cfg.sampling.tile_overlap, cfg.sampling.batch_size) if tile else timed_net
    gammas = sampling_gammas(alpha_bar, steps, cfg.sampling.spacing)
    randn = per_sample_noise([file_seed(cfg.sampling.seed, "section")], device)
    _, total = timed(lambda: sample_ddim(net, cond, gammas, eta=eta, randn=randn, clip_x0=cfg.sampling.clip_x0),
                     device)
    return {"shape_lr": list(section.shape), "tile": tile, "steps": steps, "eta": eta, "total_s": total,
            "inside_net_s": inside[0], "outside_share": 1 - inside[0] / total}


def plot_results(result: dict, path) -> None:
    """Three panels: seconds vs L per kind, seconds per image-step vs batch, peak memory vs output size."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for kind in sorted({r["kind"] for r in result["levels"]}):
        rows = [r for r in result["levels"] if r["kind"] == kind]
        axes[0].plot([r["levels"] for r in rows], [r["s_per_section"] for r in rows], "o-", label=kind)
    axes[0].set(xlabel="DDIM steps L", ylabel="seconds per section", xscale="log", yscale="log",
                title=f"sampling time ({result['label']})")
    levels = sorted({r["levels"] for r in result["levels"]})
    axes[0].set_xticks(levels, [str(v) for v in levels])
    axes[0].legend(fontsize=8)
    if result["batches"]:
        batches = [r["batch"] for r in result["batches"]]
        axes[1].plot(batches, [r["s_per_image_step"] for r in result["batches"]], "o-")
        axes[1].set_xticks(batches, [str(b) for b in batches])
    axes[1].set(xlabel="images per network call", ylabel="seconds per image per step", title="effect of batch size")
    for tile in sorted({r["tile"] for r in result["memory"]}):
        rows = [r for r in result["memory"] if r["tile"] == tile]
        axes[2].plot([r["shape_hr"][0] * r["shape_hr"][1] / 1e6 for r in rows], [r["peak_mem_mb"] for r in rows],
                     "o-", label=f"tiles {tile}" if tile else "whole section")
    axes[2].set(xlabel="output size (megapixels)", ylabel="peak memory increase (MiB)", title="memory of one step")
    if result["memory"]:
        axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def tables(result: dict) -> str:
    levels = markdown_table(["section", "LR in -> HR out", "L", "s per section", "s per step", "how"],
                            [[r["kind"], "{}x{} -> {}x{}".format(*r["shape_lr"], *(2 * n for n in r["shape_lr"])),
                              r["levels"], f"{r['s_per_section']:.2f}", f"{r['s_per_step']:.3f}", r["how"]]
                             for r in result["levels"]])
    batches = markdown_table(["images per call", "s per image per step", "peak RSS increase (MiB)"],
                             [[r["batch"], f"{r['s_per_image_step']:.3f}", f"{r['peak_mem_mb']:.0f}"]
                              for r in result["batches"]])
    memory = markdown_table(["LR in (time x trace)", "HR out", "tiling", "peak memory increase (MiB)", "s for 1 step"],
                            [["{}x{}".format(*r["shape_lr"]), "{}x{}".format(*r["shape_hr"]),
                              f"{r['tile']} px tiles" if r["tile"] else "whole", f"{r['peak_mem_mb']:.0f}",
                              f"{r['s_one_step']:.2f}"] for r in result["memory"]])
    share = markdown_table(["LR in", "tiling", "steps", "eta", "total s", "inside network s", "outside share"],
                           [["{}x{}".format(*r["shape_lr"]), f"{r['tile']} px" if r["tile"] else "whole", r["steps"],
                             r["eta"], f"{r['total_s']:.2f}", f"{r['inside_net_s']:.2f}",
                             f"{100 * r['outside_share']:.2f} %"] for r in result["outside_network"]])
    return "\n\n".join([levels, batches, memory, share])


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    out = output_dir(cfg, bench_args)
    result = {"benchmark": "sample_speed", "label": config_label(bench_args), "machine": machine_info(device),
              "model": network_args(cfg.model, cfg.diffusion.eps_skip), "spacing": cfg.sampling.spacing, "eta": cfg.sampling.eta,
              "tile_size": cfg.sampling.tile_size, "tile_overlap": cfg.sampling.tile_overlap,
              "tile_batch": cfg.sampling.batch_size, "probe_steps": bench_args.probe_steps}
    run, net_fn, alpha_bar = make_runner(cfg, device)
    image_shape = (cfg.data.lr_shape[1], cfg.data.lr_shape[0])  # (time, trace)
    image = random_sections(1, image_shape)[0]
    field, result["field"] = field_section(cfg, bench_args.field)
    tile, tile_batch = cfg.sampling.tile_size, cfg.sampling.batch_size
    print(f"{result['label']}: device {device}, load {result['machine']['load_before']}, field: {result['field']}")

    # Seconds per image and per field section against L.
    result["levels"] = time_levels(run, image, "image", 1, 0, bench_args)
    if field is not None:
        result["levels"] += time_levels(run, field, "field", tile_batch, tile, bench_args)
    # Batch size, memory against size.
    result["batches"] = time_batches(run, image_shape, device, bench_args)
    result["memory"] = memory_vs_size(run, parse_sizes(bench_args.mem_sizes), cfg, device)
    # Time outside the network: a whole sampling run on the image when affordable, a few tiled steps on the field.
    affordable = cfg.sampling.steps * result["levels"][0]["s_per_step"] < bench_args.full_limit
    steps = cfg.sampling.steps if affordable else bench_args.probe_steps
    result["outside_network"] = [outside_network_share(net_fn, alpha_bar, cfg, device, image, 0, steps, eta)
                                 for eta in (0.0, 1.0)]
    if field is not None:
        result["outside_network"] += [outside_network_share(net_fn, alpha_bar, cfg, device, field, tile,
                                                            min(2, bench_args.probe_steps), eta) for eta in (0.0, 1.0)]
    result["machine"]["load_after"] = load_average()
    path = out / f"sample_speed_{result['label']}.json"
    write_json(path, result)
    plot_results(result, path.with_suffix(".png"))
    print(tables(result))
    print(f"wrote {path} and {path.with_suffix('.png')}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
