"""Predict HR sections with a trained model (EMA weights).

    python sample.py [--config PARTIAL.yaml] [section.key=value ...]
    sampling.input=test   held-out pairs of run.dir/split.json -> run.dir/samples/<stem>_pred.dat
    sampling.input=field  sections in data.field_dir -> run.dir/field/<name>_<2A>x<2B>_pred.dat
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from datasets.condition import upsample
from datasets.dat_io import atomic_write_bytes, field_name, list_field_files, read_dat, read_field, write_dat
from datasets.pairs import heldout_lr, read_sections, read_split
from diffusion.schedule import make_alpha_bar, make_betas, sampling_gammas
from utils.checkpoint import checkpoint_path, load_trained_model
from utils.cli import run_main
from utils.config import Config
from utils.errors import DataError
from utils.metrics import compare_to_targets, format_table
from utils.plots import plot_sample_grid
from utils.predict import make_net_fn, super_resolve
from utils.run_folder import prepare_run_dir, record_run, refuse_input_folders
from utils.runtime import pick_device, seed_everything


def trained_settings(cfg: Config, stored: Config) -> Config:
    """Return cfg with the normalisation, conditioning, model and schedule the checkpoint was trained with."""
    for key in ("normalization", "zscore_clip", "upsample_modes"):
        if getattr(cfg.data, key) != getattr(stored.data, key):
            print(f"note: using data.{key}={getattr(stored.data, key)!r} from the checkpoint "
                  f"(config says {getattr(cfg.data, key)!r})")
        setattr(cfg.data, key, getattr(stored.data, key))
    for section in ("model", "diffusion"):  # the checkpoint defines the network and its schedule
        for key, value in vars(getattr(stored, section)).items():
            if getattr(getattr(cfg, section), key) != value:
                print(f"note: using {section}.{key}={value!r} from the checkpoint "
                      f"(config says {getattr(getattr(cfg, section), key)!r})")
        setattr(cfg, section, getattr(stored, section))
    return cfg


def sample_test_set(cfg: Config, predict, out_dir: Path) -> None:
    """Predict every held-out test pair, then write metrics.json and grid.png beside the predictions."""
    stems = read_split(cfg.run.dir)["test"]
    if not stems:
        raise DataError(f"{Path(cfg.run.dir) / 'split.json'} has no test stems; raise data.split's test fraction")
    hr = read_sections(cfg.data.hr_dir, stems, cfg.data.hr_shape)
    lr = [heldout_lr(s, h, cfg.data, cfg.degradation, cfg.data.split_seed) for s, h in zip(stems, hr)]
    paths = [out_dir / f"{s}_pred.dat" for s in stems]
    todo = [i for i, p in enumerate(paths) if cfg.sampling.overwrite or not p.exists()]
    if len(todo) < len(stems):
        print(f"{len(stems) - len(todo)} predictions exist already in {out_dir}; "
              f"skipping them (sampling.overwrite=true re-makes them)")
    with tqdm(total=len(todo), desc="sections", unit="img", file=sys.stdout) as bar:
        preds = predict([lr[i] for i in todo], [stems[i] for i in todo], bar.update)
    for i, pred in zip(todo, preds):
        write_dat(paths[i], pred)
    shape = cfg.data.hr_shape
    preds = [read_dat(p, shape) for p in paths]
    bicubic = [upsample(x, "bicubic").numpy() for x in lr]
    result = compare_to_targets(stems, preds, list(hr), bicubic)
    atomic_write_bytes(out_dir / "metrics.json", json.dumps(result, indent=1).encode())
    print(format_table(result))
    rows = [{"name": s, "lr": lr[i], "bicubic": bicubic[i], "pred": preds[i], "hr": hr[i],
             "pred_metrics": result["files"][s]["pred"], "bicubic_metrics": result["files"][s]["bicubic"]}
            for i, s in enumerate(stems[:cfg.sampling.grid_files])]
    plot_sample_grid(rows, out_dir / "grid.png")
    print(f"wrote {len(todo)} predictions, metrics.json and grid.png to {out_dir}")


def field_output_path(out_dir: Path, path: Path, shape: tuple[int, int], trace_major: bool) -> Path:
    """Return out_dir/<name>_<2A>x<2B>_pred.dat: A x B is the on-disk shape of the (time, trace) section in path."""
    time, trace = shape
    a, b = (trace, time) if trace_major else (time, trace)
    return Path(out_dir) / f"{field_name(path)}_{2 * a}x{2 * b}_pred.dat"


def sample_field(cfg: Config, predict, out_dir: Path) -> None:
    """Predict every section in data.field_dir at twice its size, in the file's own orientation."""
    files = list_field_files(cfg.data.field_dir)
    if not files:
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no .dat/.npy/.sgy sections")
    for path in tqdm(files, desc="field sections", unit="section", file=sys.stdout):
        trace_major = cfg.eval.field_transpose.get(path.stem, True)
        section = read_field(path, trace_major)
        out = field_output_path(out_dir, path, section.shape, trace_major)
        if out.exists() and not cfg.sampling.overwrite:
            print(f"{out} exists; skipping (sampling.overwrite=true re-makes it)")
            continue
        (pred,) = predict([section], [path.stem], None)
        write_dat(out, pred if trace_major else pred.T)
    print(f"wrote field predictions to {out_dir}")


def main(cfg: Config, args=None) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed, cfg.run.deterministic)
    path = checkpoint_path(cfg)
    net, stored, step = load_trained_model(path, device, cfg.sampling.use_ema)
    cfg = trained_settings(cfg, stored)
    out_dir = Path(cfg.run.dir) / ("samples" if cfg.sampling.input == "test" else "field")
    refuse_input_folders(out_dir, cfg.data)
    prepare_run_dir(out_dir)
    record_run(cfg, cfg.run.dir, "sample")
    print(f"checkpoint {path} (step {step}, {'EMA' if cfg.sampling.use_ema else 'raw'} weights), "
          f"{cfg.sampling.steps} {cfg.sampling.spacing}-spaced DDIM steps, eta {cfg.sampling.eta}, device {device}")
    alpha_bar = make_alpha_bar(make_betas(cfg.diffusion.num_steps, cfg.diffusion.beta_schedule,
                                          cfg.diffusion.beta_start, cfg.diffusion.beta_end))
    gammas = sampling_gammas(alpha_bar, cfg.sampling.steps, cfg.sampling.spacing)
    net_fn = make_net_fn(net, device, cfg.train.precision)
    s = cfg.sampling

    def predict(sections: list[np.ndarray], names: list[str], progress) -> list[np.ndarray]:
        return super_resolve(net_fn, sections, names, cfg.data, gammas, s.eta, s.clip_x0, s.seed, device,
                             batch=s.batch_size, tile=s.tile_size, overlap=s.tile_overlap, progress=progress)

    if cfg.sampling.input == "test":
        sample_test_set(cfg, predict, out_dir)
    else:
        sample_field(cfg, predict, out_dir)


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
