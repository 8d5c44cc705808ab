"""A second, independent synthetic generator of LR/HR seismic pairs, for testing generalisation.

    python -m benchmarks.second_generator --out data/gen2 --n 64 --seed 7 [--hr-size 256]

Writes <out>/nx2/NNNN.dat (LR), <out>/sx/NNNN.dat (HR) and <out>/meta.json, the layout that
datasets/synthetic.py writes, with recipes of its own (none is shared with that file):
  earth      per sequence, a blocky log-impedance log: layers of gamma-distributed thickness whose
             values revert to a compaction trend with Laplace steps, some gradational layers, a few
             strong contrasts and thin-bed cycles; reflectivity r = (I2 - I1) / (I2 + I1).
  structure  a smooth deformation (regional dip, folds growing with depth, a random smooth field,
             a lateral wedge), sometimes a channel or lens, 0-3 normal faults (planar or listric,
             vertical simple shear, so listric faults get a rollover) with a drag zone, sometimes
             an angular unconformity over an older tilted sequence.
  wavelets   per section one Ormsby trapezoid (HR high cut 0.3-0.9 of Nyquist), zero-phase,
             constant-phase rotated or minimum-phase; LR gets a narrower trapezoid with the HR
             wavelet's phase (a zero-phase band-limited view of the HR wavelet).
  amplitude  residual spherical-divergence trend t^-q and a smooth lateral gain.
  LR         the same reflectivity on the half grid: LR sample (i, j) lies at HR position
             (2i + 0.5, 2j + 0.5) (cell-centred, like interpolate(align_corners=False)), time
             interval 2 * DT_HR, traces averaged [1, 3, 3, 1] / 8 around 2j + 0.5 (Fresnel zone).
  noise      LR only: white, ground-roll-like dipping trains, low-frequency swell bursts, spikes,
             dead or weak traces; additive noise std 5-35 % of the clean LR std.
Both sections are divided by the clean HR std. Units inside: time in HR samples (DT_HR), lateral
position in HR traces. Pair i comes from np.random.default_rng([seed, i]) alone.

Expected printout (2 CPU cores; tqdm bar on stderr):
    settings: n=64 seed=7 HR 256x256 at 2 ms, LR 128x128 at 4 ms
    writing data/gen2/nx2 (LR) and data/gen2/sx (HR)
    wrote 64 pairs and data/gen2/meta.json in 8.0 s
    drawn: faults 78, channels/lenses 33, unconformities 20, mean LR noise 21%
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import lfilter

from datasets.dat_io import write_dat
from utils.atomic import atomic_write_bytes

DT_HR = 0.002  # s, HR sample interval; LR samples every 2 * DT_HR
FINE = 4  # fine time samples per HR sample on which reflectivity is built (even: LR rows fall on it)
PAD = 64  # HR samples of earth rendered above and below the window, so wavelet tails are complete
TWO_PI = 2 * np.pi


def draw_waves(rng, n: int, amp: float, period_t: tuple | None, period_x: tuple) -> dict:
    """Return n random plane waves (amplitudes, periods in HR samples and traces, phases) as lists.

    period_t None gives waves constant in time (infinite period).
    """
    sign = rng.choice([-1, 1], n)
    return {"amp": (amp * rng.uniform(0.3, 1.0, n)).tolist(),
            "period_t": [np.inf] * n if period_t is None else (rng.uniform(*period_t, n) * sign).tolist(),
            "period_x": rng.uniform(*period_x, n).tolist(),
            "phase": rng.uniform(0, TWO_PI, n).tolist()}


def eval_waves(waves: dict, t, x) -> np.ndarray:
    """Return the sum of the plane waves at (t, x); an infinite period means constant along that axis."""
    out = np.zeros(np.broadcast(t, x).shape)
    for amp, pt, px, phase in zip(waves["amp"], waves["period_t"], waves["period_x"], waves["phase"]):
        out += amp * np.cos(TWO_PI * (t / pt + x / px) + phase)
    return out


# ----------------------------------------------------------------------------- earth: impedance logs

def impedance_log(rng, u_lo: float, u_hi: float, du: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (u, dev, trend): a blocky log-impedance log sampled every du from u_lo to u_hi.

    u is depositional time in HR samples; log-impedance = trend (compaction) + dev (the layers).
    """
    mean_thick = rng.uniform(3.0, 10.0)  # HR samples, 6-20 ms
    n = int((u_hi - u_lo) / mean_thick * 1.5) + 20
    thick = rng.gamma(1.5, mean_thick / 1.5, n) + 0.5
    rho, sigma = rng.uniform(0.2, 0.8), rng.uniform(0.03, 0.09)
    dev = lfilter([1.0], [1.0, -rho], sigma * rng.laplace(0.0, 2 ** -0.5, n))  # AR(1), Laplace steps
    grad = rng.random(n) < 0.15  # gradational layers: a ramp from the layer above

    # A few strong contrasts: hard streaks (carbonate, cemented) up, coals or gas sands down.
    k = rng.poisson(2.0)
    at = rng.integers(0, n, k)
    dev[at] += rng.choice([1.0, -1.0], k, p=[0.7, 0.3]) * rng.uniform(0.2, 0.45, k)
    grad[at] = False

    # Thin-bed cycles: 4-12 alternating layers of 1-4 ms, below the wavelet's resolution.
    for _ in range(rng.poisson(1.0)):
        m, at, contrast = rng.integers(4, 13), rng.integers(0, n), rng.uniform(0.05, 0.2)
        values = dev[at] + contrast / 2 * (-1.0) ** np.arange(m) + rng.normal(0, 0.01, m)
        thick = np.insert(thick, at, rng.uniform(0.5, 2.0, m))
        dev = np.insert(dev, at, values)
        grad = np.insert(grad, at, np.zeros(m, bool))

    # Sample the layers; a gradational layer ramps from the value above it to its own.
    ends = u_lo - rng.uniform(0, thick[0]) + np.cumsum(thick)
    u = np.arange(u_lo, u_hi + du, du)
    i = np.minimum(np.searchsorted(ends, u, side="right"), len(ends) - 1)
    frac = np.clip((u - ends[i] + thick[i]) / thick[i], 0.0, 1.0)
    above = dev[np.maximum(i - 1, 0)]
    dev_u = np.where(grad[i], above + (dev[i] - above) * frac, dev[i])
    trend = rng.uniform(0.0005, 0.0015) * (u - u_lo)  # per HR sample: 0.13-0.38 over 256 samples
    return u, dev_u, trend


# ----------------------------------------------------------------------------- structure

def draw_fold(rng, size: int, dip: float) -> dict:
    """Return a smooth deformation: dip (samples/trace), folds growing with depth, a smooth field, a wedge."""
    fold = {"dip": dip,
            "growth": rng.uniform(0.0, 2.0),  # fold amplitude x (1 + growth * depth / size)
            "folds": draw_waves(rng, rng.integers(1, 4), rng.uniform(0.0, 0.06) * size,
                                None, (0.4 * size, 3.0 * size)),
            "field": draw_waves(rng, 3, rng.uniform(0.0, 4.0), (80.0, 400.0), (0.2 * size, 1.0 * size)),
            "wedge": rng.uniform(-0.5, 0.5)}  # log of the thickness ratio from left to right edge
    # Keep u increasing downwards: bound d(shift)/dt well below 1.
    slope = (fold["growth"] / size * sum(fold["folds"]["amp"])
             + sum(a * TWO_PI / abs(p) for a, p in zip(fold["field"]["amp"], fold["field"]["period_t"])))
    if slope > 0.6:
        fold["field"]["amp"] = [a * 0.6 / slope for a in fold["field"]["amp"]]
        fold["growth"] *= 0.6 / slope
    return fold


def fold_u(fold: dict, t: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Return depositional time u at present-day positions (t, x) of one folded, tilted sequence."""
    depth = 1.0 + fold["growth"] * np.maximum(t, 0.0) / size
    shift = fold["dip"] * (x - size / 2) + depth * eval_waves(fold["folds"], 0.0, x) \
        + eval_waves(fold["field"], t, x)
    return (t - shift) * np.exp(fold["wedge"] * (x / size - 0.5))


def draw_fault(rng, size: int, direction: int) -> dict:
    """Return a normal fault: planar or listric, its throw, heave, tip and drag zone (HR samples/traces)."""
    fault = {"kind": "listric" if rng.random() < 0.5 else "planar", "dir": direction,
             "throw": rng.uniform(3.0, 25.0)}  # HR samples at the top of the fault, 6-50 ms
    if fault["kind"] == "planar":
        fault["slope"] = rng.uniform(3.0, 12.0)  # samples per trace (60-85 degrees at 2.5 m/12.5 m cells)
    else:
        fault["slope"] = rng.uniform(5.0, 14.0)  # slope at the top; flattens onto a detachment
        fault["detach"] = rng.uniform(0.5, 1.5) * size  # detachment depth below the fault top
    fault["heave"] = fault["throw"] / fault["slope"]
    blind = rng.random() < 0.3
    fault["t_top"] = rng.uniform(0.1, 0.5) * size if blind else -rng.uniform(PAD / 2, PAD)
    fault["taper"] = 2.0 * fault["throw"] * rng.uniform(1.0, 2.0) if blind else 1.0  # samples to full slip
    fault["drag"] = rng.uniform(0.0, 0.6)  # fraction of the throw taken up by drag
    fault["drag_width"] = max(2.0, fault["heave"] * rng.uniform(1.0, 3.0))  # traces
    # Place the fault's mid-window crossing between 15 and 85 % of the width.
    t_mid = size / 2 if fault["kind"] == "planar" else min(size / 2, fault["t_top"] + 0.7 * fault["detach"])
    x_mid = rng.uniform(0.15, 0.85) * size
    fault["x0"] = float(x_mid - direction * fault_xi(fault, np.array(t_mid)))
    return fault


def fault_depth(fault: dict, xi: np.ndarray) -> np.ndarray:
    """Return the fault's time below a point xi traces from its top, towards its dip (t_top for xi < 0)."""
    xi = np.maximum(xi, 0.0)
    if fault["kind"] == "planar":
        return fault["t_top"] + fault["slope"] * xi
    length = fault["detach"] / fault["slope"]
    return fault["t_top"] + fault["detach"] * (1.0 - np.exp(-xi / length))


def fault_xi(fault: dict, t: np.ndarray) -> np.ndarray:
    """Return where the fault is at time t (traces from its top towards its dip); inf where it is not."""
    depth = t - fault["t_top"]
    if fault["kind"] == "planar":
        return np.where(depth >= 0, depth / fault["slope"], np.inf)
    frac = depth / fault["detach"]
    inside = (frac >= 0) & (frac < 1)
    length = fault["detach"] / fault["slope"]
    return np.where(inside, -length * np.log1p(-np.where(inside, frac, 0.0)), np.inf)


def unfault(fault: dict, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pre-faulting positions of points (t, x): vertical simple shear on the fault, plus drag.

    The hanging wall moves by the heave h towards the dip and down by T(xi) - T(xi - h), T being the
    fault's time, so it stays on the fault: constant throw on a planar fault, rollover on a listric one.
    Drag moves both walls towards each other near the fault, over drag_width traces.
    """
    xi = fault["dir"] * (x - fault["x0"])
    heave = fault["heave"] * np.clip((t - fault["t_top"]) / fault["taper"], 0.0, 1.0)  # 0 above a blind tip
    t_fault = fault_depth(fault, xi)
    hanging = (xi > 0) & (t < t_fault)
    drop = t_fault - fault_depth(fault, xi - heave)  # hanging-wall drop in this column
    xi_f = fault_xi(fault, t)
    drop_at_fault = t - fault_depth(fault, np.where(np.isfinite(xi_f), xi_f, 0.0) - heave)
    drag = 0.5 * fault["drag"] * np.exp(-np.abs(xi - xi_f) / fault["drag_width"])
    t_src = np.where(hanging, t - drop * (1.0 - drag), t - drop_at_fault * drag)
    x_src = np.where(hanging, x - fault["dir"] * heave, x)
    return t_src, x_src


def draw_channel(rng, size: int) -> dict:
    """Return a channel (flat top, erosional base) or a biconvex lens in depositional coordinates."""
    return {"kind": "channel" if rng.random() < 0.6 else "lens",
            "u": rng.uniform(0.15, 0.8) * size,  # top (channel) or middle (lens), HR samples
            "x": rng.uniform(0.15, 0.85) * size, "half_width": rng.uniform(0.05, 0.2) * size,
            "thickness": rng.uniform(4.0, 16.0),  # HR samples at its axis
            "contrast": rng.choice([1.0, -1.0]) * rng.uniform(0.08, 0.3),  # log-impedance of the fill
            "layering": rng.uniform(0.0, 0.05), "layer_period": rng.uniform(1.5, 4.0)}


def channel_weight(channel: dict, u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return 1 inside the body, 0 outside, with a one-fine-sample ramp across its edges."""
    bulge = channel["thickness"] * np.clip(1.0 - ((x - channel["x"]) / channel["half_width"]) ** 2, 0.0, None)
    if channel["kind"] == "channel":
        top, base = channel["u"], channel["u"] + bulge
    else:
        top, base = channel["u"] - bulge / 2, channel["u"] + bulge / 2
    inside = np.clip(0.5 + (u - top) * FINE, 0, 1) * np.clip(0.5 + (base - u) * FINE, 0, 1)
    return np.where(bulge > 0, inside, 0.0)


def draw_geology(rng, size: int) -> dict:
    """Return every structural setting of one section (JSON-able)."""
    geology = {"fold": draw_fold(rng, size, rng.uniform(-0.25, 0.25)),
               "channel": draw_channel(rng, size) if rng.random() < 0.4 else None,
               "unconformity": None, "faults": [],
               "contrast_waves": draw_waves(rng, 4, rng.uniform(0.0, 0.35) / 4, (30.0, 150.0),
                                            (0.3 * size, 2.0 * size))}
    if rng.random() < 0.3:
        geology["unconformity"] = {
            "t": rng.uniform(0.35, 0.75) * size,  # HR samples
            "relief": draw_waves(rng, 3, rng.uniform(1.0, 5.0), None, (0.25 * size, 1.0 * size)),  # erosion
            "fold": draw_fold(rng, size, rng.choice([1.0, -1.0]) * rng.uniform(0.15, 0.5)),
            "jump": rng.uniform(0.05, 0.3)}  # older rocks are harder
    direction = int(rng.choice([1, -1]))
    for _ in range(rng.choice(4, p=[0.25, 0.4, 0.25, 0.1])):
        geology["faults"].append(draw_fault(rng, size, direction))
        direction = direction if rng.random() < 0.6 else -direction  # mostly synthetic, some antithetic
    return geology


def sequence_impedance(rng, u: np.ndarray, x: np.ndarray, geology: dict, channel: dict | None) -> np.ndarray:
    """Return log-impedance of one sequence at depositional times u and positions x (arrays of one shape)."""
    grid, dev, trend = impedance_log(rng, float(u.min()) - 1.0, float(u.max()) + 1.0, 1.0 / FINE)
    contrast = 1.0 + eval_waves(geology["contrast_waves"], u, x)  # reflector strength varies laterally
    z = np.interp(u, grid, trend) + np.interp(u, grid, dev) * contrast
    if channel is not None:
        fill = np.interp(channel["u"], grid, dev + trend) + channel["contrast"] \
            + channel["layering"] * np.sign(np.sin(TWO_PI * (u - channel["u"]) / channel["layer_period"]))
        weight = channel_weight(channel, u, x)
        z = z * (1.0 - weight) + fill * weight
    return z


def log_impedance_section(rng, geology: dict, size: int) -> np.ndarray:
    """Return log-impedance (time, trace) on the fine grid: rows at t = -PAD + (k + 0.5) / FINE, columns
    at traces -1 .. size (one extra trace each side for the LR lateral filter)."""
    t = (-PAD + (np.arange((size + 2 * PAD) * FINE) + 0.5) / FINE)[:, None]
    x = np.arange(-1, size + 1, dtype=float)[None, :]
    t, x = np.broadcast_arrays(t, x)  # (fine time, size + 2)
    for fault in reversed(geology["faults"]):  # the youngest fault is undone first
        t, x = unfault(fault, t, x)
    z = sequence_impedance(rng, fold_u(geology["fold"], t, x, size), x, geology, geology["channel"])
    unc = geology["unconformity"]
    if unc is not None:
        z_old = sequence_impedance(rng, fold_u(unc["fold"], t, x, size), x, geology, None) + unc["jump"]
        above = np.clip(0.5 + (unc["t"] + eval_waves(unc["relief"], 0.0, x) - t) * FINE, 0.0, 1.0)
        z = z * above + z_old * (1.0 - above)
    return z


# ----------------------------------------------------------------------------- wavelets

def draw_wavelets(rng) -> dict:
    """Return Ormsby corner frequencies (Hz) for HR and LR and the phase shared by both."""
    nyq = 0.5 / DT_HR
    f4 = rng.uniform(0.3, 0.9) * nyq
    f3 = f4 * rng.uniform(0.6, 0.85)
    f1 = rng.uniform(3.0, 8.0)
    f2 = f1 + rng.uniform(3.0, 12.0)
    ratio = rng.uniform(0.5, 0.9)  # LR high cut / HR high cut
    f4_lr = min(ratio * f4, 0.92 * nyq / 2)  # LR anti-alias ceiling at 0.92 of its Nyquist
    f3_lr = f4_lr * f3 / f4
    f1_lr = f1 * rng.uniform(1.0, 1.5)
    f2_lr = min(max(f2 * rng.uniform(1.0, 1.5), f1_lr + 2.0), f3_lr - 2.0)
    phase = str(rng.choice(["zero", "rotated", "minimum"], p=[0.4, 0.3, 0.3]))
    rotation = float(rng.choice([1, -1]) * rng.uniform(20, 90)) if phase == "rotated" else 0.0
    return {"hr": [f1, f2, f3, f4], "lr": [f1_lr, f2_lr, f3_lr, f4_lr], "lr_ratio": ratio,
            "phase": phase, "rotation_deg": rotation}


def ormsby_amplitude(freqs: np.ndarray, corners: list) -> np.ndarray:
    """Return the Ormsby trapezoid (0 below f1, 1 from f2 to f3, 0 above f4; corners in Hz) at freqs."""
    f1, f2, f3, f4 = corners
    return np.clip(np.minimum((freqs - f1) / (f2 - f1), (f4 - freqs) / (f4 - f3)), 0.0, 1.0)


def wavelet_phase(amp: np.ndarray, phase: str, rotation_deg: float) -> np.ndarray:
    """Return exp(i phase) on an rfft grid: zero, a constant rotation, or the minimum phase of amp."""
    if phase == "zero":
        return np.ones(len(amp), complex)
    if phase == "rotated":
        return np.full(len(amp), np.exp(-1j * np.deg2rad(rotation_deg)))
    # Minimum phase (Kolmogorov): fold the real cepstrum of log amplitude onto positive quefrencies.
    n = 2 * (len(amp) - 1)
    cep = np.fft.irfft(np.log(amp + 1e-3), n)
    cep[1:n // 2] *= 2.0
    cep[n // 2 + 1:] = 0.0
    return np.exp(1j * np.fft.rfft(cep, n).imag)


# ----------------------------------------------------------------------------- LR noise

def ground_roll(rng, shape: tuple) -> np.ndarray:
    """Return low-frequency dispersive wave trains dipping away from an apex trace, rms 1 where present."""
    nt, nx = shape
    t, offset = np.arange(nt)[:, None], np.abs(np.arange(nx)[None, :] - rng.uniform(-0.2, 1.2) * nx)
    t0 = rng.uniform(-0.5, 0.5) * nt
    out = np.zeros(shape)
    for _ in range(rng.integers(2, 5)):  # modes: each its own slowness (LR samples/trace) and frequency
        tau = t - t0 - rng.uniform(1.0, 8.0) * offset
        length = rng.uniform(15.0, 60.0)  # LR samples
        train = np.cos(TWO_PI * rng.uniform(3.0, 15.0) * tau * 2 * DT_HR + rng.uniform(0, TWO_PI))
        out += train * np.exp(-0.5 * ((tau - length) / length) ** 2)
    out *= np.exp(-offset / (rng.uniform(0.3, 1.5) * nx))
    present = np.abs(out) > 0.05 * np.abs(out).max()
    return out / np.sqrt(np.mean(out[present] ** 2))


def swell_bursts(rng, shape: tuple) -> np.ndarray:
    """Return very low-frequency (1-6 Hz) bursts on a few groups of traces, rms 1 on those traces."""
    nt, nx = shape
    t = np.arange(nt) * 2 * DT_HR
    out, hit = np.zeros(shape), np.zeros(nx, bool)
    for _ in range(rng.integers(1, 4)):
        j, width = rng.integers(0, nx), rng.integers(1, 5)
        burst = sum(np.cos(TWO_PI * f * t + rng.uniform(0, TWO_PI)) for f in rng.uniform(1.0, 6.0, 3))
        if rng.random() < 0.6:  # a burst in time, else the whole trace
            burst = burst * np.exp(-0.5 * ((np.arange(nt) - rng.uniform(0, nt)) / (rng.uniform(0.1, 0.4) * nt)) ** 2)
        cols = slice(j, min(j + width, nx))
        out[:, cols] += burst[:, None] * rng.uniform(0.7, 1.3, cols.stop - j)
        hit[cols] = True
    return out / np.sqrt(np.mean(out[:, hit] ** 2))


def add_lr_noise(rng, lr: np.ndarray) -> tuple[np.ndarray, dict]:
    """Return the LR section (time, trace) with a per-section mix of noises, and what was drawn."""
    sig = lr.std()
    info = {"level": rng.uniform(0.05, 0.35), "white": rng.uniform(0.3, 1.0),
            "ground_roll": rng.uniform(0.5, 2.0) if rng.random() < 0.5 else 0.0,
            "swell": rng.uniform(1.0, 3.0) if rng.random() < 0.35 else 0.0}
    target = info["level"] * sig  # std of all additive noise

    # Spikes first: keep their variance within 60 % of the budget (at least one spike).
    spikes = np.zeros(lr.size)
    count = rng.integers(1, 9) if rng.random() < 0.5 else 0
    amps = rng.choice([1.0, -1.0], count) * rng.uniform(4.0, 10.0, count) * sig
    while count > 1 and np.sum(amps[:count] ** 2) / lr.size > 0.6 * target ** 2:
        count -= 1
    spikes[rng.choice(lr.size, count, replace=False)] = amps[:count]
    spikes = spikes.reshape(lr.shape)
    info["spikes"] = int(count)

    # Continuous noise fills the rest of the budget.
    mix = info["white"] * rng.standard_normal(lr.shape)
    if info["ground_roll"]:
        mix += info["ground_roll"] * ground_roll(rng, lr.shape)
    if info["swell"]:
        mix += info["swell"] * swell_bursts(rng, lr.shape)
    rest = np.sqrt(max(target ** 2 - spikes.var(), 0.3 * target ** 2))
    noisy = lr + mix * (rest / mix.std()) + spikes

    # Dead (zero) and weak traces.
    dead, weak = [], []
    if rng.random() < 0.5:
        for j in rng.choice(lr.shape[1], rng.integers(1, 5), replace=False):
            if rng.random() < 0.5:
                noisy[:, j] = 0.0
                dead.append(int(j))
            else:
                noisy[:, j] *= rng.uniform(0.05, 0.4)
                weak.append(int(j))
    info.update(dead=dead, weak=weak)
    return noisy, info


# ----------------------------------------------------------------------------- one pair

def lateral_average(section: np.ndarray) -> np.ndarray:
    """Return traces averaged [1, 3, 3, 1] / 8 around x = 2j + 0.5; input columns are x = -1 .. W."""
    return (section[:, 0:-3:2] + 3 * section[:, 1:-2:2] + 3 * section[:, 2:-1:2] + section[:, 3::2]) / 8


def draw_pair(seed: int, index: int, hr_size: int = 256) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return (lr, hr, settings): float32 (time, trace) sections of (hr_size/2)^2 and hr_size^2."""
    if hr_size < 16 or hr_size % 2:
        raise ValueError(f"hr_size must be even and at least 16, got {hr_size}")
    rng = np.random.default_rng([seed, index])
    geology = draw_geology(rng, hr_size)
    wavelets = draw_wavelets(rng)
    gain = {"t0": rng.uniform(0.2, 1.5), "q": rng.uniform(-0.3, 0.9),  # s at window top; t^-q residual
            "lateral": draw_waves(rng, 3, rng.uniform(0.05, 0.3), None, (0.3 * hr_size, 2 * hr_size))}

    # Reflectivity on the fine grid: refl[k] at t = -PAD + k / FINE (HR samples), amplitude trends applied.
    z = log_impedance_section(rng, geology, hr_size)  # (fine time, hr_size + 2)
    refl = np.zeros_like(z)
    refl[1:] = np.tanh(np.diff(z, axis=0) / 2)  # (I2 - I1) / (I2 + I1) with z = ln I
    t_fine = -PAD + np.arange(len(refl)) / FINE
    t_abs = gain["t0"] + t_fine * DT_HR
    refl *= ((t_abs / (gain["t0"] + hr_size / 2 * DT_HR)) ** -gain["q"])[:, None]
    refl *= np.exp(eval_waves(gain["lateral"], 0.0, np.arange(-1, hr_size + 1)))[None, :]

    # Convolve once per grid and keep the rows on it: HR m at fine row FINE * (PAD + m), LR i at 2m + 0.5.
    nfft = next_fast_len(len(refl) + 2 * PAD * FINE)
    freqs = np.fft.rfftfreq(nfft, DT_HR / FINE)
    spec = np.fft.rfft(refl, nfft, axis=0)
    hr_rows = FINE * (PAD + np.arange(hr_size))
    lr_rows = FINE * PAD + 2 * FINE * np.arange(hr_size // 2) + FINE // 2
    amp_hr = ormsby_amplitude(freqs, wavelets["hr"])
    phase = wavelet_phase(amp_hr, wavelets["phase"], wavelets["rotation_deg"])  # LR shares the HR phase
    w_hr, w_lr = amp_hr * phase, ormsby_amplitude(freqs, wavelets["lr"]) * phase
    hr = np.fft.irfft(spec * w_hr[:, None], nfft, axis=0)[hr_rows, 1:-1]  # (hr_size, hr_size)
    lr = lateral_average(np.fft.irfft(spec * w_lr[:, None], nfft, axis=0)[lr_rows])  # (hr_size/2, hr_size/2)

    lr, noise = add_lr_noise(rng, lr)
    scale = hr.std()
    settings = {"seed": seed, "index": index, "geology": geology, "wavelets": wavelets, "gain": gain,
                "noise": noise, "hr_std": float(scale)}
    return (lr / scale).astype(np.float32), (hr / scale).astype(np.float32), settings


def make_pair(seed: int, index: int, hr_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Return (lr, hr): float32 (time, trace) sections of (hr_size/2)^2 and hr_size^2 for pair index."""
    lr, hr, _ = draw_pair(seed, index, hr_size)
    return lr, hr


def rounded(value, digits: int = 4):
    """Return value with floats rounded (through dicts and lists), for a readable meta.json."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(round(float(value), digits)) if np.isfinite(value) else str(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


# ----------------------------------------------------------------------------- files, figure, CLI

def write_pairs(out: str | Path, n: int, seed: int, hr_size: int = 256, progress: bool = False) -> dict:
    """Write pairs 0..n-1 as out/nx2/NNNN.dat and out/sx/NNNN.dat plus out/meta.json; return the meta."""
    out = Path(out)
    if any(out.rglob("*.dat")):
        raise FileExistsError(f"{out} already holds .dat files; choose an empty --out folder or remove them")
    indices = range(n)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc="pairs", unit="pair")
    pairs = []
    for i in indices:
        lr, hr, settings = draw_pair(seed, i, hr_size)
        write_dat(out / "nx2" / f"{i:04d}.dat", lr)
        write_dat(out / "sx" / f"{i:04d}.dat", hr)
        pairs.append(rounded(settings))
    meta = {"generator": "benchmarks.second_generator", "seed": seed, "n": n,
            "hr_shape": [hr_size, hr_size], "lr_shape": [hr_size // 2, hr_size // 2],
            "disk_shape": "(traces, samples), read with datasets.dat_io.read_dat",
            "dt_hr_s": DT_HR, "dt_lr_s": 2 * DT_HR, "fine_per_hr_sample": FINE, "pad_hr_samples": PAD,
            "lr_positions": "LR (i, j) at HR (2i + 0.5, 2j + 0.5); traces averaged [1, 3, 3, 1] / 8",
            "normalization": "LR and HR divided by the clean HR std (pairs[i].hr_std)",
            "pairs": pairs}
    atomic_write_bytes(out / "meta.json", (json.dumps(meta, indent=1) + "\n").encode())
    return meta


def plot_examples(out_png: str | Path, n: int = 4, seed: int = 0, hr_size: int = 256) -> None:
    """Save a figure of n pairs, one row each: LR | HR on the same extent and one colour scale per row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n, 2, figsize=(9, 4.3 * n), squeeze=False)
    extent = (0, hr_size, hr_size * DT_HR * 1000, 0)  # traces, ms
    for i in range(n):
        lr, hr, s = draw_pair(seed, i, hr_size)
        clip = np.percentile(np.abs(hr), 99)
        w, g, nz = s["wavelets"], s["geology"], s["noise"]
        faults = "+".join(f["kind"][0] for f in g["faults"]) or "none"
        extras = [g["channel"]["kind"]] if g["channel"] else []
        extras += ["unconformity"] if g["unconformity"] else []
        for ax, section, title in (
                (axes[i, 0], lr, f"{i}: LR  noise {nz['level']:.0%}  spikes {nz['spikes']}  dead {len(nz['dead'])}"
                                 f"{'  roll' if nz['ground_roll'] else ''}{'  swell' if nz['swell'] else ''}"),
                (axes[i, 1], hr, f"HR  {w['phase']} {w['hr'][3]:.0f}/{w['lr'][3]:.0f} Hz  faults {faults}"
                                 f"  {' '.join(extras)}")):
            ax.imshow(section, cmap="seismic", vmin=-clip, vmax=clip, extent=extent, aspect="auto",
                      interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("HR trace", fontsize=7)
            ax.set_ylabel("time (ms)", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (must hold no .dat files)")
    parser.add_argument("--n", type=int, default=64, help="number of pairs")
    parser.add_argument("--seed", type=int, default=7, help="pair i comes from default_rng([seed, i])")
    parser.add_argument("--hr-size", type=int, default=256, help="HR side in samples (even); LR is half")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.n < 1 or args.hr_size < 16 or args.hr_size % 2:
        print(f"error: need --n >= 1 and an even --hr-size >= 16, got {args.n} and {args.hr_size}", file=sys.stderr)
        return 1
    if out.is_dir() and any(out.rglob("*.dat")):
        print(f"error: {out} already holds .dat files; choose an empty --out folder or remove them", file=sys.stderr)
        return 1
    print(f"settings: n={args.n} seed={args.seed} HR {args.hr_size}x{args.hr_size} at {DT_HR * 1000:g} ms, "
          f"LR {args.hr_size // 2}x{args.hr_size // 2} at {2 * DT_HR * 1000:g} ms")
    print(f"writing {out / 'nx2'} (LR) and {out / 'sx'} (HR)")
    start = time.perf_counter()
    meta = write_pairs(out, args.n, args.seed, args.hr_size, progress=True)
    pairs = meta["pairs"]
    print(f"wrote {args.n} pairs and {out / 'meta.json'} in {time.perf_counter() - start:.1f} s")
    print(f"drawn: faults {sum(len(p['geology']['faults']) for p in pairs)}, "
          f"channels/lenses {sum(p['geology']['channel'] is not None for p in pairs)}, "
          f"unconformities {sum(p['geology']['unconformity'] is not None for p in pairs)}, "
          f"mean LR noise {np.mean([p['noise']['level'] for p in pairs]):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
