"""One line per model and recipe from benchmarks/transfer.py results: how often it beats bicubic on real sections.

    python -m benchmarks.transfer_summary NAME=runs/bench_transfer/transfer_X.json[,more.json] ... [--per-section]
Each NAME may list several JSON files of one model (for instance one per --recipe-c): their round
trips are merged by recipe; every recipe but A and B is named by its own degradation settings (and
its letter when --recipes named it), so recipes with different keys stay apart. Only held-out
sections count. For each recipe: the mean ΔPSNR (prediction minus bicubic), the worst ΔPSNR, and
how many sections have PSNR above, SSIM above and LSD below bicubic's, and all three at once.
The synthetic columns are the gains over bicubic on the own test split, the second generator and
the default synthetic set (base test) of the first file, on the model's first line. A model with more
than one recipe ends with a row "all N recipes" that counts every (recipe, section) case at once: the
totals the benchmark notes quote ("all three metrics in 133 of 161"). --per-section prints every section's
ΔPSNR / ΔSSIM / ΔLSD as well.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.common import markdown_table
from datasets.degrade import DECIMATION_NAMES, SHARP_TAPER, depth_and_flaw_words

FIXED = {"roundtrip_a": "A", "roundtrip_b": "B"}


def recipe_name(recipe: dict) -> str:
    """Return a name of a third recipe from every key that changes its input: band, taper, noise, anti-alias,
    decimation, depth narrowing and flaws."""
    taper = recipe.get("band_taper", SHARP_TAPER)
    coloured = recipe["colored_noise_std"]
    flaws = depth_and_flaw_words(recipe)
    return (f"band {recipe['band_factor']:g}" + (f" taper {taper:g}" if taper != SHARP_TAPER else "")
            + f", noise {recipe['noise_std']:g} + {coloured:g} coloured"
            + (" in [{:g}, {:g}]".format(*recipe["colored_band"]) if coloured > 0 else "")
            + ("" if recipe.get("antialias", True) else ", no anti-alias")
            + ("" if recipe.get("decimation", "cells") == "cells" else ", " + DECIMATION_NAMES[recipe["decimation"]])
            + (", " + flaws if flaws else ""))


def deltas_against(files: dict, reference: str = "bicubic") -> dict[str, tuple[float, float, float]]:
    """Return {section: (ΔPSNR, ΔSSIM, ΔLSD)} of the prediction against reference, from compare_to_targets' files."""
    return {name: tuple(f["pred"][m] - f[reference][m] for m in ("psnr", "ssim", "lsd")) for name, f in files.items()}


def held_out_deltas(entry: dict) -> dict[str, tuple[float, float, float]]:
    """Return {section: (ΔPSNR, ΔSSIM, ΔLSD)} of one recipe's held-out sections."""
    return deltas_against(entry.get("held_out", {}).get("files", {}))


def collect(paths: list[Path]) -> tuple[dict, dict]:
    """Return ({recipe name: {section: deltas}}, the first file's first run) from one model's JSON files."""
    recipes, first = {}, None
    for path in paths:
        payload = json.loads(path.read_text())
        run = payload["runs"][0]
        first = first or run
        letters = payload.get("recipe_letters", {})
        for key in sorted(k for k in run if k.startswith("roundtrip_")):
            recipes.setdefault(recipe_label(key, payload, letters), {}).update(held_out_deltas(run[key]))
    return recipes, first


def recipe_label(key: str, payload: dict, letters: dict) -> str:
    """Return the name of one round trip of a file: A or B, else its letter (if --recipes named it) and its settings."""
    if key in FIXED:
        return FIXED[key]
    described = recipe_name(payload[key])
    return f"{letters[key]}: {described}" if key in letters else described


def better_in_all_three(delta: tuple[float, float, float]) -> bool:
    """Return whether one case's (ΔPSNR, ΔSSIM, ΔLSD) against bicubic is better in all three metrics."""
    return delta[0] > 0 and delta[1] > 0 and delta[2] < 0


def recipe_row(deltas: dict) -> list[str]:
    """Return the cells: n, mean and worst ΔPSNR, counts of PSNR up, SSIM up, LSD down, all three."""
    values = list(deltas.values())
    psnr_up = sum(d[0] > 0 for d in values)
    ssim_up = sum(d[1] > 0 for d in values)
    lsd_down = sum(d[2] < 0 for d in values)
    all_three = sum(better_in_all_three(d) for d in values)
    return [str(len(values)), f"{sum(d[0] for d in values) / len(values):+.2f}", f"{min(d[0] for d in values):+.2f}",
            str(psnr_up), str(ssim_up), str(lsd_down), str(all_three)]


def gain(run: dict, key: str) -> str:
    return f"{run[key]['gain_db']:+.2f}" if key in run else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=FILE[,FILE...]")
    parser.add_argument("--per-section", action="store_true", help="also print every section's deltas")
    args = parser.parse_args(argv)
    rows, sections = [], []
    for item in args.models:
        name, _, files = item.partition("=")
        paths = [Path(p) for p in files.split(",") if p]
        missing = [str(p) for p in paths if not p.is_file()]
        if not name or not paths or missing:
            print(f"error: {item}: expected NAME=FILE[,FILE...] of existing transfer JSON files"
                  + (f" (missing: {', '.join(missing)})" if missing else ""), file=sys.stderr)
            return 2
        recipes, run = collect(paths)
        synthetic = [gain(run, "own_test"), gain(run, "second_generator"), gain(run, "base_test")]
        scored = {recipe: deltas for recipe, deltas in recipes.items() if deltas}
        for recipe, deltas in scored.items():
            rows.append([name, recipe, *recipe_row(deltas), *synthetic])
            synthetic = [""] * 3  # once per model
            sections += [[name, recipe, s.split("_")[0], f"{p:+.2f} / {q:+.3f} / {r:+.2f}"]
                         for s, (p, q, r) in sorted(deltas.items())]
        if len(scored) > 1:
            every_case = {(recipe, s): d for recipe, deltas in scored.items() for s, d in deltas.items()}
            rows.append([name, f"all {len(scored)} recipes", *recipe_row(every_case), "", "", ""])
    print(markdown_table(["model", "recipe", "sections", "mean ΔPSNR", "worst ΔPSNR", "PSNR up", "SSIM up", "LSD down",
                          "all three", "own test", "2nd generator", "base test"], rows))
    if args.per_section:
        print()
        print(markdown_table(["model", "recipe", "section", "ΔPSNR / ΔSSIM / ΔLSD"], sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
