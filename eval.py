"""Score predictions on disk against their HR targets, next to bicubic upsampling. Never runs the model.

    python eval.py [--config PARTIAL.yaml] [section.key=value ...]
Reads run.dir/samples/<stem>_pred.dat for the test stems of run.dir/split.json and writes
run.dir/eval/metrics.json and run.dir/eval/spectra.png.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from datasets.condition import upsample
from datasets.dat_io import atomic_write_bytes, read_dat
from datasets.pairs import heldout_lr, read_sections, read_split
from utils.cli import run_main
from utils.config import Config
from utils.errors import DataError
from utils.metrics import amplitude_spectrum, compare_to_targets, format_table
from utils.plots import save_figure
from utils.run_folder import prepare_run_dir, refuse_input_folders


def plot_spectra(sections: dict[str, list[np.ndarray]], dt: float, max_freq: float, path: Path) -> None:
    """Draw the mean amplitude spectrum along time of each set of sections, normalised to HR's peak."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    peak = None
    for label, arrays in sections.items():
        spectrum = np.mean([amplitude_spectrum(a) for a in arrays], axis=0)
        freqs = np.fft.rfftfreq(arrays[0].shape[0], d=dt)
        peak = spectrum.max() if peak is None else peak
        keep = freqs <= max_freq
        ax.plot(freqs[keep], spectrum[keep] / peak, label=label)
    ax.set(xlabel="frequency (Hz)", ylabel="amplitude (HR peak = 1)", title="mean amplitude spectrum, test set")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def main(cfg: Config, args=None) -> None:
    stems = read_split(cfg.run.dir)["test"]
    pred_dir = Path(cfg.run.dir) / "samples"
    missing = [s for s in stems if not (pred_dir / f"{s}_pred.dat").exists()]
    if missing:
        raise DataError(f"{len(missing)} of {len(stems)} predictions are missing in {pred_dir} "
                        f"(first: {missing[0]}_pred.dat); run sample.py first")
    hr = read_sections(cfg.data.hr_dir, stems, cfg.data.hr_shape)
    preds = [read_dat(pred_dir / f"{s}_pred.dat", cfg.data.hr_shape) for s in stems]
    lr = [heldout_lr(s, h, cfg.data, cfg.degradation, cfg.data.split_seed) for s, h in zip(stems, hr)]
    bicubic = [upsample(x, "bicubic").numpy() for x in lr]
    result = compare_to_targets(stems, preds, list(hr), bicubic)
    refuse_input_folders(Path(cfg.run.dir) / "eval", cfg.data)
    out_dir = prepare_run_dir(Path(cfg.run.dir) / "eval")
    atomic_write_bytes(out_dir / "metrics.json", json.dumps(result, indent=1).encode())
    plot_spectra({"HR target": list(hr), "diffusion": preds, "bicubic": bicubic}, cfg.eval.dt,
                 cfg.eval.max_freq, out_dir / "spectra.png")
    print(format_table(result))
    print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'spectra.png'}")


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
