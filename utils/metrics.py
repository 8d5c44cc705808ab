"""Image metrics in physical amplitude units: PSNR, SSIM and a log-spectral distance, and the one scorer.

Every number the project reports about a prediction comes from `compare_to_targets` (through
`section_metrics`), so train.py's validation, eval.py, the notebooks and the benchmarks agree by
construction. data_range is the HR section's max - min. A constant HR section has no defined
PSNR or SSIM: it is reported per file and left out of the means.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = "max - min of each HR section"


def amplitude_spectrum(section: np.ndarray) -> np.ndarray:
    """Return the mean over traces of |FFT| along time, shape (n_time // 2 + 1,). section: (time, trace)."""
    return np.abs(np.fft.rfft(np.asarray(section, dtype=np.float64), axis=0)).mean(axis=1)


def log_spectral_distance(pred: np.ndarray, target: np.ndarray) -> float:
    """Return the RMS difference in dB between the mean amplitude spectra along time (0 is perfect)."""
    a, b = amplitude_spectrum(pred), amplitude_spectrum(target)
    floor = 1e-6 * b.max()
    return float(np.sqrt(np.mean((20 * np.log10((a + floor) / (b + floor))) ** 2)))


def band_error_shares(pred: np.ndarray, target: np.ndarray, bands: int = 10) -> dict[str, list[float]]:
    """Return the target's energy and pred's error energy in `bands` equal time-frequency bands up to Nyquist.

    Both are shares of the target's total energy (one-sided power spectrum along time, summed over
    traces), so the error shares add up to about ||pred - target||^2 / ||target||^2: PSNR's error,
    split by band. A prediction that misses a band entirely has an error share there equal to the target's.
    """
    power = lambda x: (np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64), axis=0)) ** 2).sum(axis=1)  # noqa: E731
    target_power = power(target)
    error_power = power(np.asarray(pred, dtype=np.float64) - target)
    edges = np.linspace(0, len(target_power), bands + 1).round().astype(int)
    total = max(target_power.sum(), 1e-300)
    share = lambda p: [float(p[a:b].sum() / total) for a, b in zip(edges[:-1], edges[1:])]  # noqa: E731
    return {"target": share(target_power), "error": share(error_power)}


def unscorable(target: np.ndarray) -> str | None:
    """Return why target cannot be scored (constant or not finite), or None when it can."""
    target = np.asarray(target, dtype=np.float64)
    if not np.isfinite(target).all():
        return "HR target holds NaN or Inf values"
    if target.max() - target.min() <= 0:
        return "HR target is constant, so PSNR and SSIM are undefined"
    return None


def section_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Return psnr (dB), ssim and lsd (dB) of pred against target, both (time, trace) in physical units.

    The target must be scorable (see `unscorable`); compare_to_targets checks that first.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    data_range = float(target.max() - target.min())
    with np.errstate(divide="ignore"):  # a perfect prediction has PSNR inf
        psnr = float(peak_signal_noise_ratio(target, pred, data_range=data_range))
    return {
        "psnr": psnr,
        "ssim": float(structural_similarity(target, pred, data_range=data_range, win_size=7)),
        "lsd": log_spectral_distance(pred, target),
    }


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Return {metric: {mean, std}} over per-file metric dicts."""
    keys = rows[0].keys() if rows else []
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
            for k in keys}


def compare_to_targets(names: list[str], targets: list[np.ndarray], systems: dict[str, list[np.ndarray]]) -> dict:
    """Return per-file and mean metrics of every system's outputs against the targets.

    systems: label -> one output per name (e.g. {"pred": ..., "bicubic": ...}), each (time, trace).
    Result: {"n_files": scored files, "data_range": ..., "excluded": {name: why}, "files": {name:
    {label: metrics}}, label: {metric: {mean, std}} for each label, and "gain_db" = mean PSNR of
    "pred" minus that of "bicubic" when both are present}. Unscorable targets are listed in
    "excluded" and left out of the means.
    """
    files, excluded = {}, {}
    for i, (name, target) in enumerate(zip(names, targets)):
        reason = unscorable(target)
        if reason:
            excluded[name] = reason
            continue
        files[name] = {label: section_metrics(outputs[i], target) for label, outputs in systems.items()}
    result = {"n_files": len(files), "data_range": DATA_RANGE, "excluded": excluded}
    for label in systems:
        result[label] = summarize([f[label] for f in files.values()])
    if files and "pred" in systems and "bicubic" in systems:
        result["gain_db"] = result["pred"]["psnr"]["mean"] - result["bicubic"]["psnr"]["mean"]
    result["files"] = files
    return result


def format_table(result: dict, labels: dict[str, str] | None = None) -> str:
    """Return a small text table of compare_to_targets' summary; labels maps system keys to row names."""
    labels = labels or {"bicubic": "bicubic", "pred": "diffusion"}
    lines = [f"{'':12s} {'PSNR (dB)':>16s} {'SSIM':>16s} {'LSD (dB)':>16s}"]
    for key, row_name in labels.items():
        s = result.get(key)
        if not s:
            continue
        cells = [f"{s[k]['mean']:7.3f} ± {s[k]['std']:6.3f}" for k in ("psnr", "ssim", "lsd")]
        lines.append(f"{row_name:12s} " + " ".join(f"{c:>16s}" for c in cells))
    summary = f"{result['n_files']} files"
    if "gain_db" in result:
        summary += f"; PSNR gain over bicubic {result['gain_db']:+.2f} dB"
    lines.append(summary)
    for name, why in result["excluded"].items():
        lines.append(f"left out of the means: {name} ({why})")
    return "\n".join(lines)


# ---- Calibration of the posterior standard deviation ---------------------------------------------

Z_LEVELS = (1.0, 2.0, 3.0)  # coverage of mean +- z std is reported at these z
NOMINAL_LEVELS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])  # reliability curve


def gaussian_coverage(z: float) -> float:
    """Return P(|N(0, 1)| <= z): 0.683 at z = 1, 0.954 at 2, 0.997 at 3."""
    from math import erf, sqrt
    return erf(z / sqrt(2))


def gaussian_z(coverage: float) -> float:
    """Return z with P(|N(0, 1)| <= z) = coverage (inverse of gaussian_coverage)."""
    from scipy.special import erfinv
    return float(np.sqrt(2) * erfinv(coverage))


def standardised_errors(targets: list[np.ndarray], means: list[np.ndarray], stds: list[np.ndarray]) -> np.ndarray:
    """Return |target - mean| / std of every pixel of every file, flattened (inf where std is 0 and the error is not)."""
    out = []
    for target, mean, std in zip(targets, means, stds):
        error = np.abs(np.asarray(target, np.float64) - mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(std > 0, error / np.maximum(std, 1e-300), np.where(error > 0, np.inf, 0.0)).ravel())
    return np.concatenate(out)


def fit_std_scale(targets: list[np.ndarray], means: list[np.ndarray], stds: list[np.ndarray]) -> float:
    """Return the scalar s that makes mean +- s z std cover half the pixels at z = 0.674 (median matching).

    Fit it on the validation split, never on the test split.
    """
    return float(np.median(standardised_errors(targets, means, stds)) / gaussian_z(0.5))


def calibration(targets: list[np.ndarray], means: list[np.ndarray], stds: list[np.ndarray],
                scale: float = 1.0) -> dict:
    """Return how well mean +- z (scale std) covers the targets, pooled over all pixels of all files.

    {"scale", "coverage": {z: observed fraction}, "nominal": {z: Gaussian fraction},
     "reliability": {"nominal": [...], "observed": [...]}, "spearman_std_abs_error": rank
     correlation of std with |error| (1 would rank every pixel's error by its std)}.
    """
    from scipy.stats import spearmanr
    u = standardised_errors(targets, means, stds) / scale
    std = np.concatenate([np.asarray(s, np.float64).ravel() for s in stds])
    error = np.concatenate([np.abs(np.asarray(t, np.float64) - m).ravel() for t, m in zip(targets, means)])
    step = max(1, len(std) // 1_000_000)  # rank correlation on at most a million pixels
    return {"scale": scale,
            "coverage": {f"{z:g}": float(np.mean(u <= z)) for z in Z_LEVELS},
            "nominal": {f"{z:g}": gaussian_coverage(z) for z in Z_LEVELS},
            "reliability": {"nominal": NOMINAL_LEVELS.tolist(),
                            "observed": [float(np.mean(u <= gaussian_z(p))) for p in NOMINAL_LEVELS]},
            "spearman_std_abs_error": float(spearmanr(std[::step], error[::step]).statistic)}
