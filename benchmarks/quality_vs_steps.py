"""Quality against DDIM steps: PSNR and SSIM on held-out test pairs for L x spacing x eta, plus baselines.

    python -m benchmarks.quality_vs_steps --config configs/synthetic.yaml [section.key=value ...]
        [--n-files 8] [--levels 5,10,20,50,100] [--spacings linear,quadratic,log] [--etas 0,1]
        [--k 4] [--k-levels 20] [--k-spacing log] [--out DIR]
Uses the trained run's checkpoint (sampling.checkpoint, default run.dir/checkpoints/last.pt) with
the normalisation it was trained with, the first --n-files test stems of run.dir/split.json, and
sample.super_resolve (sample.py's code path). Baselines: bicubic upsampling, one sample,
and the mean of K samples drawn with base seeds sampling.seed + 0..K-1 (eta 0: only the initial
noise differs). Metrics come from utils.metrics.compare_to_targets. Writes OUT/quality_vs_steps.json and .png.
"""
from __future__ import annotations

import sys
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from benchmarks.common import (int_list, load_average, machine_info, markdown_table, output_dir, run_benchmark,
                               write_json)
from datasets.heldout import load_heldout
from diffusion.schedule import make_schedule, sampling_gammas
from sample import load_model, make_net_fn, super_resolve, with_sampling
from utils.checkpoint import checkpoint_path
from utils.config import Config
from utils.metrics import compare_to_targets
from utils.plots import save_figure
from utils.runtime import pick_device, seed_everything


def add_flags(parser) -> None:
    parser.add_argument("--n-files", type=int, default=8, help="first N test stems of split.json")
    parser.add_argument("--levels", type=int_list, default=[5, 10, 20, 50, 100], help="DDIM steps L")
    parser.add_argument("--spacings", default="linear,quadratic,log")
    parser.add_argument("--etas", default="0,1", help="comma-separated eta values")
    parser.add_argument("--k", type=int, default=4, help="samples averaged in the mean-of-K baseline")
    parser.add_argument("--k-levels", type=int, default=20, help="L of the single and mean-of-K baselines")
    parser.add_argument("--k-spacing", default="log", help="spacing of the single and mean-of-K baselines")


def summary(result: dict, key: str = "pred") -> dict:
    """Return the mean/std PSNR, SSIM and LSD of compare_to_targets' result for pred or bicubic."""
    s = result[key]
    return {"psnr": s["psnr"]["mean"], "psnr_std": s["psnr"]["std"], "ssim": s["ssim"]["mean"],
            "ssim_std": s["ssim"]["std"], "lsd": s["lsd"]["mean"]}


def plot_quality(rows: list[dict], baselines: list[dict], n_files: int, path) -> None:
    """PSNR, SSIM and LSD against L, one line per spacing/eta; bicubic horizontal; mean-of-K as stars."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2))
    bicubic = next(b for b in baselines if b["method"] == "bicubic")
    labels = {"psnr": "PSNR (dB)", "ssim": "SSIM", "lsd": "log-spectral distance (dB), lower is better"}
    for (metric, ylabel), ax in zip(labels.items(), axes):
        for spacing, eta in sorted({(r["spacing"], r["eta"]) for r in rows}):
            line = sorted((r for r in rows if r["spacing"] == spacing and r["eta"] == eta), key=lambda r: r["levels"])
            ax.plot([r["levels"] for r in line], [r[metric] for r in line], "o-" if eta == 0 else "s--",
                    label=f"{spacing}, eta={eta:g}")
        ax.axhline(bicubic[metric], color="k", ls=":", label="bicubic")
        for b in baselines:
            if b["method"].startswith("mean of"):
                ax.plot([b["levels"]], [b[metric]], "*", ms=12, label=f"{b['method']}, eta={b['eta']:g}")
        ax.set(xlabel="DDIM steps L", ylabel=ylabel, xscale="log",
               title=f"{metric.upper()} vs steps, first {n_files} test files")
        levels = sorted({r["levels"] for r in rows})
        ax.set_xticks(levels, [str(v) for v in levels])
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    save_figure(fig, path)


def table(rows: list[dict], baselines: list[dict], n_files: int) -> str:
    body = [[f"diffusion, {r['spacing']}", r["levels"], f"{r['eta']:g}", f"{r['psnr']:.2f} ± {r['psnr_std']:.2f}",
             f"{r['ssim']:.3f} ± {r['ssim_std']:.3f}", f"{r['lsd']:.2f}", f"{r['s_per_image']:.1f}"]
            for r in sorted(rows, key=lambda r: (r["eta"], r["spacing"], r["levels"]))]
    body += [[b["method"], b.get("levels", "-"), f"{b['eta']:g}" if "eta" in b else "-",
              f"{b['psnr']:.2f} ± {b['psnr_std']:.2f}", f"{b['ssim']:.3f} ± {b['ssim_std']:.3f}", f"{b['lsd']:.2f}",
              f"{b['s_per_image']:.1f}" if "s_per_image" in b else "-"] for b in baselines]
    return markdown_table(["method", "L", "eta", f"PSNR (dB), mean ± std of {n_files} files", "SSIM", "LSD (dB)",
                           "s/image"], body)


def main(cfg: Config, bench_args) -> None:
    # Model and held-out data, normalised and conditioned as at training (sample.py's trained_settings).
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    out = output_dir(cfg, bench_args)
    path = checkpoint_path(cfg)
    model = load_model(cfg, device)
    cfg, step = model.cfg, model.step
    net_fn = make_net_fn(model.net, device, cfg.train.precision)
    held = load_heldout(cfg, "test", bench_args.n_files)
    stems, lr, hr, bicubic = held.stems, held.lr, held.hr, held.bicubic
    alpha_bar = make_schedule(cfg.diffusion)
    info = machine_info(device)
    print(f"checkpoint {path} (step {step}), {len(stems)} test files, device {device}, load {info['load_before']}")

    def predict(levels: int, spacing: str, eta: float, seed: int) -> tuple[list[np.ndarray], float]:
        gammas = sampling_gammas(alpha_bar, levels, spacing)
        start = time.perf_counter()
        one = with_sampling(cfg, steps=levels, spacing=spacing, eta=eta, seed=seed, num_samples=1)
        preds = [samples[0] for samples in super_resolve(net_fn, lr, stems, one, gammas, device)]
        return preds, (time.perf_counter() - start) / len(stems)

    # The grid: L x spacing x eta, one sample per file with the base seed sampling.seed.
    etas = [float(e) for e in bench_args.etas.split(",")]
    grid = [(levels, spacing, eta) for eta in etas for spacing in bench_args.spacings.split(",")
            for levels in bench_args.levels]
    rows, kept = [], {}
    for levels, spacing, eta in tqdm(grid, desc="L x spacing x eta", file=sys.stdout):
        preds, seconds = predict(levels, spacing, eta, cfg.sampling.seed)
        result = compare_to_targets(stems, hr, {"pred": preds, "bicubic": bicubic})
        rows.append({"levels": levels, "spacing": spacing, "eta": eta, "s_per_image": seconds, **summary(result)})
        kept[(levels, spacing, eta)] = (preds, seconds)

    # Baselines: bicubic; one sample and the mean of K samples at k-levels / k-spacing for each eta.
    result = compare_to_targets(stems, hr, {"pred": bicubic, "bicubic": bicubic})
    baselines = [{"method": "bicubic", **summary(result, "bicubic")}]
    for eta in tqdm(etas, desc=f"mean of {bench_args.k}", file=sys.stdout):
        samples, seconds = [], []
        for k in range(bench_args.k):
            key = (bench_args.k_levels, bench_args.k_spacing, eta)
            preds, sec = kept[key] if k == 0 and key in kept else \
                predict(bench_args.k_levels, bench_args.k_spacing, eta, cfg.sampling.seed + k)
            samples.append(preds)
            seconds.append(sec)
        common = {"levels": bench_args.k_levels, "spacing": bench_args.k_spacing, "eta": eta}
        single = compare_to_targets(stems, hr, {"pred": samples[0], "bicubic": bicubic})
        each = [summary(compare_to_targets(stems, hr, {"pred": s, "bicubic": bicubic}))["psnr"] for s in samples]
        mean = compare_to_targets(stems, hr, {"pred": [np.mean(group, axis=0) for group in zip(*samples)],
                                             "bicubic": bicubic})
        baselines += [{"method": f"single sample, {bench_args.k_spacing}", **common, "s_per_image": seconds[0],
                       **summary(single)},
                      {"method": f"mean of {bench_args.k} samples, {bench_args.k_spacing}", **common,
                       "s_per_image": sum(seconds), "psnr_each_sample": each, **summary(mean)}]

    info["load_after"] = load_average()
    payload = {"benchmark": "quality_vs_steps", "machine": info, "checkpoint": str(path), "step": step,
               "n_files": len(stems), "stems": stems, "batch": cfg.sampling.batch_size,
               "clip_x0": cfg.sampling.clip_x0, "seed": cfg.sampling.seed, "rows": rows, "baselines": baselines}
    json_path = out / "quality_vs_steps.json"
    write_json(json_path, payload)
    plot_quality(rows, baselines, len(stems), out / "quality_vs_steps.png")
    print(table(rows, baselines, len(stems)))
    print(f"wrote {json_path} and {out / 'quality_vs_steps.png'}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
