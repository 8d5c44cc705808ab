"""Score predictions on disk against their HR targets, next to bicubic upsampling. Never runs the model.

    python eval.py [--config PARTIAL.yaml] [section.key=value ...]
Reads run.dir/samples/<stem>_pred.dat for the test stems of run.dir/split.json and writes
run.dir/eval/metrics.json and run.dir/eval/spectra.png. This is the only script that writes
a metrics file; view.ipynb draws the same rows through `test_rows`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from datasets.dat_io import read_dat
from datasets.heldout import HeldOut, load_heldout
from utils.atomic import atomic_write_bytes
from utils.cli import run_main
from utils.config import Config
from utils.errors import DataError
from utils.metrics import compare_to_targets, format_table
from utils.plots import plot_mean_spectra
from utils.run_folder import prepare_run_dir, refuse_input_folders


def read_test_predictions(cfg: Config) -> tuple[HeldOut, list]:
    """Return (the held-out test pairs, their predictions from run.dir/samples), raising if any is missing."""
    held = load_heldout(cfg, "test")
    pred_dir = Path(cfg.run.dir) / "samples"
    missing = [s for s in held.stems if not (pred_dir / f"{s}_pred.dat").exists()]
    if missing:
        raise DataError(f"{len(missing)} of {len(held.stems)} predictions are missing in {pred_dir} "
                        f"(first: {missing[0]}_pred.dat); run sample.py first")
    return held, [read_dat(pred_dir / f"{s}_pred.dat", cfg.data.hr_shape) for s in held.stems]


def score_test_set(cfg: Config) -> tuple[dict, HeldOut, list]:
    """Return (compare_to_targets' result for prediction and bicubic, the held-out pairs, the predictions)."""
    held, preds = read_test_predictions(cfg)
    result = compare_to_targets(held.stems, held.hr, {"pred": preds, "bicubic": held.bicubic})
    return result, held, preds


def test_rows(cfg: Config) -> list[dict]:
    """Return one row per test file for view.ipynb: name, lr, bicubic, pred, hr and its metrics (or None)."""
    result, held, preds = score_test_set(cfg)
    return [{"name": s, "lr": lr, "bicubic": b, "pred": p, "hr": hr, "metrics": result["files"].get(s)}
            for s, lr, b, p, hr in zip(held.stems, held.lr, held.bicubic, preds, held.hr)]


def main(cfg: Config) -> None:
    """Write eval/metrics.json and eval/spectra.png for the test predictions of run.dir."""
    result, held, preds = score_test_set(cfg)
    out_dir = Path(cfg.run.dir) / "eval"
    refuse_input_folders(out_dir, cfg.data)
    prepare_run_dir(out_dir)
    atomic_write_bytes(out_dir / "metrics.json", json.dumps(result, indent=1).encode())
    scored = [i for i, s in enumerate(held.stems) if s in result["files"]]
    plot_mean_spectra({"HR target": [held.hr[i] for i in scored], "diffusion": [preds[i] for i in scored],
                       "bicubic": [held.bicubic[i] for i in scored]}, cfg.eval.dt, cfg.eval.max_freq,
                      out_dir / "spectra.png")
    print(format_table(result))
    print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'spectra.png'}")


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
