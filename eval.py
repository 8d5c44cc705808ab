"""Score predictions on disk against their references, next to bicubic upsampling. Never runs the model.

    python eval.py [--config PARTIAL.yaml] [section.key=value ...]
    eval.input=test       run.dir/samples/<stem>_pred.dat for the test stems of run.dir/split.json
                          -> run.dir/eval/metrics.json, run.dir/eval/spectra.png
    eval.input=roundtrip  run.dir/roundtrip/ from `sample.py sampling.input=roundtrip`, scored
                          against the original field sections -> run.dir/roundtrip/metrics.json,
                          run.dir/roundtrip/roundtrip.png (and reliability.png when K > 1 wrote std maps)
This is the only script that writes a metrics file; the notebooks draw the same rows through
`test_rows` and `roundtrip_rows`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from datasets.condition import upsample
from datasets.dat_io import field_interval, read_dat, read_field
from datasets.degrade import DECIMATION_NAMES, SHARP_TAPER, apply_deterministic_part, depth_and_flaw_words
from datasets.heldout import HeldOut, load_heldout
from utils.atomic import atomic_write_bytes
from utils.cli import run_main
from utils.config import Config
from utils.errors import DataError
from utils.metrics import calibration, compare_to_targets, fit_std_scale, format_table, unscorable
from utils.plots import plot_mean_spectra, plot_reliability, plot_roundtrip
from utils.run_folder import prepare_run_dir, refuse_input_folders


def read_predictions(cfg: Config, part: str = "test") -> tuple[HeldOut, dict[str, list]]:
    """Return (the held-out pairs of split.json's part, their outputs) read from run.dir.

    Outputs: {"pred": means, "std": std maps or None, "sample": sample 0 or None}, each a list in
    stem order; test predictions live in samples/, validation ones in samples_val/.
    """
    held = load_heldout(cfg, part)
    pred_dir = Path(cfg.run.dir) / ("samples" if part == "test" else "samples_val")
    missing = [s for s in held.stems if not (pred_dir / f"{s}_pred.dat").exists()]
    if missing:
        raise DataError(f"{len(missing)} of {len(held.stems)} predictions are missing in {pred_dir} "
                        f"(first: {missing[0]}_pred.dat); run sample.py first"
                        + (" with sampling.input=val" if part == "val" else ""))
    outputs = {}
    for kind in ("pred", "std", "sample0"):
        paths = [pred_dir / f"{s}_{kind}.dat" for s in held.stems]
        outputs[kind] = [read_dat(p, cfg.data.hr_shape) for p in paths] if all(p.exists() for p in paths) else None
    outputs["sample"] = outputs.pop("sample0")
    return held, outputs


def score_test_set(cfg: Config) -> tuple[dict, HeldOut, list]:
    """Return (metrics of the prediction, of one sample when there are several, and of bicubic; the held-out
    pairs; the predictions). With std maps, the result also holds their calibration (see calibrate_std)."""
    held, outputs = read_predictions(cfg, "test")
    systems = {"pred": outputs["pred"], "bicubic": held.bicubic}
    if outputs["sample"] is not None:
        systems["sample"] = outputs["sample"]
    result = compare_to_targets(held.stems, held.hr, systems)
    if outputs["std"] is not None:
        result["calibration"] = calibrate_std(cfg, held, outputs)
    return result, held, outputs["pred"]


def calibrate_std(cfg: Config, held: HeldOut, outputs: dict) -> dict:
    """Return the std maps' calibration on the test split: raw, and rescaled by one scalar fitted on the
    validation predictions (samples_val/) when they exist. Files with unscorable targets are left out."""
    keep = [i for i, hr in enumerate(held.hr) if unscorable(hr) is None]
    pick = lambda items: [items[i] for i in keep]  # noqa: E731
    result = {"raw": calibration(pick(held.hr), pick(outputs["pred"]), pick(outputs["std"]))}
    scale, fitted_on = validation_std_scale(cfg)
    if scale is None:
        result["note"] = fitted_on
        return result
    result["recalibrated"] = calibration(pick(held.hr), pick(outputs["pred"]), pick(outputs["std"]), scale)
    result["recalibrated"]["fitted_on"] = fitted_on
    return result


def validation_std_scale(cfg: Config) -> tuple[float | None, str]:
    """Return (the std scale fitted on the validation predictions in samples_val/, where it was fitted),
    or (None, why not) when they have no std maps."""
    missing = (None, "no validation std maps: run sample.py sampling.input=val with the same "
                     "sampling.num_samples to fit a recalibration scale")
    if not any((Path(cfg.run.dir) / "samples_val").glob("*_std.dat")):
        return missing  # nothing to fit: the validation pairs are not even read
    try:
        val, val_outputs = read_predictions(cfg, "val")
    except DataError:
        return missing
    if val_outputs["std"] is None:
        return missing
    return fit_std_scale(val.hr, val_outputs["pred"], val_outputs["std"]), f"validation split, {len(val.stems)} files"


def test_rows(cfg: Config) -> list[dict]:
    """Return one row per test file for view.ipynb: name, lr, bicubic, pred, std (or None), hr and its metrics."""
    result, held, preds = score_test_set(cfg)
    _, outputs = read_predictions(cfg, "test")
    stds = outputs["std"] or [None] * len(preds)
    return [{"name": s, "lr": lr, "bicubic": b, "pred": p, "std": sd, "hr": hr, "metrics": result["files"].get(s)}
            for s, lr, b, p, sd, hr in zip(held.stems, held.lr, held.bicubic, preds, stds, held.hr)]


def format_calibration(calib: dict) -> str:
    """Return lines of observed vs Gaussian coverage of mean +- z std, raw and recalibrated (or leave-one-out)."""
    lines = []
    for kind in ("raw", "recalibrated", "leave_one_out"):
        if kind in calib:
            c = calib[kind]
            cells = ", ".join(f"{z} std {100 * c['coverage'][z]:.1f} % (Gaussian {100 * c['nominal'][z]:.1f})"
                              for z in c["coverage"])
            lines.append(f"coverage, {kind} (scale {c['scale']:.2f}): {cells}; "
                         f"rank correlation std ~ |error| {c['spearman_std_abs_error']:.2f}")
    sections = calib.get("per_section", {})
    if sections and all("coverage_recalibrated" in v for v in sections.values()):
        one = [100 * v["coverage_recalibrated"]["1"] for v in sections.values()]
        lines.append(f"coverage at 1 std with the validation scale, per section: {min(one):.1f} to {max(one):.1f} % "
                     f"over {len(one)} section(s)")
    if "note" in calib:
        lines.append(calib["note"])
    return "\n".join(lines)


def consistency(pred: np.ndarray, lr: np.ndarray, section: dict) -> float | None:
    """Return RMS(F(pred) - input) / RMS(added noise): about 1 when pred explains the input within its noise.

    F is the round trip's forward model without noise (same time cutoff, decimation); the round trip's
    flaws (dead traces, spikes, swell) count as noise. None when the round trip added no noise: there
    is no noise level to measure the residual against.
    """
    if section["noise_rms"] <= 0:
        return None
    residual = apply_deterministic_part(pred, section["time_cutoff"], section["antialias"],  # older records
                                        section.get("band_taper", SHARP_TAPER),  # lack the last three keys
                                        section.get("decimation", "cells"), section.get("depth_cutoffs")) - lr
    return float(np.sqrt(np.mean(residual ** 2)) / section["noise_rms"])


def format_consistency(value: float | None) -> str:
    """Return a consistency residual for the text table: 'n/a' when no noise was added."""
    return "n/a" if value is None else f"{value:.2f}"


def roundtrip_rows(cfg: Config) -> tuple[list[dict], dict]:
    """Return (one row per round-trip section, the degradation record that sample.py wrote).

    A row holds name, group ("held out" or "trained on"), original, lr, bicubic, pred, std (or
    None), dt (the original's sample interval, s), dt_source (where dt came from, see
    datasets.dat_io.field_interval) and consistency; arrays are (time, trace) in the section's own units.
    """
    folder = Path(cfg.run.dir) / "roundtrip"
    record_path = folder / "degradation.json"
    if not record_path.exists():
        raise DataError(f"{record_path} does not exist; run sample.py sampling.input=roundtrip with the same run.dir first")
    record = json.loads(record_path.read_text())
    rows = []
    for name, section in record["sections"].items():
        time, trace = section["reference_shape"]
        original_path = Path(cfg.data.field_dir) / section["file"]
        original = read_field(original_path, cfg.eval.field_transpose.get(name, True))
        dt, dt_source = field_interval(original_path, cfg.eval)
        original = original[:time, :trace]
        lr = read_dat(folder / f"{name}_input.dat", (trace // 2, time // 2))
        pred = read_dat(folder / f"{name}_pred.dat", (trace, time))
        std_path = folder / f"{name}_std.dat"
        bicubic = upsample(lr, "bicubic").numpy()
        rows.append({"name": name, "group": "trained on" if section["trained_on"] else "held out",
                     "original": original, "lr": lr, "bicubic": bicubic, "pred": pred,
                     "std": read_dat(std_path, (trace, time)) if std_path.exists() else None,
                     "dt": dt, "dt_source": dt_source,
                     "consistency": {"pred": consistency(pred, lr, section), "bicubic": consistency(bicubic, lr, section)}})
    return rows, record


def score_roundtrip(cfg: Config) -> tuple[dict, list[dict]]:
    """Return (round-trip metrics, the rows): held-out and trained-on sections scored apart, plus consistency."""
    rows, record = roundtrip_rows(cfg)
    result = {"degradation": record["roundtrip"], "field_dir": record["field_dir"]}
    for group in ("held out", "trained on"):
        part = [r for r in rows if r["group"] == group]
        if part:
            result[group.replace(" ", "_")] = compare_to_targets(
                [r["name"] for r in part], [r["original"] for r in part],
                {"pred": [r["pred"] for r in part], "bicubic": [r["bicubic"] for r in part]})
    result["consistency"] = {r["name"]: r["consistency"] for r in rows}
    for r in rows:
        r["metrics"] = result[r["group"].replace(" ", "_")]["files"].get(r["name"])
    if any(r["std"] is not None for r in rows):
        calibrated = calibrate_roundtrip_std(rows, validation_std_scale(cfg))
        if calibrated:
            result["calibration"] = calibrated
    return result, rows


def calibrate_roundtrip_std(rows: list[dict], validation: tuple[float | None, str] = (None, "")) -> dict:
    """Return the std maps' calibration on the held-out round-trip sections ({} without std maps).

    raw: coverage pooled over their pixels. recalibrated: with the scale fitted on the synthetic
    validation split (validation: validation_std_scale's answer; left out when it has none), the
    one a user without any HR section can apply. leave_one_out: each section's std scaled by the
    one scalar (fit_std_scale) fitted on the other held-out sections, never on itself, then pooled:
    how well a scale learnt on some real sections carries to another. per_section: raw coverage at
    1, 2 and 3 std, with the validation scale when there is one, and that section's leave-one-out scale.
    """
    held = [r for r in rows if r["group"] == "held out" and r["std"] is not None and r["metrics"]]
    if not held:
        return {}
    pick = lambda key, part: [r[key] for r in part]  # noqa: E731
    out = {"raw": calibration(pick("original", held), pick("pred", held), pick("std", held)), "per_section": {}}
    scale, fitted_on = validation
    if scale is not None:
        out["recalibrated"] = calibration(pick("original", held), pick("pred", held), pick("std", held), scale)
        out["recalibrated"]["fitted_on"] = fitted_on
    scales = {}
    if len(held) >= 2:
        for r in held:
            others = [o for o in held if o is not r]
            scales[r["name"]] = fit_std_scale(pick("original", others), pick("pred", others), pick("std", others))
        out["leave_one_out"] = calibration(pick("original", held), pick("pred", held),
                                           [r["std"] * scales[r["name"]] for r in held])
        out["leave_one_out"]["scale"] = float(np.median(list(scales.values())))
        out["leave_one_out"]["fitted_on"] = "the other held-out sections, one scale per section (scale: their median)"
    for r in held:
        c = calibration([r["original"]], [r["pred"]], [r["std"]])
        out["per_section"][r["name"]] = {"coverage_raw": c["coverage"], "spearman_std_abs_error": c["spearman_std_abs_error"],
                                         "leave_one_out_scale": scales.get(r["name"])}
        if scale is not None:
            recalibrated = calibration([r["original"]], [r["pred"]], [r["std"]], scale)["coverage"]
            out["per_section"][r["name"]]["coverage_recalibrated"] = recalibrated
    # Sections come in their own units, so a rank correlation over all their pixels would mostly
    # rank the sections by amplitude: report the median of each section's own instead.
    within = float(np.median([v["spearman_std_abs_error"] for v in out["per_section"].values()]))
    for kind in ("raw", "recalibrated", "leave_one_out"):
        if kind in out:
            out[kind]["spearman_std_abs_error"] = within
            out[kind]["spearman_note"] = "median over the sections of each section's own rank correlation"
    return out


def roundtrip_curves(calib: dict) -> dict:
    """Return the reliability curves of a round trip's std calibration (calibrate_roundtrip_std), by legend name."""
    names = {"raw": "raw", "recalibrated": "scale fitted on the validation split",
             "leave_one_out": "leave one section out, median"}
    return {names[k]: v for k, v in calib.items() if k in names}


def format_roundtrip(result: dict, rows: list[dict]) -> str:
    """Return a per-section text table of the round trip: PSNR / SSIM / LSD of bicubic and prediction, consistency."""
    width = max([14] + [len(r["name"]) for r in rows])
    lines = [f"{'section':{width}s} {'group':10s} {'bicubic PSNR/SSIM/LSD':>24s} {'prediction PSNR/SSIM/LSD':>26s} "
             f"{'F(pred)-input / noise':>22s}"]
    for r in rows:
        m = r["metrics"]
        if not m:
            continue
        cell = lambda x: f"{x['psnr']:6.2f} / {x['ssim']:.3f} / {x['lsd']:5.2f}"  # noqa: E731
        lines.append(f"{r['name']:{width}s} {r['group']:10s} {cell(m['bicubic']):>24s} {cell(m['pred']):>26s} "
                     f"{format_consistency(r['consistency']['pred']):>10s} "
                     f"(bicubic {format_consistency(r['consistency']['bicubic'])})")
    for group in ("held_out", "trained_on"):
        if group in result:
            g = result[group]
            lines.append(f"{group.replace('_', ' ')}: {g['n_files']} section{'s' * (g['n_files'] != 1)}, mean PSNR gain over bicubic "
                         f"{g['gain_db']:+.2f} dB, SSIM {g['pred']['ssim']['mean']:.3f} vs {g['bicubic']['ssim']['mean']:.3f}, "
                         f"LSD {g['pred']['lsd']['mean']:.2f} vs {g['bicubic']['lsd']['mean']:.2f} dB")
    return "\n".join(lines)


def main_roundtrip(cfg: Config) -> None:
    """Write roundtrip/metrics.json and roundtrip/roundtrip.png for run.dir's round-trip predictions."""
    result, rows = score_roundtrip(cfg)
    folder = Path(cfg.run.dir) / "roundtrip"
    blend_path = folder / "self_blend.json"  # sample.py sampling.self_blend: the weights behind these predictions
    if blend_path.exists():
        result["self_blend"] = json.loads(blend_path.read_text())
    atomic_write_bytes(folder / "metrics.json", json.dumps(result, indent=1).encode())
    d = result["degradation"]
    flaws = depth_and_flaw_words(d)
    title = (f"round trip: band x{d['band_factor']:g} (taper {d.get('band_taper', SHARP_TAPER):g}), x2 decimation "
             f"({DECIMATION_NAMES[d.get('decimation', 'cells')]}), "
             f"noise {d['noise_std']:g} white + "
             f"{d['colored_noise_std']:g} coloured"
             + (f", {flaws}" if flaws else "") + f"; model {cfg.run.dir}")
    if "self_blend" in result:
        shown = lambda w: "/".join(f"{v:.2f}" for v in w) if isinstance(w, list) else f"{w:.2f}"  # noqa: E731
        title += "; self-check weights " + ", ".join(f"{name.split('_')[0]} {shown(w)}"
                                                     for name, w in sorted(result["self_blend"].items()))
    plot_roundtrip(rows, cfg.eval.max_freq, folder / "roundtrip.png", title)
    print(format_roundtrip(result, rows))
    if "calibration" in result:
        plot_reliability(roundtrip_curves(result["calibration"]), folder / "reliability.png",
                         f"std maps of {cfg.run.dir}, held-out round-trip sections")
        print(format_calibration(result["calibration"]))
    print(f"wrote {folder / 'metrics.json'} and {folder / 'roundtrip.png'}")


def main(cfg: Config) -> None:
    """Score the test predictions (eval/metrics.json, eval/spectra.png) or the round trip, as eval.input says."""
    if cfg.eval.input == "roundtrip":
        return main_roundtrip(cfg)
    result, held, preds = score_test_set(cfg)
    out_dir = Path(cfg.run.dir) / "eval"
    refuse_input_folders(out_dir, cfg.data)
    prepare_run_dir(out_dir)
    atomic_write_bytes(out_dir / "metrics.json", json.dumps(result, indent=1).encode())
    scored = [i for i, s in enumerate(held.stems) if s in result["files"]]
    if scored:
        plot_mean_spectra({"HR target": [held.hr[i] for i in scored], "prediction": [preds[i] for i in scored],
                           "bicubic": [held.bicubic[i] for i in scored]}, cfg.eval.dt, cfg.eval.max_freq,
                          out_dir / "spectra.png")
    print(format_table(result, {"bicubic": "bicubic", "sample": "one sample", "pred": "prediction"}))
    if "calibration" in result:
        curves = {k: v for k, v in result["calibration"].items() if k in ("raw", "recalibrated")}
        plot_reliability(curves, out_dir / "reliability.png", f"std maps of {cfg.run.dir}, test split")
        print(format_calibration(result["calibration"]))
    print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'spectra.png'}")


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
