"""Regression against diffusion (one sample, mean of K) at equal training budget, with calibration and timing.

    python -m benchmarks.objectives --config configs/synthetic.yaml --runs diffusion=runs/A,regression=runs/B
        [--k 1,2,4,8] [--n-test 24] [--n-val 12] [--gen2 data/gen2] [--n-gen2 16] [--label NAME] [--out DIR]
        [--std-smoothings 0,1,2,4] [--spectral-matches 0,0.5,1]
Each run folder holds a checkpoint trained by train.py (e.g. with train.max_minutes=20) on the
same data. A diffusion run draws max(--k) samples per section once; the mean of K is the mean
of the first K, which is exactly what sampling.num_samples=K gives (every sample has its own
seed), shaped by sampling.spectral_match as sample.py does. The std calibration of K samples
is scored raw and with one scale fitted on --n-val validation pairs, never on the test pairs,
and applied unchanged to the second generator; the validation pairs' own metrics are reported
too, for choosing settings there rather than on test.
Timing: seconds per image for K samples and for one, on the first 4 test images, so the cost
of K samples can be compared with K single runs. Every figure comes from utils.metrics.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import machine_info, markdown_table, output_dir, run_benchmark, timed, write_json
from benchmarks.transfer import second_generator_pairs
from datasets.condition import upsample
from datasets.heldout import load_heldout
from sample import combined, load_model, make_predictor, with_sampling
from utils.config import Config
from utils.metrics import calibration, compare_to_targets, fit_std_scale
from utils.runtime import pick_device, seed_everything


def add_flags(parser) -> None:
    parser.add_argument("--runs", required=True, help="label=run_dir,... (same data and budget)")
    parser.add_argument("--k", default="1,2,4,8", help="numbers of samples averaged")
    parser.add_argument("--n-test", type=int, default=24, help="first N test stems of split.json")
    parser.add_argument("--n-val", type=int, default=12, help="validation pairs for the std recalibration")
    parser.add_argument("--gen2", default="data/gen2", help="second-generator pairs (written if empty)")
    parser.add_argument("--n-gen2", type=int, default=16)
    parser.add_argument("--label", default="objectives", help="names the output files")
    parser.add_argument("--std-smoothings", default="", help="also score the calibration with these "
                        "sampling.std_smoothing values, e.g. 0,1,2,4 (same samples)")
    parser.add_argument("--spectral-matches", default="", help="also score the mean of K under these "
                        "sampling.spectral_match values, e.g. 0,0.5,1 (same samples)")


def draw(predict, lrs: list, names: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return the (K, H, W) samples of every section (one pass for regression), and the model's own
    draws before the self-check, guard and floor moved them (what sample.py takes the std from)."""
    own = {}
    with torch.no_grad():
        samples = predict(lrs, names, own=own)
    return samples, [own[n] for n in names]


def score_samples(names, hrs, lrs, drawn, ks, sampling, val=None, other_smoothings: tuple[float, ...] = (),
                  other_matches: tuple[float, ...] = ()) -> dict:
    """Return per K: metrics of the prediction from the first K samples (and of sample 0), calibration for K >= 2.

    drawn: draw's (samples, own draws); val: (validation HR, their drawn) or None. The prediction
    and std are what sample.py writes under the sampling settings (sample.combined);
    other_smoothings adds the calibrations under each of those std_smoothing values
    ("by_std_smoothing"), other_matches the metrics under those spectral_match values ("by_spectral_match").
    """
    samples = drawn[0]
    bicubic = [upsample(x, "bicubic").numpy() for x in lrs]
    out = {"bicubic": compare_to_targets(names, hrs, {"pred": bicubic})["pred"]}
    for k in ks:
        if k > len(samples[0]):
            continue
        means = [combined(s[:k], sampling)[0] for s in samples]
        entry = {"metrics": compare_to_targets(names, hrs, {"pred": means})["pred"]}
        if k >= 2:
            entry.update(calibrations(hrs, drawn, k, val, sampling))
            entry["by_std_smoothing"] = {f"{v:g}": calibrations(hrs, drawn, k, val, replace(sampling, std_smoothing=v))
                                         for v in other_smoothings}
            entry["by_spectral_match"] = {
                f"{v:g}": compare_to_targets(names, hrs, {"pred": [combined(s[:k], replace(sampling, spectral_match=v))[0]
                                                                   for s in samples]})["pred"] for v in other_matches}
        out[f"K={k}"] = entry
    return out


def calibrations(hrs, drawn, k: int, val, sampling) -> dict:
    """Return the raw calibration of the first k samples' std and, given validation pairs, the recalibrated one."""
    first_k = lambda d: [combined(s[:k], sampling, own[:k]) for s, own in zip(*d)]  # noqa: E731
    means, stds = zip(*first_k(drawn))
    out = {"calibration_raw": calibration(hrs, means, stds)}
    if val is not None:
        val_hrs, val_drawn = val
        scale = fit_std_scale(val_hrs, *zip(*first_k(val_drawn)))
        out["calibration_recalibrated"] = calibration(hrs, means, stds, scale)
    return out


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    ks = [int(k) for k in bench_args.k.split(",")]
    results = {}
    for item in bench_args.runs.split(","):
        label, run_dir = item.split("=")
        run_cfg = with_sampling(cfg)  # a copy
        run_cfg.run.dir = run_dir
        model = load_model(run_cfg, device)
        mcfg = model.cfg
        regression = mcfg.model.objective == "regression"
        k_max = 1 if regression and not mcfg.sampling.flips else max(ks)  # flips: K regression passes differ
        smoothings = tuple(float(v) for v in bench_args.std_smoothings.split(",") if v.strip())
        matches = tuple(float(v) for v in bench_args.spectral_matches.split(",") if v.strip())
        test = load_heldout(mcfg, "test", bench_args.n_test)
        val = load_heldout(mcfg, "val", bench_args.n_val)
        gen2 = second_generator_pairs(Path(bench_args.gen2), bench_args.n_gen2, mcfg.data.hr_shape)
        predict_k = make_predictor(with_sampling(mcfg, num_samples=k_max), model.net, device)
        predict_1 = make_predictor(with_sampling(mcfg, num_samples=1), model.net, device)
        # Timing on the first 4 test images: K samples against one.
        few = (test.lr[:4], test.stems[:4])
        _, t_k = timed(lambda: draw(predict_k, *few), device)
        _, t_1 = timed(lambda: draw(predict_1, *few), device)
        start = time.perf_counter()
        test_drawn = draw(predict_k, test.lr, test.stems)
        val_drawn = draw(predict_k, val.lr, val.stems) if k_max > 1 else None
        gen2_drawn = draw(predict_k, gen2[1], gen2[0])
        entry = {"step": model.step, "objective": mcfg.model.objective, "target": mcfg.diffusion.target,
                 "k_max": k_max, "s_per_image_k": t_k / 4, "s_per_image_1": t_1 / 4,
                 "cost_of_k_vs_k_singles": t_k / (k_max * t_1),
                 "test": score_samples(test.stems, test.hr, test.lr, test_drawn, ks, mcfg.sampling,
                                       (val.hr, val_drawn) if val_drawn else None, smoothings, matches),
                 "validation": score_samples(val.stems, val.hr, val.lr, val_drawn or draw(predict_k, val.lr, val.stems),
                                             ks, mcfg.sampling, None, (), matches),
                 "second_generator": score_samples(gen2[0], gen2[2], gen2[1], gen2_drawn, ks, mcfg.sampling,
                                                   (val.hr, val_drawn) if val_drawn else None, smoothings, matches),
                 "seconds": time.perf_counter() - start}
        results[label] = entry
        print(f"{label}: step {model.step}, {entry['seconds']:.0f} s, K={k_max} costs "
              f"{entry['cost_of_k_vs_k_singles']:.2f} x {k_max} single samples", flush=True)
    out = output_dir(cfg, bench_args)
    write_json(out / f"{bench_args.label}.json", {"machine": machine_info(device), "runs": results})
    print(markdown_table(*table(results)))
    print(f"wrote {out / (bench_args.label + '.json')}")


def table(results: dict) -> tuple[list[str], list[list]]:
    """Return headers and rows: one row per run and K (and per --spectral-matches value), test and second generator side by side."""
    rows = []
    for label, entry in results.items():
        for key in [k for k in entry["test"] if k.startswith("K=")]:
            cells = [label if entry["k_max"] > 1 else f"{label} (one pass)", key.replace("K=", "")]
            for data in ("test", "second_generator"):
                m = entry[data][key]["metrics"]
                cells.append(f"{m['psnr']['mean']:.2f} / {m['ssim']['mean']:.3f} / {m['lsd']['mean']:.2f}")
                cal = entry[data][key].get("calibration_recalibrated") or entry[data][key].get("calibration_raw")
                cells.append("-" if cal is None else
                             f"{100 * cal['coverage']['1']:.1f} / {100 * cal['coverage']['2']:.1f} (x{cal['scale']:.2f})")
            cells.append(f"{entry['s_per_image_k'] * int(key[2:]) / entry['k_max']:.1f}")
            rows.append(cells)
            for v, m in entry["test"][key].get("by_spectral_match", {}).items():
                g = entry["second_generator"][key]["by_spectral_match"][v]
                rows.append([f"{label}, spectral_match {v}", key.replace("K=", ""),
                             f"{m['psnr']['mean']:.2f} / {m['ssim']['mean']:.3f} / {m['lsd']['mean']:.2f}", "-",
                             f"{g['psnr']['mean']:.2f} / {g['ssim']['mean']:.3f} / {g['lsd']['mean']:.2f}", "-", "-"])
        b, g = entry["test"]["bicubic"], entry["second_generator"]["bicubic"]
    rows.append(["bicubic", "-", f"{b['psnr']['mean']:.2f} / {b['ssim']['mean']:.3f} / {b['lsd']['mean']:.2f}", "-",
                 f"{g['psnr']['mean']:.2f} / {g['ssim']['mean']:.3f} / {g['lsd']['mean']:.2f}", "-", "-"])
    return (["model", "K", "test PSNR / SSIM / LSD", "test coverage 1 / 2 std % (scale)",
             "2nd generator PSNR / SSIM / LSD", "2nd gen. coverage 1 / 2 std %", "s per image (est.)"], rows)


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
