"""After fine-tuning on field sections: is the tuned model better than its start on the sections it never saw?

    python -m benchmarks.held_out_check --config runs/mine/train_config.yaml [section.key=value ...]

train.py runs this at the end of every fine-tuning on field sections (train.init_from with
data.field_fraction > 0) unless train.held_out_check is false. Each held-out section (in
data.field_dir and not trained on) is degraded by recipes A (the config's roundtrip.*), B (plain
decimation, 5 % noise) and Q (point sampling) of benchmarks/recipes.py, super-resolved by the start
checkpoint (train.init_from) and by the tuned one (sampling.checkpoint, default run.dir's last.pt;
with sampling.mix_share its weights mixed back toward the start's, the start itself unmixed) with the
same sampling settings, and scored against the section with utils.metrics. A case is
flagged when the tuned model is WORSE_BY dB or more below its start in PSNR, or below bicubic in PSNR
where its start was above it: fine-tuning moves point-sampled inputs of sections unlike the tuning
sections the most (docs/BENCHMARKS.md 9i, 9q, 9t). Prints one table and a verdict; writes
run.dir/held_out_check.json (--out DIR: DIR/held_out_check.json). The full comparison over every recipe is benchmarks.transfer's.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from benchmarks.common import markdown_table, run_benchmark, write_json
from benchmarks.transfer import named_recipes, roundtrip
from sample import load_model, make_predictor
from utils.config import Config, ConfigError
from utils.runtime import pick_device, seed_everything

RECIPES = "ABQ"  # the config's round trip, plain decimation, point sampling
WORSE_BY = 0.05  # dB of PSNR below the start that counts as worse (rounding-level moves do not)
RESULT_FILE = "held_out_check.json"


def check_models(cfg: Config) -> dict[str, Config]:
    """Return the configs that load the tuned checkpoint (sampling.checkpoint, else last.pt) and its start (train.init_from)."""
    if not cfg.train.init_from:
        raise ConfigError("train.init_from: the held-out check compares a fine-tuned run with its start; "
                          "this run names no starting checkpoint")
    start = copy.deepcopy(cfg)
    start.sampling.checkpoint = cfg.train.init_from
    start.sampling.mix_share = 0.0  # the start as it is; the tuned one mixed as the config says (sampling.mix_share)
    return {"tuned": cfg, "start": start}  # the tuned one first: its field sections are the ones both skip


def scored(cfg: Config, device: torch.device, bar: tqdm) -> tuple[dict, list[str]]:
    """Return ({model: {recipe letter: {section: {pred, bicubic metrics}}}}, the tuned model's field sections)."""
    recipes, letters = named_recipes(cfg, RECIPES, [])
    results, trained_on = {}, []
    for name, model_cfg in check_models(cfg).items():
        model = load_model(model_cfg, device)
        if name == "tuned":
            trained_on = model.field_sections
        predict = make_predictor(model.cfg, model.net, device)
        results[name] = {}
        for key, recipe in recipes.items():
            with torch.no_grad():
                found = roundtrip(model.cfg, predict, recipe, trained_on, skip_trained=True)
            results[name][letters[key]] = found.get("held_out", {}).get("files", {})
            bar.update(1)
    return results, trained_on


def flagged(start: dict, tuned: dict) -> str:
    """Return why the tuned model's case is worse than its start's in PSNR ('' when it is not); the table shows SSIM and LSD."""
    drop = tuned["pred"]["psnr"] - start["pred"]["psnr"]
    if drop <= -WORSE_BY:
        return f"{drop:+.2f} dB PSNR against its start"
    if tuned["pred"]["psnr"] < tuned["bicubic"]["psnr"] <= start["pred"]["psnr"]:
        return "PSNR below bicubic's, its start's above"
    return ""


def safer_options(cfg: Config) -> str:
    """Return the advice for a flagged run: the safer settings it was not checked with ('' when it had both)."""
    advice = []
    if cfg.sampling.mix_share == 0:
        advice.append("Sample it with sampling.mix_share=0.5 (its weights halfway back to the start's; check again "
                      "with that key) to keep part of the gain at a smaller risk (docs/BENCHMARKS.md 9w).")
    if cfg.data.field_time_stretch[1] <= 1:
        advice.append("Tuning again with data.field_time_stretch=[1.0,2.0] (targets sampled up to twice as finely) "
                      "cut this loss on sections sampled more finely than the tuning ones, for part of the gain "
                      "(docs/BENCHMARKS.md 9v).")
    return "".join(" " + line for line in advice)


def held_out_check(cfg: Config, out_dir: Path | None = None) -> dict:
    """Score start and tuned checkpoints on the held-out sections under A, B and Q; print the comparison and
    write it to out_dir (default run.dir) / RESULT_FILE."""
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    with tqdm(total=2 * len(RECIPES), desc="held-out check", unit="round trip", file=sys.stdout) as bar:
        results, trained_on = scored(cfg, device, bar)
    rows, cases, flags = [], [], []
    for letter in RECIPES:
        for section, tuned in results["tuned"][letter].items():
            start = results["start"][letter][section]
            why = flagged(start, tuned)
            cases.append({"section": section, "recipe": letter, "start": start, "tuned": tuned, "flag": why})
            rows.append([section, letter, f"{tuned['bicubic']['psnr']:.2f}",
                         *(f"{m['pred']['psnr']:.2f} / {m['pred']['ssim']:.3f} / {m['pred']['lsd']:.2f}" for m in (start, tuned)),
                         f"{tuned['pred']['psnr'] - start['pred']['psnr']:+.2f}", why or "ok"])
            if why:
                flags.append(f"{section} under {letter} ({why})")
    payload = {"start": cfg.train.init_from, "mix_share": cfg.sampling.mix_share, "trained_on_field": trained_on,
               "recipes": RECIPES, "worse_by_db": WORSE_BY, "cases": cases}
    out = Path(out_dir or cfg.run.dir) / RESULT_FILE
    write_json(out, payload)
    tuned_name = f"tuned (mix_share {cfg.sampling.mix_share:g})" if cfg.sampling.mix_share > 0 else "tuned"
    print(markdown_table(["held-out section", "recipe", "bicubic PSNR", "start PSNR / SSIM / LSD",
                          f"{tuned_name} PSNR / SSIM / LSD", f"{tuned_name} - start (dB)", "check"], rows))
    if not cases:
        print("held-out check: no held-out section in data.field_dir to compare on")
    elif flags:
        print(f"held-out check: the tuned model loses PSNR against its start on {len(flags)} of {len(cases)} cases: "
              + "; ".join(flags) + ". Keep the start checkpoint for sections like these, or compare further "
              "(README, 'Training on your own sections')." + safer_options(cfg))
    else:
        print(f"held-out check: the tuned model's PSNR is as good as its start's or better on all {len(cases)} cases "
              f"(held-out sections x recipes {', '.join(RECIPES)}).")
    print(f"wrote {out}")
    return payload


def add_flags(_parser) -> None:
    """No flags of its own beyond run_benchmark's --out, --config and --threads."""


def main(cfg: Config, bench_args) -> None:
    held_out_check(cfg, Path(bench_args.out) if bench_args.out else None)


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
