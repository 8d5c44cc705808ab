"""Every other sample and trace: real sections degraded by picking, super-resolved as field files, scored as written.

    python -m benchmarks.picked [--config PARTIAL.yaml] [section.key=value ...] [--variants aa,narrowed,raw,recorded]
                                [--label NAME] [--out DIR] [--threads N]

The check a user makes with a degradation of their own, through the files a user gets. Each
section in data.field_dir (cropped to even sizes) is picked at every other sample and trace,
x[::2, ::2], after
    aa        the anti-alias low-pass (datasets.degrade.lowpass at half the Nyquist), then 5 % white noise;
    narrowed  its time band narrowed to 0.6 of its own (sharp edge), then as aa with 10 % white noise;
    raw       nothing at all (aliased), then 5 % white noise;
    recorded  the low-pass in time only (a recorder's filter; traces picked as they lie, aliased), 5 % noise
(noise std as a fraction of the picked section's std, drawn from the section's name), written as
a field section, super-resolved by sample.py's main (sampling.input=field, run.dir's checkpoint,
the config's sampling keys, sampling.field_grid included), and the written .dat is compared with
the original as it is. The interpolation beside it keeps input sample i at output sample 2i, as
the picking does: torch's bicubic moved half an output sample (datasets.segy_io.to_input_grid).
Torch's cell-centred bicubic, half a sample off that grid, is scored too ("bicubic_cell").
Writes OUT/picked_<label>.json; the inputs and predictions stay in OUT/picked_<label>/<variant>/.
"""
from __future__ import annotations

import argparse
import copy
import sys
import zlib
from pathlib import Path

import numpy as np

import sample
from benchmarks.common import config_label, machine_info, markdown_table, output_dir, run_benchmark, write_json
from benchmarks.transfer_summary import deltas_against, recipe_row
from datasets.condition import upsample
from datasets.dat_io import list_field_files, read_field, write_dat
from datasets.degrade import lowpass, lowpass_time, signal_band_edge
from datasets.segy_io import to_input_grid
from utils.checkpoint import checkpoint_path
from utils.config import Config, ConfigError
from utils.errors import DataError
from utils.metrics import compare_to_targets
from utils.runtime import pick_device

# narrow the time band first, anti-alias filter (both: both axes; time: time only, as a recorder's filter with
# traces sampled as they lie), white noise std
VARIANTS = {"aa": (False, "both", 0.05), "narrowed": (True, "both", 0.10), "raw": (False, "", 0.05),
            "recorded": (False, "time", 0.05)}
NARROWED_BAND = 0.6


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default="aa,narrowed,raw,recorded", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--label", default="", help="names the output; default the --config stem")


def picked(section: np.ndarray, name: str, variant: str) -> np.ndarray:
    """Return the (time/2, trace/2) float32 input: section (time, trace, even sizes) filtered as variant says, picked
    at every other sample and trace, plus white noise seeded by name."""
    narrow, antialias, noise = VARIANTS[variant]
    x = np.asarray(section, dtype=np.float64)
    if narrow:
        x = lowpass_time(x, NARROWED_BAND * signal_band_edge(x))
    if antialias == "both":
        x = lowpass(x, cutoff=0.5)
    elif antialias == "time":
        x = lowpass_time(x, cutoff=0.5)
    lr = x[::2, ::2]
    rng = np.random.default_rng([zlib.crc32(variant.encode()), zlib.crc32(name.encode())])
    return (lr + rng.normal(0.0, noise * lr.std(), lr.shape)).astype(np.float32)


def run_variant(cfg: Config, variant: str, folder: Path, originals: dict[str, np.ndarray]) -> dict:
    """Write the picked inputs to folder/inputs, predict them with sample.py into folder/run/field, score the .dat files."""
    inputs = folder / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    lrs, paths = {}, {}
    for name, section in originals.items():
        lrs[name] = picked(section, name, variant)
        paths[name] = inputs / f"{name}_{lrs[name].shape[1]}x{lrs[name].shape[0]}.dat"  # trace-major
        write_dat(paths[name], lrs[name])
    run_cfg = copy.deepcopy(cfg)
    run_cfg.sampling.checkpoint = str(checkpoint_path(cfg))
    run_cfg.run.dir, run_cfg.data.field_dir = str(folder / "run"), str(inputs)
    run_cfg.sampling.input, run_cfg.sampling.overwrite = "field", True
    run_cfg.eval.field_transpose = {}
    sample.main(run_cfg)
    names = list(originals)
    preds = [sample.read_field_prediction(sample.field_output_path(folder / "run" / "field", paths[n], lrs[n].shape, True),
                                          lrs[n].shape, True) for n in names]
    bicubics = [upsample(lrs[n], "bicubic").numpy() for n in names]
    return compare_to_targets(names, [originals[n] for n in names],
                              {"pred": preds, "bicubic": [to_input_grid(b) for b in bicubics], "bicubic_cell": bicubics})


def main(cfg: Config, bench_args) -> None:
    variants = [v.strip() for v in bench_args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ConfigError(f"--variants: unknown {', '.join(unknown) or '(none given)'}; expected some of {', '.join(VARIANTS)}")
    files = list_field_files(cfg.data.field_dir)
    if not files:
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no field sections (.dat, .npy, .sgy) to pick from")
    originals = {}
    for path in files:
        section = read_field(path, cfg.eval.field_transpose.get(path.stem, True))
        originals[sample.field_name(path)] = section[:section.shape[0] // 2 * 2, :section.shape[1] // 2 * 2]
    label = config_label(bench_args)
    out = output_dir(cfg, bench_args)
    payload = {"machine": machine_info(pick_device(cfg.run.device)), "checkpoint": str(checkpoint_path(cfg)),
               "field_dir": cfg.data.field_dir, "field_grid": cfg.sampling.field_grid,
               "variants": {v: dict(zip(("narrowed", "antialias", "noise_std"), VARIANTS[v])) for v in variants},
               "results": {}}
    rows = []
    for variant in variants:
        result = run_variant(cfg, variant, out / f"picked_{label}" / variant, originals)
        payload["results"][variant] = result
        write_json(out / f"picked_{label}.json", payload)
        for reference in ("bicubic", "bicubic_cell"):
            rows.append([variant, reference, *recipe_row(deltas_against(result["files"], reference))])
    print(markdown_table(["variant", "against", "sections", "mean ΔPSNR", "worst ΔPSNR", "PSNR up", "SSIM up", "LSD down",
                          "all three"], rows))
    print(f"wrote {out / f'picked_{label}.json'}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
