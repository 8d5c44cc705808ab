"""Predict HR sections with a trained model (EMA weights). Home of the inference pipeline.

    python sample.py [--config PARTIAL.yaml] [section.key=value ...]
    sampling.input=test   held-out pairs of run.dir/split.json -> run.dir/samples/<stem>_pred.dat
    sampling.input=field  sections in data.field_dir -> run.dir/field/<name>_<2A>x<2B>_pred.dat

train.py's validation, eval.py, the notebooks and the benchmarks predict through `super_resolve`
(normalise -> condition -> DDIM, tiled when large -> denormalise), so a section is always
normalised and conditioned exactly as in training.
"""
from __future__ import annotations

import copy
import sys
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from datasets.condition import upsample
from datasets.dat_io import (
    field_name,
    list_field_files,
    read_dat,
    read_field,
    write_dat,
)
from datasets.heldout import load_heldout
from datasets.normalize import clip_for, denormalize, normalize, section_stats
from datasets.synthetic import make_pair
from diffusion.ddim import per_sample_noise, sample_ddim
from diffusion.schedule import make_schedule, sampling_gammas
from diffusion.tiling import NetFn, tiled
from models.build import build_network
from utils.checkpoint import checkpoint_path, load_checkpoint
from utils.cli import run_main
from utils.config import Config, config_from_dict
from utils.errors import DataError
from utils.metrics import compare_to_targets
from utils.plots import plot_sample_grid
from utils.run_folder import prepare_run_dir, record_run, refuse_input_folders
from utils.runtime import autocast, pick_device, seed_everything

Predict = Callable[..., list[np.ndarray]]  # predict(sections, names, progress=None, sources=None)


# ---- The inference pipeline ------------------------------------------------------------------

def file_seed(base_seed: int, name: str) -> int:
    """Return a seed that depends only on the base seed and the file name (not on batch order)."""
    return (base_seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def make_net_fn(net: torch.nn.Module, device: torch.device, precision: str) -> NetFn:
    """Return net as a float32-in, float32-out function running under the configured autocast."""
    def net_fn(x_t, cond, s):
        with autocast(device, precision):
            return net(x_t, cond, s).float()
    return net_fn


def group_sections(sections: list[np.ndarray], batch: int, needs_tiles: Callable[[np.ndarray], bool]) -> list[list[int]]:
    """Return lists of indices sampled together: equal-shape sections needing no tiles, up to `batch` per group."""
    order = sorted(range(len(sections)), key=lambda i: (needs_tiles(sections[i]), sections[i].shape))
    groups: list[list[int]] = []
    for i in order:
        first = sections[groups[-1][0]] if groups else None
        if first is not None and not needs_tiles(sections[i]) and not needs_tiles(first) \
                and len(groups[-1]) < batch and first.shape == sections[i].shape:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def super_resolve(net_fn: NetFn, sections: list[np.ndarray], names: list[str], data_cfg,
                  gammas: torch.Tensor, eta: float, clip_x0: float, base_seed: int,
                  device: torch.device, batch: int = 1, tile: int = 0, overlap: int = 0,
                  progress: Callable[[int], None] | None = None, sources: list[str] | None = None) -> list[np.ndarray]:
    """Return HR predictions (2h, 2w) in the inputs' amplitude units for LR sections (h, w), time first.

    names: one per section; they seed each section's noise. sources (default: names) name the
    sections, e.g. by file path, in errors. Sections of
    equal shape that need no tiling go through the network `batch` at a time; larger ones are
    sampled one at a time with tiles. progress(n) is told of each finished section.
    """
    clip = clip_for(data_cfg.normalization, data_cfg.zscore_clip)
    mode = data_cfg.upsample_modes[0]
    needs_tiles = lambda lr: tile > 0 and max(lr.shape) * 2 > tile  # noqa: E731
    results: list[np.ndarray | None] = [None] * len(sections)
    for group in group_sections(sections, batch, needs_tiles):
        stats = [section_stats(sections[i], data_cfg.normalization, (sources or names)[i]) for i in group]
        lr_n = torch.stack([torch.from_numpy(normalize(sections[i], st, clip)) for i, st in zip(group, stats)])
        cond = upsample(lr_n[:, None], mode).to(device)  # (B, 1, 2h, 2w)
        fn = tiled(net_fn, tile, overlap, batch) if needs_tiles(sections[group[0]]) else net_fn
        randn = per_sample_noise([file_seed(base_seed, names[i]) for i in group], device)
        x0 = sample_ddim(fn, cond, gammas, eta=eta, randn=randn, clip_x0=clip_x0)
        for k, (i, st) in enumerate(zip(group, stats)):
            results[i] = denormalize(x0[k, 0].cpu().numpy(), st)
            if progress:
                progress(1)
    return results


def trained_settings(cfg: Config, stored: Config) -> Config:
    """Return a copy of cfg with the normalisation, conditioning, model and schedule the checkpoint was trained with."""
    cfg = copy.deepcopy(cfg)
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
        setattr(cfg, section, copy.deepcopy(getattr(stored, section)))
    return cfg


def load_model(cfg: Config, device: torch.device) -> tuple[torch.nn.Module, Config, int]:
    """Return (network in eval mode, cfg with the checkpoint's trained settings, training step).

    Reads sampling.checkpoint (default run.dir/checkpoints/last.pt) with EMA weights unless
    sampling.use_ema is false; checkpoints of earlier versions load too.
    """
    path = checkpoint_path(cfg)
    state = load_checkpoint(path, map_location=device)
    try:
        net = build_network(state["model_args"])
        net.load_state_dict(state["ema" if cfg.sampling.use_ema else "model"])
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        raise DataError(f"checkpoint '{path}' does not match its own model arguments "
                        f"({str(err).splitlines()[0][:120]})") from None
    stored = config_from_dict(state["config"])
    return net.to(device).eval().requires_grad_(False), trained_settings(cfg, stored), state["step"]


def make_predictor(cfg: Config, net: torch.nn.Module, device: torch.device) -> Predict:
    """Return predict(sections, names, progress) -> HR sections, with every setting from cfg.sampling."""
    s = cfg.sampling
    gammas = sampling_gammas(make_schedule(cfg.diffusion), s.steps, s.spacing)
    net_fn = make_net_fn(net, device, cfg.train.precision)

    def predict(sections, names, progress=None, sources=None):
        return super_resolve(net_fn, sections, names, cfg.data, gammas, s.eta, s.clip_x0, s.seed, device,
                             batch=s.batch_size, tile=s.tile_size, overlap=s.tile_overlap, progress=progress,
                             sources=sources)
    return predict


# ---- Held-out test pairs -----------------------------------------------------------------------

def sample_test_set(cfg: Config, predict: Predict, out_dir: Path) -> None:
    """Predict every held-out test pair into out_dir/<stem>_pred.dat, then draw grid.png (eval.py scores them)."""
    held = load_heldout(cfg, "test")
    source_dir = cfg.data.lr_dir if cfg.data.source == "pairs" else cfg.data.hr_dir
    paths = [out_dir / f"{s}_pred.dat" for s in held.stems]
    todo = [i for i, p in enumerate(paths) if cfg.sampling.overwrite or not p.exists()]
    if len(todo) < len(paths):
        print(f"{len(paths) - len(todo)} predictions exist already in {out_dir}; "
              f"skipping them (sampling.overwrite=true re-makes them)")
    with tqdm(total=len(todo), desc="sections", unit="img", file=sys.stdout) as bar:
        preds = predict([held.lr[i] for i in todo], [held.stems[i] for i in todo], bar.update,
                        [str(Path(source_dir) / f"{held.stems[i]}.dat") for i in todo])
    for i, pred in zip(todo, preds):
        write_dat(paths[i], pred)
    shown = list(range(min(cfg.sampling.grid_files, len(paths))))
    preds = [read_dat(paths[i], cfg.data.hr_shape) for i in shown]
    names = [held.stems[i] for i in shown]
    scores = compare_to_targets(names, [held.hr[i] for i in shown],
                                {"pred": preds, "bicubic": [held.bicubic[i] for i in shown]})
    rows = [{"name": n, "lr": held.lr[i], "bicubic": held.bicubic[i], "pred": p, "hr": held.hr[i],
             "metrics": scores["files"].get(n)} for n, i, p in zip(names, shown, preds)]
    plot_sample_grid(rows, out_dir / "grid.png")
    print(f"wrote {len(todo)} predictions and grid.png to {out_dir}; score them with eval.py")


# ---- Field sections ----------------------------------------------------------------------------

def field_output_path(out_dir: Path, path: Path, shape: tuple[int, int], trace_major: bool) -> Path:
    """Return out_dir/<name>_<2A>x<2B>_pred.dat: A x B is the on-disk shape of the (time, trace) section in path."""
    time, trace = shape
    a, b = (trace, time) if trace_major else (time, trace)
    return Path(out_dir) / f"{field_name(path)}_{2 * a}x{2 * b}_pred.dat"


def sample_field(cfg: Config, predict: Predict, out_dir: Path) -> None:
    """Predict every section in data.field_dir at twice its size, in the file's own orientation.

    A section that cannot be read or normalised is reported and skipped; the others are still
    predicted, and a DataError listing the skipped ones is raised at the end.
    """
    files = list_field_files(cfg.data.field_dir)
    if not files:
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no .dat/.npy/.sgy sections")
    skipped = []
    for path in tqdm(files, desc="field sections", unit="section", file=sys.stdout):
        try:
            trace_major = cfg.eval.field_transpose.get(path.stem, True)
            section = read_field(path, trace_major)
            out = field_output_path(out_dir, path, section.shape, trace_major)
            if out.exists() and not cfg.sampling.overwrite:
                print(f"{out} exists; skipping (sampling.overwrite=true re-makes it)")
                continue
            (pred,) = predict([section], [path.stem], sources=[str(path)])
        except DataError as err:
            print(f"skipped {path.name}: {err}")
            skipped.append(str(err))
            continue
        write_dat(out, pred if trace_major else pred.T)
    print(f"wrote {len(files) - len(skipped)} field predictions to {out_dir}")
    if skipped:
        raise DataError(f"{len(skipped)} of {len(files)} field sections were skipped: {'; '.join(skipped)}")


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
    """Return (one row per field section, whether the sections are a synthetic stand-in).

    Each row holds name, section (time, trace), pred (2 time, 2 trace) and dt, the input's time
    sample interval in s (eval.field_dt by file stem, else 2 * eval.dt). When data.field_dir is
    missing or empty, a synthetic LR section stands in. Missing predictions are made first by
    this script's main (same checkpoint, settings and file names as `sampling.input=field`).
    """
    cfg = copy.deepcopy(cfg)
    synthetic = not list_field_files(cfg.data.field_dir)
    if synthetic:
        cfg.data.field_dir = str(synthetic_field_dir(cfg))
    out_dir = Path(cfg.run.dir) / "field"
    inputs = []
    for path in list_field_files(cfg.data.field_dir):
        trace_major = cfg.eval.field_transpose.get(path.stem, True)
        section = read_field(path, trace_major)
        inputs.append((path, trace_major, section, field_output_path(out_dir, path, section.shape, trace_major)))
    missing = [path.name for path, _, _, out in inputs if not out.exists()]
    if missing:
        print(f"no prediction in {out_dir} for {', '.join(missing)}: running sample.py on data.field_dir")
        cfg.sampling.input = "field"
        main(copy.deepcopy(cfg))
    rows = [{"name": path.stem, "section": section, "pred": read_field_prediction(out, section.shape, trace_major),
             "dt": cfg.eval.field_dt.get(path.stem, 2 * cfg.eval.dt)}
            for path, trace_major, section, out in inputs]
    return rows, synthetic


# ---- Command line ------------------------------------------------------------------------------

def main(cfg: Config) -> None:
    """Predict the test split or the field sections, as sampling.input says."""
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed, cfg.run.deterministic)
    net, cfg, step = load_model(cfg, device)
    out_dir = Path(cfg.run.dir) / ("samples" if cfg.sampling.input == "test" else "field")
    refuse_input_folders(out_dir, cfg.data)
    prepare_run_dir(out_dir)
    record_run(cfg, cfg.run.dir, "sample")
    print(f"checkpoint {checkpoint_path(cfg)} (step {step}, {'EMA' if cfg.sampling.use_ema else 'raw'} weights), "
          f"{cfg.sampling.steps} {cfg.sampling.spacing}-spaced DDIM steps, eta {cfg.sampling.eta}, device {device}")
    predict = make_predictor(cfg, net, device)
    if cfg.sampling.input == "test":
        sample_test_set(cfg, predict, out_dir)
    else:
        sample_field(cfg, predict, out_dir)


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
