"""What view.ipynb, view_field.ipynb and benchmarks/field_figure.py show: rows of sections from a run folder.

Every array is (time, trace), time downwards. Field sections without a prediction in
run.dir/field are predicted by sample.py's own main (sampling.input=field), never by a copy of it.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

import sample
from datasets.condition import upsample
from datasets.dat_io import list_field_files, read_dat, read_field, write_dat
from datasets.pairs import heldout_lr
from datasets.synthetic import make_pair
from utils.config import Config
from utils.errors import DataError
from utils.metrics import section_metrics


def read_test_rows(cfg: Config) -> list[dict]:
    """Return one row per run.dir/samples/*_pred.dat: name, lr, pred, hr and metrics of pred and bicubic(LR).

    The HR target is read by stem from data.hr_dir; the LR input from data.lr_dir, or made from
    the HR exactly as sample.py made it when data.source is degrade.
    """
    pred_dir = Path(cfg.run.dir) / "samples"
    paths = sorted(pred_dir.glob("*_pred.dat"))
    if not paths:
        raise DataError(f"no *_pred.dat in {pred_dir}; run python sample.py with the same config first")
    rows = []
    for path in paths:
        stem = path.name[:-len("_pred.dat")]
        hr = read_dat(Path(cfg.data.hr_dir) / f"{stem}.dat", cfg.data.hr_shape)
        lr = heldout_lr(stem, hr, cfg.data, cfg.degradation, cfg.data.split_seed)
        pred = read_dat(path, cfg.data.hr_shape)
        bicubic = upsample(lr, "bicubic").numpy()
        rows.append({"name": stem, "lr": lr, "pred": pred, "hr": hr, "pred_metrics": section_metrics(pred, hr),
                     "bicubic_metrics": section_metrics(bicubic, hr)})
    return rows


def synthetic_field_dir(cfg: Config) -> Path:
    """Write the LR of synthetic pair 0 as run.dir/field_synthetic/synthetic_<A>x<B>.dat and return the folder."""
    lr, _ = make_pair(cfg.synthetic.seed, 0, cfg.synthetic, cfg.data.hr_shape)  # lr: (time, trace)
    folder = Path(cfg.run.dir) / "field_synthetic"
    write_dat(folder / f"synthetic_{lr.shape[1]}x{lr.shape[0]}.dat", lr)
    return folder


def read_field_prediction(path: Path, shape: tuple[int, int], trace_major: bool) -> np.ndarray:
    """Return the (2 time, 2 trace) prediction that sample.py wrote for a (time, trace) section of `shape`."""
    time, trace = shape
    if trace_major:
        return read_dat(path, (2 * trace, 2 * time))
    return np.ascontiguousarray(read_dat(path, (2 * time, 2 * trace)).T)


def field_rows(cfg: Config) -> tuple[list[dict], bool]:
    """Return (one row per field section, whether the section is synthetic).

    Each row holds name, section (time, trace), pred (2 time, 2 trace) and dt, the input's time
    sample interval in s (eval.field_dt by file stem, else 2 * eval.dt). When data.field_dir is
    missing or empty, a synthetic LR section stands in. Missing predictions are made with
    sample.py's main (same checkpoint, settings and file names as `sample.py sampling.input=field`).
    """
    cfg = copy.deepcopy(cfg)
    synthetic = not list_field_files(cfg.data.field_dir)
    if synthetic:
        cfg.data.field_dir = str(synthetic_field_dir(cfg))
    out_dir = Path(cfg.run.dir) / "field"
    files = list_field_files(cfg.data.field_dir)
    inputs = []
    for path in files:
        trace_major = cfg.eval.field_transpose.get(path.stem, True)
        section = read_field(path, trace_major)
        out = sample.field_output_path(out_dir, path, section.shape, trace_major)
        inputs.append((path, trace_major, section, out))
    missing = [path.name for path, _, _, out in inputs if not out.exists()]
    if missing:
        print(f"no prediction in {out_dir} for {', '.join(missing)}: running sample.py's main on data.field_dir")
        cfg.sampling.input = "field"
        sample.main(copy.deepcopy(cfg))
    rows = [{"name": path.stem, "section": section, "pred": read_field_prediction(out, section.shape, trace_major),
             "dt": cfg.eval.field_dt.get(path.stem, 2 * cfg.eval.dt)}
            for path, trace_major, section, out in inputs]
    return rows, synthetic
