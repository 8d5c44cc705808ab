"""Figures a run leaves behind: loss curve, sample grids, field panels with spectra."""
from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.atomic import atomic_write_bytes  # noqa: E402
from utils.metrics import amplitude_spectrum  # noqa: E402


def save_figure(fig, path: str | Path) -> None:
    """Save fig as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())


def read_log(log_path: str | Path) -> tuple[list[dict], list[dict]]:
    """Return (loss records, validation records) from a run's log.jsonl."""
    losses, vals = [], []
    path = Path(log_path)
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                (vals if "val" in record else losses).append(record)
    return losses, vals


def plot_loss_curve(log_path: str | Path, png_path: str | Path) -> None:
    """Draw training loss against step, and validation PSNR against bicubic when logged."""
    losses, vals = read_log(log_path)
    if not losses:
        return
    fig, axes = plt.subplots(1, 2 if vals else 1, figsize=(11 if vals else 6, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.plot([r["step"] for r in losses], [r["loss"] for r in losses], lw=1)
    ax.set(xlabel="step", ylabel="loss as logged", title="training loss (noise error, or HR error for regression)", yscale="log")
    ax.grid(alpha=0.3)
    if vals:
        ax = axes[0, 1]
        steps = [r["step"] for r in vals]
        ax.plot(steps, [r["val"]["psnr"] for r in vals], "o-", label="diffusion (EMA)")
        ax.plot(steps, [r["val"]["bicubic_psnr"] for r in vals], "--", label="bicubic")
        ax.set(xlabel="step", ylabel="PSNR (dB)", title="validation samples")
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, png_path)


def show_section(ax, section: np.ndarray, title: str, clim: float, cmap: str = "seismic") -> None:
    """Draw a (time, trace) section with time downwards and symmetric colour limits."""
    ax.imshow(section, cmap=cmap, vmin=-clim, vmax=clim, aspect="auto", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def metric_title(label: str, metrics: dict | None) -> str:
    """Return 'label PSNR dB / SSIM', or 'label (not scored)' for an unscorable target."""
    if not metrics:
        return f"{label} (not scored)"
    return f"{label} {metrics['psnr']:.2f} dB / {metrics['ssim']:.3f}"


def plot_sample_grid(rows: list[dict], png_path: str | Path) -> None:
    """Draw one row per file: LR | bicubic | prediction | HR | error (prediction - HR).

    Each row dict holds name, lr, bicubic, pred, hr arrays (time, trace) and 'metrics', the
    file's entry of compare_to_targets ({"pred": ..., "bicubic": ...}, or None when not scored).
    Colour limits are shared within a row.
    """
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 5, figsize=(15, 3.1 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows):
        clim = float(np.percentile(np.abs(row["hr"]), 99.5)) or 1.0
        scores = row["metrics"] or {}
        show_section(ax_row[0], row["lr"], f"{row['name']} LR input", clim)
        show_section(ax_row[1], row["bicubic"], metric_title("bicubic", scores.get("bicubic")), clim)
        show_section(ax_row[2], row["pred"], metric_title("diffusion", scores.get("pred")), clim)
        show_section(ax_row[3], row["hr"], "HR target", clim)
        show_section(ax_row[4], row["pred"] - row["hr"], "error (pred - HR)", clim)
    save_figure(fig, png_path)


def plot_lr_pred_hr_rows(rows: list[dict], png_path: str | Path) -> Path:
    """Draw one row per file: LR | prediction | HR, and std | |error| when the row has a std map; return png_path.

    Each row dict holds name, lr, pred, hr arrays (time, trace), 'std' (or None) and 'metrics' as in
    plot_sample_grid; the LR title scores the bicubic upsampling of the LR. The std and |error|
    panels share one colour scale, so a calibrated std map looks like the error it predicts.
    """
    if not rows:
        raise ValueError("no rows to draw: pass at least one file")
    with_std = all(row.get("std") is not None for row in rows)
    fig, axes = plt.subplots(len(rows), 5 if with_std else 3, figsize=(16 if with_std else 10, 3.1 * len(rows)),
                             squeeze=False)
    for ax_row, row in zip(axes, rows):
        clim = float(np.percentile(np.abs(row["hr"]), 99.5)) or 1.0
        scores = row["metrics"] or {}
        show_section(ax_row[0], row["lr"], metric_title(f"{row['name']} LR (bicubic:", scores.get("bicubic")) + ")", clim)
        show_section(ax_row[1], row["pred"], metric_title("prediction:", scores.get("pred")), clim)
        show_section(ax_row[2], row["hr"], "HR target", clim)
        if with_std:
            error = np.abs(row["pred"] - row["hr"])
            top = float(np.percentile(error, 99)) or 1.0
            for ax, image, title in ((ax_row[3], row["std"], "posterior std"), (ax_row[4], error, "|prediction - HR|")):
                ax.imshow(image, cmap="magma", vmin=0, vmax=top, aspect="auto", interpolation="nearest")
                ax.set_title(title, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
    save_figure(fig, png_path)
    return Path(png_path)


def plot_mean_spectra(sections: dict[str, list[np.ndarray]], dt: float, max_freq: float, path: str | Path,
                      title: str = "mean amplitude spectrum, test set") -> None:
    """Draw the mean amplitude spectrum along time of each set of (time, trace) sections, normalised to the first set's peak."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    peak = None
    for label, arrays in sections.items():
        spectrum = np.mean([amplitude_spectrum(a) for a in arrays], axis=0)
        freqs = np.fft.rfftfreq(arrays[0].shape[0], d=dt)
        peak = spectrum.max() if peak is None else peak
        keep = freqs <= max_freq
        ax.plot(freqs[keep], spectrum[keep] / peak, label=label)
    ax.set(xlabel="frequency (Hz)", ylabel=f"amplitude ({next(iter(sections))} peak = 1)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def normalised_spectrum(section: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (frequencies in Hz, mean amplitude spectrum along time / its own maximum) of a (time, trace) section."""
    spectrum = amplitude_spectrum(section)
    return np.fft.rfftfreq(section.shape[0], d=dt), spectrum / max(spectrum.max(), 1e-30)


def field_spectra(section: np.ndarray, pred: np.ndarray, dt: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {"original", "super-resolved": (Hz, normalised amplitude)}; pred has twice the samples, so dt / 2."""
    return {"original": normalised_spectrum(section, dt), "super-resolved": normalised_spectrum(pred, dt / 2)}


def style_spectrum_axis(ax, max_freq: float, ylabel: str, title: str, legend_size: int) -> None:
    """Label a spectrum panel of the field figures: frequency axis up to max_freq, small title, grid, legend."""
    ax.set(xlim=(0, max_freq), xlabel="frequency (Hz)", ylabel=ylabel, title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


def plot_field_panel(rows: list[dict], max_freq: float, png_path: str | Path, title: str) -> Path:
    """Draw one row per field section: original | super-resolved | (posterior std) | both spectra; return png_path.

    Each row dict holds name, section (time, trace), pred (2 time, 2 trace), std (or None), dt,
    the input's time sample interval in s, and dt_source, where dt came from (shown in the title).
    The prediction spans the same duration with twice the samples, so its interval is dt / 2 and
    both spectra share one frequency axis. The std column appears when every row has a std map.
    """
    if not rows:
        raise ValueError("no rows to draw: pass at least one field section")
    with_std = all(row.get("std") is not None for row in rows)
    widths = [1, 1, 1, 1.1] if with_std else [1, 1, 1.1]
    fig, axes = plt.subplots(len(rows), len(widths), figsize=(4.6 * len(widths), 3.6 * len(rows) + 0.4),
                             squeeze=False, layout="constrained", gridspec_kw={"width_ratios": widths})
    for ax_row, row in zip(axes, rows):
        section, pred, dt = row["section"], row["pred"], row["dt"]
        clim = float(np.percentile(np.abs(section), 99)) or 1.0
        show_section(ax_row[0], section, f"{row['name']} original {section.shape[0]}x{section.shape[1]} "
                     f"(time x trace), dt {1e3 * dt:g} ms ({row['dt_source']})", clim)
        show_section(ax_row[1], pred, f"super-resolved {pred.shape[0]}x{pred.shape[1]}, dt {1e3 * dt / 2:g} ms", clim)
        if with_std:
            ax = ax_row[2]
            image = ax.imshow(row["std"], cmap="magma", vmin=0, vmax=float(np.percentile(row["std"], 99.5)) or 1.0,
                              aspect="auto", interpolation="nearest")
            ax.set_title("posterior std of the samples (same units)", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(image, ax=ax, fraction=0.04)
        ax = ax_row[-1]
        for label, (freqs, spectrum) in field_spectra(section, pred, dt).items():
            keep = freqs <= max_freq
            ax.plot(freqs[keep], spectrum[keep], label=label)
        style_spectrum_axis(ax, max_freq, "amplitude / its own maximum", "mean |FFT| along time over traces", 8)
    fig.suptitle(title)
    save_figure(fig, png_path)
    return Path(png_path)


def plot_roundtrip(rows: list[dict], max_freq: float, png_path: str | Path, title: str) -> Path:
    """Draw one row per field section: original | degraded input | bicubic | prediction | spectra; return png_path.

    Each row dict holds name, group ("held out" or "trained on"), original (time, trace), lr
    (time/2, trace/2), bicubic and pred (time, trace), dt (s, of the original) and 'metrics'
    ({"pred": ..., "bicubic": ...}). Amplitude spectra are divided by the original's peak.
    """
    if not rows:
        raise ValueError("no rows to draw: pass at least one section")
    fig, axes = plt.subplots(len(rows), 5, figsize=(19, 3.4 * len(rows) + 0.4), squeeze=False, layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.1]})
    for ax_row, row in zip(axes, rows):
        clim = float(np.percentile(np.abs(row["original"]), 99)) or 1.0
        scores = row["metrics"] or {}
        show_section(ax_row[0], row["original"], f"{row['name']} ({row['group']}) original, the reference", clim)
        show_section(ax_row[1], row["lr"], f"degraded input {row['lr'].shape[0]}x{row['lr'].shape[1]}", clim)
        show_section(ax_row[2], row["bicubic"], metric_title("bicubic", scores.get("bicubic")), clim)
        show_section(ax_row[3], row["pred"], metric_title("prediction", scores.get("pred")), clim)
        ax = ax_row[4]
        # |FFT| grows with the number of samples: divide by it, so the half-length input compares.
        per_sample = lambda a: amplitude_spectrum(a) / a.shape[0]  # noqa: E731
        peak = per_sample(row["original"]).max()
        for label, section, dt in (("original", row["original"], row["dt"]), ("input", row["lr"], 2 * row["dt"]),
                                   ("bicubic", row["bicubic"], row["dt"]), ("prediction", row["pred"], row["dt"])):
            freqs = np.fft.rfftfreq(section.shape[0], d=dt)
            keep = freqs <= max_freq
            ax.plot(freqs[keep], per_sample(section)[keep] / peak, label=label, lw=1.2)
        style_spectrum_axis(ax, max_freq, "amplitude / original's peak",
                            f"mean |FFT| along time, dt {1e3 * row['dt']:g} ms ({row.get('dt_source', 'given')})", 7)
    fig.suptitle(title)
    save_figure(fig, png_path)
    return Path(png_path)


def plot_reliability(curves: dict[str, dict], png_path: str | Path, title: str) -> Path:
    """Draw observed against nominal coverage of mean +- z std, one line per curve; return png_path.

    curves: label -> calibration()'s result; a calibrated std map lies on the diagonal.
    """
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="calibrated")
    for label, result in curves.items():
        rel = result["reliability"]
        ax.plot(rel["nominal"], rel["observed"], "o-", ms=3, label=f"{label} (scale {result['scale']:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal coverage (Gaussian)", ylabel="observed coverage", title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    save_figure(fig, png_path)
    return Path(png_path)
