"""Sweep one sampling key over values on the validation split: how each value compares with bicubic.

    python -m benchmarks.val_sweep --config configs/quick.yaml run.dir=runs/A --key spectrum_floor \
        --values 0,1.1,1.2,1.4,2,4 [--n-val 48] [--label NAME] [--out DIR]
This is where the main job's sampling settings are chosen (docs/BENCHMARKS.md sections 9c, 9e and
9f), never on the test split or the real sections. For each value of sampling.<key> (each value is
parsed as YAML and checked as the config checks it): over the validation pairs, the mean and the
worst ΔPSNR (prediction minus bicubic), the mean ΔSSIM and ΔLSD, and how many pairs beat bicubic in
PSNR, SSIM, LSD and all three at once. Writes OUT/val_sweep_<label>.json and prints a markdown table.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import machine_info, markdown_table, output_dir, run_benchmark, write_json
from datasets.condition import upsample
from datasets.heldout import load_heldout
from sample import combined, load_model, make_predictor
from utils.config import Config, ConfigError, config_from_dict, config_to_dict, parse_override, validate
from utils.metrics import compare_to_targets
from utils.runtime import pick_device, seed_everything


def add_flags(parser) -> None:
    parser.add_argument("--key", required=True, help="the sampling key to sweep, e.g. spectrum_floor")
    parser.add_argument("--values", required=True, help="comma-separated values of it, each YAML")
    parser.add_argument("--n-val", type=int, default=48, help="first N validation stems of split.json")
    parser.add_argument("--label", default="", help="names the output; default the key")


def swept_configs(cfg: Config, key: str, values: str) -> list[tuple[object, Config]]:
    """Return (value, cfg with sampling.<key> = value) for each comma-separated value, each checked like the config."""
    key = key.removeprefix("sampling.")
    data = config_to_dict(cfg)
    if key not in data["sampling"]:
        raise ConfigError(f"--key: unknown key 'sampling.{key}', expected one of the sampling keys of config.yaml")
    out = []
    for raw in (v for v in values.split(",") if v.strip()):
        _, _, value = parse_override(f"sampling.{key}={raw.strip()}")
        data["sampling"][key] = value
        try:
            swept = config_from_dict(data)
            validate(swept)
        except ConfigError as err:
            raise ConfigError(f"--values: {str(err).removeprefix('stored config: ')}") from None
        out.append((value, swept))
    if not out:
        raise ConfigError("--values: no value given")
    return out


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    model = load_model(cfg, device)
    settings = swept_configs(model.cfg, bench_args.key, bench_args.values)
    held = load_heldout(model.cfg, "val", bench_args.n_val)
    bicubics = [upsample(lr, "bicubic").numpy() for lr in held.lr]
    key = bench_args.key.removeprefix("sampling.")
    payload = {"machine": machine_info(device), "checkpoint_step": model.step, "run_dir": cfg.run.dir,
               "key": f"sampling.{key}", "n_val": len(held.stems), "values": []}
    rows = []
    for value, swept in tqdm(settings, desc="values", unit="value"):
        predict = make_predictor(swept, model.net, device)
        with torch.no_grad():
            preds = [combined(s, swept.sampling)[0] for s in predict(held.lr, held.stems)]
        result = compare_to_targets(held.stems, held.hr, {"pred": preds, "bicubic": bicubics})
        d = np.array([[f["pred"][m] - f["bicubic"][m] for m in ("psnr", "ssim", "lsd")] for f in result["files"].values()])
        up = (d[:, 0] > 0, d[:, 1] > 0, d[:, 2] < 0)
        summary = {"mean_dpsnr": float(d[:, 0].mean()), "worst_dpsnr": float(d[:, 0].min()),
                   "mean_dssim": float(d[:, 1].mean()), "mean_dlsd": float(d[:, 2].mean()),
                   "psnr_up": int(up[0].sum()), "ssim_up": int(up[1].sum()), "lsd_down": int(up[2].sum()),
                   "all_three": int((up[0] & up[1] & up[2]).sum())}
        payload["values"].append({"value": value, **summary, "result": result})
        rows.append([str(value).lower() if isinstance(value, bool) else str(value), str(len(d)), f"{summary['mean_dpsnr']:+.3f}", f"{summary['worst_dpsnr']:+.2f}",
                     f"{summary['mean_dssim']:+.4f}", f"{summary['mean_dlsd']:+.3f}", *(str(summary[k]) for k in
                     ("psnr_up", "ssim_up", "lsd_down", "all_three"))])
    out = output_dir(cfg, bench_args)
    path = out / f"val_sweep_{bench_args.label or key}.json"
    write_json(path, payload)
    print(markdown_table([f"sampling.{key}", "pairs", "mean ΔPSNR", "worst ΔPSNR", "mean ΔSSIM", "mean ΔLSD",
                          "PSNR up", "SSIM up", "LSD down", "all three"], rows))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
