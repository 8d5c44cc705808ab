"""Seeded synthetic LR/HR seismic pairs, written in the SeismicSuperResolution .dat layout.

One geology per pair (layers, folds, dipping faults) is described in continuous HR units (time
in HR samples, space in HR traces) and rendered twice:
  HR  on the hr_shape grid, sample interval dt, Ricker wavelet of peak frequency f_hr;
  LR  on a grid of half the sampling in both axes (interval 2 dt, every other trace, cell-centred
      as in datasets/degrade.py), Ricker of peak f_hr * r, then white and band-limited noise.
Both are divided by the clean HR signal std, so LR and HR amplitudes stay comparable.
Pair i comes from np.random.default_rng([seed, i]) alone, so it never depends on n.

    python -m datasets.synthetic [--config PARTIAL.yaml] [section.key=value ...]

docs/synthetic_pairs.png is plot_pairs(*make_pairs(4, 1234, cfg.synthetic), path).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from datasets.dat_io import write_dat
from datasets.degrade import add_noise
from utils.atomic import atomic_write_bytes
from utils.cli import run_main
from utils.config import Config, SyntheticConfig
from utils.errors import DataError


def ricker_spectrum(f_peak: float, dt: float, n: int) -> np.ndarray:
    """Return the rfft of a zero-phase Ricker wavelet of unit peak amplitude, shape (n // 2 + 1,).

    f_peak: peak frequency in Hz; dt: sample interval in s; n: length of the transform.
    """
    freq = np.fft.rfftfreq(n, dt)
    # Continuous Fourier transform of (1 - 2 pi^2 f^2 t^2) exp(-pi^2 f^2 t^2), divided by dt.
    return 2 / np.sqrt(np.pi) * freq ** 2 / f_peak ** 3 * np.exp(-(freq / f_peak) ** 2) / dt


def fold_shape(x: np.ndarray, centres: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Return the sum of Gaussian anticlines/synclines at lateral positions x (HR traces)."""
    x = x[..., None]
    return (heights * np.exp(-0.5 * ((x - centres) / widths) ** 2)).sum(axis=-1)


def draw_structure(rng: np.random.Generator, cfg: SyntheticConfig, n_time: int, n_trace: int) -> dict:
    """Return the fold, dip and fault parameters of one section, in HR samples and HR traces."""
    n_bumps = int(rng.integers(2, 5))
    centres = rng.uniform(-0.2, 1.2, n_bumps) * n_trace
    widths = rng.uniform(0.08, 0.3, n_bumps) * n_trace
    heights = rng.uniform(-1.0, 1.0, n_bumps)
    peak = np.abs(fold_shape(np.arange(n_trace), centres, widths, heights)).max()
    heights *= rng.uniform(*cfg.fold_amplitude) / max(peak, 1e-12)
    n_faults = int(rng.integers(cfg.n_faults[0], cfg.n_faults[1] + 1))
    return {
        "fold": (centres, widths, heights),
        "dip": rng.uniform(-0.1, 0.1),  # HR samples per trace
        "fault_x0": rng.uniform(0.15, 0.85, n_faults) * n_trace,  # plane position at time fault_t0
        "fault_t0": rng.uniform(0.3, 0.7, n_faults) * n_time,
        # Plane slope in HR samples per trace (negative: dipping towards trace 0).
        "fault_slope": rng.choice([-1.0, 1.0], n_faults) * rng.uniform(1.5, 5.0, n_faults),
        "fault_throw": rng.choice([-1.0, 1.0], n_faults) * rng.uniform(*cfg.fault_throw, n_faults),
    }


def geologic_time(t: np.ndarray, x: np.ndarray, structure: dict, n_time: int, n_trace: int) -> np.ndarray:
    """Return the depth u (HR samples) of the unfaulted, unfolded layer seen at image points (t, x).

    t, x: arrays of one shape, time in HR samples and position in HR traces.
    """
    faults = zip(structure["fault_x0"], structure["fault_t0"], structure["fault_slope"],
                 structure["fault_throw"])
    # Undo the faults, youngest first: the block above each plane slid along it by `throw`,
    # so a point above the plane came from (x - throw / slope, t - throw), also above it.
    for x0, t0, slope, throw in reversed(list(faults)):
        above = t < t0 + slope * (x - x0)
        x = np.where(above, x - throw / slope, x)
        t = np.where(above, t - throw, t)
    # Undo folding and dip. A layer at depth u lies at t = u + g (1 + u / T) / 2 + dip (x - X / 2):
    # deeper, older layers are folded more. Solved for u, which stays monotonic in t.
    g = fold_shape(x, *structure["fold"])
    return (t - 0.5 * g - structure["dip"] * (x - 0.5 * n_trace)) / (1 + 0.5 * g / n_time)


def draw_layers(rng: np.random.Generator, cfg: SyntheticConfig, u_range: tuple[float, float],
                n_time: int, thin_bed_std: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Return depths (HR samples) and reflection coefficients of the interfaces in u_range.

    n_reflectors counts interfaces per n_time samples; thin beds, one per sample with small
    coefficients of std thin_bed_std, give the sections texture below the wavelets' resolution.
    """
    u_lo, u_hi = u_range
    per_window = rng.integers(cfg.n_reflectors[0], cfg.n_reflectors[1] + 1)
    n_major = int(round(per_window * (u_hi - u_lo) / n_time))
    thin_depths = np.arange(u_lo, u_hi) + rng.uniform(0, 1)
    depths = np.concatenate([rng.uniform(u_lo, u_hi, n_major), thin_depths])
    coeffs = np.concatenate([rng.uniform(-1.0, 1.0, n_major),
                             thin_bed_std * rng.standard_normal(len(thin_depths))])
    return depths, coeffs


def reflectivity(u: np.ndarray, depths: np.ndarray, coeffs: np.ndarray, width: float,
                 step: float = 0.125) -> np.ndarray:
    """Return the reflectivity seen at depths u: every interface spread over a tent of half-width width.

    width is the sample spacing of the grid u was taken on (HR samples); the tent splits each
    interface between its two nearest samples, so dipping layers move smoothly, without steps.
    """
    grid = np.arange(depths.min() - width - 1, depths.max() + width + 1, step)
    position = (depths - grid[0]) / step
    below = np.floor(position).astype(np.int64)
    frac = position - below
    spikes = (np.bincount(below, coeffs * (1 - frac), len(grid))
              + np.bincount(below + 1, coeffs * frac, len(grid)))
    half = int(round(width / step))
    tent = 1 - np.abs(np.arange(-half, half + 1)) / half
    return np.interp(u, grid, np.convolve(spikes, tent, mode="same"), left=0.0, right=0.0)


def convolve_time(section: np.ndarray, f_peak: float, dt: float) -> np.ndarray:
    """Return section (time, trace) convolved along time with a Ricker of peak f_peak Hz at interval dt s."""
    n = section.shape[0]
    spectrum = np.fft.rfft(section, axis=0) * ricker_spectrum(f_peak, dt, n)[:, None]
    return np.fft.irfft(spectrum, n=n, axis=0)


def make_pair(seed: int, index: int, cfg: SyntheticConfig,
              hr_shape: tuple[int, int] = (256, 256)) -> tuple[np.ndarray, np.ndarray]:
    """Return pair `index` of the set drawn with `seed`: lr (time/2, trace/2) and hr (time, trace), float32.

    hr_shape is on-disk (traces, samples) like data.hr_shape; both sizes must be even.
    """
    n_trace, n_time = hr_shape
    if n_trace % 2 or n_time % 2:
        raise ValueError(f"hr_shape {tuple(hr_shape)} must have even sizes (LR halves both)")
    rng = np.random.default_rng([seed, index])
    structure = draw_structure(rng, cfg, n_time, n_trace)
    f_hr = rng.uniform(*cfg.hr_peak_freq)
    f_lr = f_hr * rng.uniform(*cfg.lr_freq_ratio)
    # Pad time (HR samples, even) so wavelet tails of layers just outside the window reach into it.
    pad = 2 * int(np.ceil(0.75 / (f_lr * cfg.dt)))

    # Image points in HR units: HR sample i sits at i, LR sample i at 2 i + 0.5 (cell centres).
    t_hr, x_hr = np.arange(-pad, n_time + pad, dtype=float), np.arange(n_trace, dtype=float)
    t_lr = 2 * np.arange(-pad // 2, (n_time + pad) // 2) + 0.5
    x_lr = 2 * np.arange(n_trace // 2) + 0.5
    u_hr = geologic_time(*np.meshgrid(t_hr, x_hr, indexing="ij"), structure, n_time, n_trace)
    u_lr = geologic_time(*np.meshgrid(t_lr, x_lr, indexing="ij"), structure, n_time, n_trace)
    depths, coeffs = draw_layers(rng, cfg, (min(u_hr.min(), u_lr.min()) - 4,
                                            max(u_hr.max(), u_lr.max()) + 4), n_time)

    # Render the same layers twice; crop the pad after the convolution.
    hr = convolve_time(reflectivity(u_hr, depths, coeffs, 1.0), f_hr, cfg.dt)[pad:pad + n_time]
    lr = convolve_time(reflectivity(u_lr, depths, coeffs, 2.0), f_lr, 2 * cfg.dt)
    lr = lr[pad // 2:pad // 2 + n_time // 2]  # (time/2, trace/2)

    white_std, colored_std = rng.uniform(*cfg.noise_std), rng.uniform(*cfg.colored_noise_std)
    lr = add_noise(lr, rng, white_std, colored_std, cfg.colored_band)
    scale = max(hr.std(), 1e-12)
    return (lr / scale).astype(np.float32), (hr / scale).astype(np.float32)


def make_pairs(n: int, seed: int, cfg: SyntheticConfig,
               hr_shape: tuple[int, int] = (256, 256)) -> tuple[np.ndarray, np.ndarray]:
    """Return lr (n, time/2, trace/2) and hr (n, time, trace) float32 pairs 0..n-1 of `seed`.

    hr_shape is on-disk (traces, samples) like data.hr_shape; pair i never depends on n.
    """
    pairs = [make_pair(seed, i, cfg, hr_shape) for i in range(n)]
    return np.stack([lr for lr, _ in pairs]), np.stack([hr for _, hr in pairs])


def plot_pairs(lr: np.ndarray, hr: np.ndarray, path: str | Path, dt: float = 0.002) -> None:
    """Draw pairs as rows of LR | HR images (time downwards) and save the figure to path.

    lr: (n, time/2, trace/2); hr: (n, time, trace); dt: HR sample interval in s.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(hr)
    fig, axes = plt.subplots(n, 2, figsize=(8, 4 * n), squeeze=False)
    for row in range(n):
        # One colour scale per row, from the HR, so LR and HR amplitudes compare directly.
        clip = np.percentile(np.abs(hr[row]), 99)
        n_time, n_trace = hr[row].shape
        extent = (0, n_trace, n_time * dt * 1000, 0)
        for col, (section, name) in enumerate(((lr[row], "LR"), (hr[row], "HR"))):
            ax = axes[row, col]
            ax.imshow(section, cmap="gray", vmin=-clip, vmax=clip, extent=extent, aspect="auto",
                      interpolation="nearest")
            ax.set_title(f"pair {row} {name} {section.shape[0]}x{section.shape[1]} "
                         f"(dt {dt * 1000 * n_time / section.shape[0]:g} ms)")
            ax.set_xlabel("HR trace")
            ax.set_ylabel("time (ms)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _refuse_existing(*folders: Path) -> None:
    for folder in folders:
        found = sorted(folder.glob("*.dat")) if folder.is_dir() else []
        if found:
            raise DataError(f"'{folder}' already holds {len(found)} .dat files; delete it or set "
                            f"data.lr_dir / data.hr_dir to an empty folder")


def write_meta(path: Path, cfg: Config, n_pairs: int) -> None:
    """Write meta.json: file layout, shapes, seed, sample intervals and every synthetic setting."""
    syn, data = cfg.synthetic, cfg.data
    meta = {
        "format": "raw little-endian float32, no header, trace-major [traces, samples]",
        "lr_dir": data.lr_dir, "hr_dir": data.hr_dir, "n_pairs": n_pairs,
        "lr_shape": data.lr_shape, "hr_shape": data.hr_shape,
        "seed": syn.seed, "dt": syn.dt, "lr_dt": 2 * syn.dt,
        "lr_grid": "LR sample (i, j) lies at HR sample position (2i + 0.5, 2j + 0.5)",
        "amplitude": "LR and HR divided by the std of the clean HR section",
        "wavelet": "zero-phase Ricker; HR peak f in hr_peak_freq, LR peak f * lr_freq_ratio",
        "synthetic": dataclasses.asdict(syn),
    }
    atomic_write_bytes(path, (json.dumps(meta, indent=2) + "\n").encode())


def generate_dataset(cfg: Config) -> int:
    """Write the pairs as data.lr_dir/NNNN.dat and data.hr_dir/NNNN.dat, then meta.json; return the count."""
    syn, data = cfg.synthetic, cfg.data
    lr_dir, hr_dir = Path(data.lr_dir), Path(data.hr_dir)
    _refuse_existing(lr_dir, hr_dir)
    for key, folder in (("data.lr_dir", lr_dir), ("data.hr_dir", hr_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"{key} '{folder}' cannot be created ({err.strerror})") from None
    digits = max(4, len(str(syn.n_pairs - 1)))
    print(f"writing {syn.n_pairs} synthetic pairs (seed {syn.seed}): LR {data.lr_shape} to {lr_dir}, "
          f"HR {data.hr_shape} to {hr_dir}")
    for index in tqdm(range(syn.n_pairs), unit="pair"):
        lr, hr = make_pair(syn.seed, index, syn, tuple(data.hr_shape))
        write_dat(lr_dir / f"{index:0{digits}d}.dat", lr)
        write_dat(hr_dir / f"{index:0{digits}d}.dat", hr)
    meta_path = hr_dir.parent / "meta.json"
    write_meta(meta_path, cfg, syn.n_pairs)
    print(f"wrote {meta_path}")
    return syn.n_pairs


def main(argv: list[str] | None = None) -> int:
    """Run the command line on argv (sys.argv[1:] when None); return the exit code."""
    return run_main(generate_dataset, argv, "Write seeded synthetic LR/HR seismic pairs as .dat files.")


if __name__ == "__main__":
    sys.exit(main())

# Expected printout (2 CPU cores):
# $ python -m datasets.synthetic
# writing 1000 synthetic pairs (seed 1234): LR [128, 128] to data/synthetic/nx2, HR [256, 256] to
#   data/synthetic/sx   (one line)
# 100%|██████████| 1000/1000 [00:12<00:00, 82.0pair/s]
# wrote data/synthetic/meta.json
