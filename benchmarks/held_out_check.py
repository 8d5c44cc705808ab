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
sections the most (docs/BENCHMARKS.md 9i, 9q, 9t). When a case is flagged, the tuned run is scored again
under each safer sampling setting it was not checked with (SAFER_SAMPLING: the cautious self-check, its
weights mixed halfway back to the start's, both; docs/BENCHMARKS.md 9y), so the verdict can name the one
that clears your flagged cases at the smallest cost. Prints the tables and a verdict; writes
run.dir/held_out_check.json (--out DIR: DIR/held_out_check.json). The full comparison over every recipe is benchmarks.transfer's.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from benchmarks.common import markdown_table, run_benchmark, write_json
from benchmarks.transfer import named_recipes, roundtrip
from sample import load_model, make_predictor
from utils.config import Config, ConfigError
from utils.run_folder import HELD_OUT_CHECK_FILE
from utils.runtime import pick_device, seed_everything

RECIPES = "ABQ"  # the config's round trip, plain decimation, point sampling
WORSE_BY = 0.05  # dB of PSNR below the start that counts as worse (rounding-level moves do not)
RESULT_FILE = HELD_OUT_CHECK_FILE
SAFER_SAMPLING = (  # sampling.* changes tried on a flagged run, in this order (docs/BENCHMARKS.md 9w, 9y)
    {"self_blend_aliased": True},  # the cautious self-check: a lift must also fit an aliased plain decimation
    {"mix_share": 0.5},  # the tuned weights halfway back to the start's
    {"mix_share": 0.5, "self_blend_aliased": True},
)


def check_models(cfg: Config) -> dict[str, Config]:
    """Return the configs that load the tuned checkpoint (sampling.checkpoint, else last.pt) and its start (train.init_from)."""
    if not cfg.train.init_from:
        raise ConfigError("train.init_from: the held-out check compares a fine-tuned run with its start; "
                          "this run names no starting checkpoint")
    start = copy.deepcopy(cfg)
    start.sampling.checkpoint = cfg.train.init_from
    start.sampling.mix_share = 0.0  # the start as it is; the tuned one mixed as the config says (sampling.mix_share)
    return {"tuned": cfg, "start": start}  # the tuned one first: its field sections are the ones both skip


def round_trips(model_cfg: Config, device: torch.device, bar: tqdm,
                trained_on: list[str] | None = None) -> tuple[dict, list[str]]:
    """Return ({recipe letter: {section: {pred, bicubic metrics}}} of one model on the held-out sections,
    the model's field sections).

    trained_on: the sections to skip (default the model's own field sections).
    """
    recipes, letters = named_recipes(model_cfg, RECIPES, [])
    model = load_model(model_cfg, device)
    skip = model.field_sections if trained_on is None else trained_on
    predict = make_predictor(model.cfg, model.net, device)
    found = {}
    for key, recipe in recipes.items():
        with torch.no_grad():
            result = roundtrip(model.cfg, predict, recipe, skip, skip_trained=True)
        found[letters[key]] = result.get("held_out", {}).get("files", {})
        bar.update(1)
    return found, model.field_sections


def scored(cfg: Config, device: torch.device, bar: tqdm) -> tuple[dict, list[str]]:
    """Return ({model: {recipe letter: {section: {pred, bicubic metrics}}}}, the tuned model's field sections)."""
    models = check_models(cfg)
    tuned, trained_on = round_trips(models["tuned"], device, bar)
    start, _ = round_trips(models["start"], device, bar, trained_on)  # the tuned model's held-out sections
    return {"tuned": tuned, "start": start}, trained_on


def flagged(start: dict, tuned: dict) -> str:
    """Return why the tuned model's case is worse than its start's in PSNR ('' when it is not); the table shows SSIM and LSD."""
    drop = tuned["pred"]["psnr"] - start["pred"]["psnr"]
    if drop <= -WORSE_BY:
        return f"{drop:+.2f} dB PSNR against its start"
    if tuned["pred"]["psnr"] < tuned["bicubic"]["psnr"] <= start["pred"]["psnr"]:
        return "PSNR below bicubic's, its start's above"
    return ""


def safer_settings(cfg: Config) -> list[dict]:
    """Return the sampling.* changes of SAFER_SAMPLING that would change how cfg samples, without repeats.

    A run already mixed keeps its own share (only the cautious check is added to it); the cautious
    check needs the self-check on (sampling.self_blend).
    """
    settings = []
    for changes in SAFER_SAMPLING:
        wanted = {key: value for key, value in changes.items()
                  if not (key == "mix_share" and cfg.sampling.mix_share > 0)
                  and not (key == "self_blend_aliased" and not cfg.sampling.self_blend)
                  and getattr(cfg.sampling, key) != value}
        if wanted and wanted not in settings:
            settings.append(wanted)
    return settings


def overrides_text(changes: dict) -> str:
    """Return changes as the command-line overrides that make them (sampling.key=value ...)."""
    shown = lambda value: str(value).lower() if isinstance(value, bool) else f"{value:g}"  # noqa: E731
    return " ".join(f"sampling.{key}={shown(value)}" for key, value in changes.items())


def compared(start: dict, tuned: dict) -> list[dict]:
    """Return one case per held-out section and recipe: both models' metrics and the tuned one's flag ('' when none)."""
    return [{"section": section, "recipe": letter, "start": start[letter][section], "tuned": found,
             "flag": flagged(start[letter][section], found)}
            for letter in RECIPES for section, found in tuned[letter].items()]


def summary(cases: list[dict]) -> dict:
    """Return flagged count, mean and worst PSNR against the start, and mean PSNR against bicubic of the tuned
    run and of its start, over cases."""
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    against_start = [c["tuned"]["pred"]["psnr"] - c["start"]["pred"]["psnr"] for c in cases]
    return {"flagged": sum(bool(c["flag"]) for c in cases), "cases": len(cases),
            "mean_vs_start_db": mean(against_start), "worst_vs_start_db": min(against_start),
            "mean_vs_bicubic_db": mean([c["tuned"]["pred"]["psnr"] - c["tuned"]["bicubic"]["psnr"] for c in cases]),
            "start_mean_vs_bicubic_db": mean([c["start"]["pred"]["psnr"] - c["start"]["bicubic"]["psnr"] for c in cases])}


def safest(tried: list[dict]) -> dict | None:
    """Return the tried setting to advise (None if none was tried): of those that clear every case the best mean
    against the start, else the one whose worst case is least below the start (a count of flags would weigh a
    0.05 dB loss as much as a 3 dB one)."""
    cleared = [t for t in tried if t["summary"]["flagged"] == 0]
    if cleared:
        return max(cleared, key=lambda t: t["summary"]["mean_vs_start_db"])
    return max(tried, key=lambda t: t["summary"]["worst_vs_start_db"], default=None)


def tuning_advice(cfg: Config) -> str:
    """Return the advice for a flagged run about tuning again ('' when it was tuned with the time stretch)."""
    if cfg.data.field_time_stretch[1] > 1:
        return ""
    return (" Tuning again with data.field_time_stretch=[1.0,2.0] (targets sampled up to twice as finely) "
            "cut this loss on sections sampled more finely than the tuning ones, for part of the gain "
            "(docs/BENCHMARKS.md 9v).")


def sampling_advice(tried: list[dict]) -> str:
    """Return the verdict's sentence on the safer sampling settings tried ('' when none was)."""
    best = safest(tried)
    if best is None:
        return ""
    figures = (f"mean {best['summary']['mean_vs_start_db']:+.2f} dB against the start, worst "
               f"{best['summary']['worst_vs_start_db']:+.2f}")
    if best["summary"]["flagged"] == 0:
        return (f" Sampled with {best['overrides']} the tuned run is flagged on none of the cases ({figures}): add "
                "those keys to sample.py's command (and to this check's).")
    return (f" No safer sampling setting clears every case; the smallest loss: {best['overrides']} "
            f"({figures}; {best['summary']['flagged']} of {best['summary']['cases']} cases still flagged).")


def try_safer(cfg: Config, start: dict, device: torch.device, trained_on: list[str]) -> list[dict]:
    """Return, for each of safer_settings(cfg), the tuned run's cases under it against the start and their summary."""
    settings = safer_settings(cfg)
    tried = []
    with tqdm(total=len(settings) * len(RECIPES), desc="safer settings", unit="round trip", file=sys.stdout) as bar:
        for changes in settings:
            variant = copy.deepcopy(cfg)
            variant.sampling = replace(cfg.sampling, **changes)
            found, _ = round_trips(variant, device, bar, trained_on)
            cases = compared(start, found)
            tried.append({"overrides": overrides_text(changes), "changes": changes, "summary": summary(cases),
                          "cases": cases})
    return tried


def held_out_check(cfg: Config, out_dir: Path | None = None) -> dict:
    """Score start and tuned checkpoints on the held-out sections under A, B and Q; print the comparison and
    write it to out_dir (default run.dir) / RESULT_FILE."""
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    with tqdm(total=2 * len(RECIPES), desc="held-out check", unit="round trip", file=sys.stdout) as bar:
        results, trained_on = scored(cfg, device, bar)
    cases = compared(results["start"], results["tuned"])
    rows = [[c["section"], c["recipe"], f"{c['tuned']['bicubic']['psnr']:.2f}",
             *(f"{m['pred']['psnr']:.2f} / {m['pred']['ssim']:.3f} / {m['pred']['lsd']:.2f}" for m in (c["start"], c["tuned"])),
             f"{c['tuned']['pred']['psnr'] - c['start']['pred']['psnr']:+.2f}", c["flag"] or "ok"] for c in cases]
    flags = [f"{c['section']} under {c['recipe']} ({c['flag']})" for c in cases if c["flag"]]
    tried = try_safer(cfg, results["start"], device, trained_on) if flags else []
    payload = {"start": cfg.train.init_from, "mix_share": cfg.sampling.mix_share, "trained_on_field": trained_on,
               "recipes": RECIPES, "worse_by_db": WORSE_BY, "cases": cases,
               "summary": summary(cases) if cases else {}, "safer": tried,
               "advised": {key: best[key] for key in ("overrides", "changes")} if (best := safest(tried)) else None}
    out = Path(out_dir or cfg.run.dir) / RESULT_FILE
    write_json(out, payload)
    tuned_name = f"tuned (mix_share {cfg.sampling.mix_share:g})" if cfg.sampling.mix_share > 0 else "tuned"
    print(markdown_table(["held-out section", "recipe", "bicubic PSNR", "start PSNR / SSIM / LSD",
                          f"{tuned_name} PSNR / SSIM / LSD", f"{tuned_name} - start (dB)", "check"], rows))
    if tried:
        print()
        start_row = ["the start (reference)", "-", "+0.00", "+0.00", f"{payload['summary']['start_mean_vs_bicubic_db']:+.2f}"]
        print(markdown_table(["tuned run sampled with", "flagged cases", "mean - start (dB)", "worst - start (dB)",
                              "mean - bicubic (dB)"],
                             [start_row] + [[name, f"{t['flagged']} of {t['cases']}", f"{t['mean_vs_start_db']:+.2f}",
                                             f"{t['worst_vs_start_db']:+.2f}", f"{t['mean_vs_bicubic_db']:+.2f}"]
                                            for name, t in [("the checked settings", payload["summary"])]
                                            + [(x["overrides"], x["summary"]) for x in tried]]))
    if not cases:
        print("held-out check: no held-out section in data.field_dir to compare on")
    elif flags:
        print(f"held-out check: the tuned model loses PSNR against its start on {len(flags)} of {len(cases)} cases: "
              + "; ".join(flags) + ". Keep the start checkpoint for sections like these, or compare further "
              "(README, 'Training on your own sections')." + sampling_advice(tried) + tuning_advice(cfg))
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
