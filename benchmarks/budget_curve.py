"""Gain over bicubic against training steps, from benchmarks/transfer.py results of one run's checkpoints.

    python -m benchmarks.budget_curve STEPS=transfer_X_s0.json[,transfer_X_s1.json] ... [--out FILE.png]

Each STEPS is a checkpoint's step count with the transfer JSON files scored from it (one per training
seed). Per file: the mean ΔPSNR (prediction minus bicubic) over every held-out (recipe, section) case,
under recipe A alone, the count of cases better than bicubic in PSNR, SSIM and LSD at once, and the
gains on the own test split and on the second generator. Printed as a table and drawn against the
steps (one marker per file, a line through their mean), so a longer training's effect on real
sections and on synthetic data reads at a glance.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import markdown_table
from benchmarks.transfer_summary import better_in_all_three, held_out_deltas
from utils.plots import plt, save_figure

CURVES = {"real": "real sections, every recipe", "recipe_a": "real sections, recipe A",
          "own_test": "own test split", "second_generator": "second generator"}


def file_scores(payload: dict) -> dict[str, float]:
    """Return one transfer result's mean ΔPSNR over all held-out cases, under A, its all-three count and synthetic gains."""
    run = payload["runs"][0]
    cases = [d for key in sorted(k for k in run if k.startswith("roundtrip_")) for d in held_out_deltas(run[key]).values()]
    if not cases:
        raise ValueError("holds no held-out round-trip sections")
    under_a = list(held_out_deltas(run.get("roundtrip_a", {})).values())
    return {"real": float(np.mean([d[0] for d in cases])),
            "recipe_a": float(np.mean([d[0] for d in under_a])) if under_a else float("nan"),
            "own_test": run.get("own_test", {}).get("gain_db", float("nan")),
            "second_generator": run.get("second_generator", {}).get("gain_db", float("nan")),
            "cases": len(cases), "all_three": sum(better_in_all_three(d) for d in cases)}


def parse_points(items: list[str]) -> dict[int, list[Path]]:
    """Return {steps: [files]} from STEPS=FILE[,FILE...] arguments; ValueError names the first bad one."""
    points = {}
    for item in items:
        steps, _, files = item.partition("=")
        paths = [Path(p) for p in files.split(",") if p]
        missing = [str(p) for p in paths if not p.is_file()]
        if not steps.isdigit() or not paths or missing:
            raise ValueError(f"{item}: expected STEPS=FILE[,FILE...] with an integer step count and existing transfer "
                             f"JSON files" + (f" (missing: {', '.join(missing)})" if missing else ""))
        points[int(steps)] = paths
    return dict(sorted(points.items()))


def plot_budget(scores: dict[int, list[dict]], png_path: Path) -> None:
    """Draw each CURVES entry against the steps: a marker per file, a line through the per-step means."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    steps = list(scores)
    for key, label in CURVES.items():
        values = [[s[key] for s in scores[n]] for n in steps]
        line, = ax.plot(steps, [np.nanmean(v) for v in values], marker="", label=label)
        for n, v in zip(steps, values):
            ax.plot([n] * len(v), v, linestyle="", marker="o", markersize=4, color=line.get_color())
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_xlabel("training steps")
    ax.set_ylabel("gain over bicubic, PSNR (dB)")
    ax.set_title("gain against training budget (one marker per seed)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, png_path)
    plt.close(fig)


def table_rows(scores: dict[int, list[dict]]) -> list[list[str]]:
    """Return one row per step count: each column's value per file (seed), joined by ' / '."""
    def cell(per_file: list[dict], key: str) -> str:
        if key == "all_three":
            return " / ".join(f"{s['all_three']} of {s['cases']}" for s in per_file)
        return " / ".join(f"{s[key]:+.2f}" for s in per_file)
    return [[str(n)] + [cell(per_file, key) for key in ("real", "recipe_a", "all_three", "own_test", "second_generator")]
            for n, per_file in scores.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("points", nargs="+", metavar="STEPS=FILE[,FILE...]")
    parser.add_argument("--out", default="budget_curve.png", help="the PNG to write")
    args = parser.parse_args(argv)
    try:
        points = parse_points(args.points)
        scores = {n: [file_scores(json.loads(p.read_text())) for p in paths] for n, paths in points.items()}
    except (ValueError, KeyError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown_table(["steps", "mean ΔPSNR, all cases", "recipe A", "all three metrics", "own test",
                          "second generator"], table_rows(scores)))
    plot_budget(scores, Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
