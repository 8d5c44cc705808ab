"""Image metrics in physical amplitude units: PSNR, SSIM and a log-spectral distance.

Every script (train.py validation, sample.py, eval.py) calls `section_metrics`, so their
numbers agree by construction. data_range is the HR section's max - min.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def amplitude_spectrum(section: np.ndarray) -> np.ndarray:
    """Return the mean over traces of |FFT| along time, shape (n_time // 2 + 1,). section: (time, trace)."""
    return np.abs(np.fft.rfft(np.asarray(section, dtype=np.float64), axis=0)).mean(axis=1)


def log_spectral_distance(pred: np.ndarray, target: np.ndarray) -> float:
    """Return the RMS difference in dB between the mean amplitude spectra along time (0 is perfect)."""
    a, b = amplitude_spectrum(pred), amplitude_spectrum(target)
    floor = 1e-6 * b.max()
    return float(np.sqrt(np.mean((20 * np.log10((a + floor) / (b + floor))) ** 2)))


def section_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Return psnr (dB), ssim and lsd (dB) of pred against target, both (time, trace) in physical units."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    data_range = float(target.max() - target.min())
    return {
        "psnr": float(peak_signal_noise_ratio(target, pred, data_range=data_range)),
        "ssim": float(structural_similarity(target, pred, data_range=data_range, win_size=7)),
        "lsd": log_spectral_distance(pred, target),
    }


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Return {metric: {mean, std}} over per-file metric dicts."""
    keys = rows[0].keys() if rows else []
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
            for k in keys}


def compare_to_targets(names: list[str], preds: list[np.ndarray], targets: list[np.ndarray],
                       bicubics: list[np.ndarray]) -> dict:
    """Return per-file and summary metrics of predictions and of the bicubic baseline.

    {"files": {name: {"pred": {...}, "bicubic": {...}}}, "pred": {metric: {mean, std}},
     "bicubic": {...}, "gain_db": mean PSNR(pred) - mean PSNR(bicubic), "n_files": N}
    """
    files = {n: {"pred": section_metrics(p, t), "bicubic": section_metrics(b, t)}
             for n, p, t, b in zip(names, preds, targets, bicubics)}
    pred = summarize([f["pred"] for f in files.values()])
    bicubic = summarize([f["bicubic"] for f in files.values()])
    return {"n_files": len(files), "data_range": "max - min of each HR section", "pred": pred,
            "bicubic": bicubic, "gain_db": pred["psnr"]["mean"] - bicubic["psnr"]["mean"], "files": files}


def format_table(result: dict) -> str:
    """Return a small text table of the summary in compare_to_targets' result."""
    lines = [f"{'':10s} {'PSNR (dB)':>16s} {'SSIM':>16s} {'LSD (dB)':>16s}"]
    for label in ("bicubic", "pred"):
        s = result[label]
        cells = [f"{s[k]['mean']:7.3f} ± {s[k]['std']:6.3f}" for k in ("psnr", "ssim", "lsd")]
        lines.append(f"{'diffusion' if label == 'pred' else label:10s} " + " ".join(f"{c:>16s}" for c in cells))
    lines.append(f"{result['n_files']} files; PSNR gain over bicubic {result['gain_db']:+.2f} dB")
    return "\n".join(lines)
