"""Predict HR sections with a trained model (EMA weights). Home of the inference pipeline.

    python sample.py [--config PARTIAL.yaml] [section.key=value ...]
    sampling.input=test       held-out pairs of split.json -> run.dir/samples/<stem>_pred.dat
    sampling.input=val        validation pairs -> run.dir/samples_val/ (eval.py fits the std calibration there)
    sampling.input=field      sections in data.field_dir   -> run.dir/field/<name>_<2A>x<2B>_pred.dat
                              (a SEG-Y section: and/or <name>_pred.sgy with its headers, sampling.segy_output)
    sampling.input=roundtrip  field sections degraded by roundtrip.*, then super-resolved
                              -> run.dir/roundtrip/<name>_input.dat, <name>_pred.dat, degradation.json
With sampling.num_samples = K > 1 the prediction is the mean of K samples and <..>_std.dat
holds their standard deviation (same shape and units).

train.py's validation, eval.py, the notebooks and the benchmarks predict through `super_resolve`
(normalise -> condition -> DDIM, tiled when large -> denormalise), so a section is always
normalised and conditioned exactly as in training.
"""
from __future__ import annotations

import copy
import json
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from datasets.condition import upsample
from datasets.dat_io import (field_interval, field_name, is_segy, list_field_files, read_dat, read_field,
                             read_segy_field, write_dat)
from datasets.degrade import add_bad_data, forward_model, signal_band_edge
from datasets.heldout import load_heldout
from datasets.input_guard import guarded
from datasets.noise_level import white_noise_variance
from datasets.normalize import clip_for, denormalize, normalize, section_stats
from datasets.segy_io import SegySection, describe, read_segy, to_input_grid, write_segy_x2
from datasets.spectrum_floor import spectrum_floored
from datasets.synthetic import make_pair
from diffusion.ddim import per_sample_noise, sample_ddim
from diffusion.guidance import consistency_guidance
from diffusion.schedule import make_schedule, sampling_gammas
from diffusion.tiling import NetFn, tiled
from models.build import build_network
from utils.atomic import atomic_write_bytes
from utils.checkpoint import checkpoint_path, differing_keys, load_checkpoint, mixed_weights
from utils.cli import run_main
from utils.config import Config, config_from_dict
from utils.errors import DataError
from utils.metrics import compare_to_targets
from utils.spectra import filter_time
from utils.plots import plot_sample_grid
from utils.run_folder import held_out_notice, prepare_run_dir, record_run, refuse_input_folders
from utils.runtime import autocast, pick_device, seed_everything

Predict = Callable[..., list[np.ndarray]]  # predict(sections, names, progress=None, sources=None, weights=None, own=None)


# ---- The inference pipeline ------------------------------------------------------------------

def file_seed(base_seed: int, name: str, sample: int = 0) -> int:
    """Return the seed of sample k of a file: it depends on the base seed, the name and k, never on batching.

    Sample 0 has the seed a single-sample run uses, so K = 1 reproduces it.
    """
    key = name if sample == 0 else f"{name}/sample{sample}"
    return (base_seed * 1_000_003 + zlib.crc32(key.encode())) % (2**63)


def sample_noise_keys(base_seed: int, name: str, k: int, antithetic: bool) -> tuple[list[int], list[float]]:
    """Return the seeds and signs of a file's K samples (per_sample_noise).

    Antithetic: odd sample j replays sample j - 1's noise negated. A sample is a function F of
    its noise (the start, and every step's with eta > 0), and the pair's mean is the even part of F: its linear part,
    which carries much of the spread between samples, cancels, so the mean of K is closer to the
    mean of many. Each sample alone is still an exact draw of the sampler (noise -> -noise keeps
    N(0, I)), so K = 1 and sample 0 are unchanged.
    """
    pairs = [(j - 1, -1.0) if antithetic and j % 2 else (j, 1.0) for j in range(k)]
    return [file_seed(base_seed, name, j) for j, _ in pairs], [sign for _, sign in pairs]


def make_net_fn(net: torch.nn.Module, device: torch.device, precision: str) -> NetFn:
    """Return net as a float32-in, float32-out function running under the configured autocast."""
    def net_fn(x_t, cond, s):
        with autocast(device, precision):
            return net(x_t, cond, s).float()
    return net_fn


def chunked(net_fn: NetFn, batch: int) -> NetFn:
    """Return a net_fn that calls net_fn on at most `batch` images at a time (memory and CPU speed)."""
    def net_fn_chunked(x_t, cond, s):
        if x_t.shape[0] <= batch:
            return net_fn(x_t, cond, s)
        return torch.cat([net_fn(x_t[i:i + batch], cond[i:i + batch], s[i:i + batch])
                          for i in range(0, x_t.shape[0], batch)])
    return net_fn_chunked


def group_sections(sections: list[np.ndarray], per_group: int, needs_tiles: Callable[[np.ndarray], bool]) -> list[list[int]]:
    """Return lists of indices sampled together: equal-shape sections needing no tiles, up to per_group each."""
    order = sorted(range(len(sections)), key=lambda i: (needs_tiles(sections[i]), sections[i].shape))
    groups: list[list[int]] = []
    for i in order:
        first = sections[groups[-1][0]] if groups else None
        if first is not None and not needs_tiles(sections[i]) and not needs_tiles(first) \
                and len(groups[-1]) < per_group and first.shape == sections[i].shape:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


FLIPS = ((), (-2,), (-1,), (-2, -1))  # none, time, trace, both: the axes flipped for sample k % 4


def flip_samples(x: torch.Tensor, k: int) -> torch.Tensor:
    """Return x (B K, 1, H, W), K samples per section side by side, with sample j flipped by FLIPS[j % 4].

    Its own inverse: applied to the flipped conditions it gives the conditions back, and applied to
    what was sampled from them it puts every sample back on the input's grid.
    """
    return torch.stack([item.flip(FLIPS[n % k % 4]) if FLIPS[n % k % 4] else item for n, item in enumerate(x)])


def sample_group(net_fn: NetFn, cond: torch.Tensor, seeds: list[int], cfg: Config, gammas: torch.Tensor,
                 signs: list[float] | None = None) -> torch.Tensor:
    """Return x0 for the conditions (B, 1, H, W), one seed (and noise sign) per item: DDIM samples, or one regression pass.

    With diffusion.target = residual the network models HR - cond and cond is added back here.
    """
    residual = cfg.diffusion.target == "residual"
    if cfg.model.objective == "regression":
        x0 = net_fn(torch.zeros_like(cond), cond, torch.zeros(cond.shape[0], device=cond.device))
        return x0 + cond if residual else x0
    s = cfg.sampling
    mode = cfg.data.upsample_modes[0]
    x0_fn = consistency_guidance(cond, s.guidance, s.guidance_cutoff, lambda x: upsample(x, mode),
                                 offset=cond if residual else None) if s.guidance > 0 else None
    x0 = sample_ddim(net_fn, cond, gammas, eta=s.eta, randn=per_sample_noise(seeds, cond.device, signs),
                     clip_x0=s.clip_x0, x0_fn=x0_fn)
    return x0 + cond if residual else x0


def super_resolve(net_fn: NetFn, sections: list[np.ndarray], names: list[str], cfg: Config,
                  gammas: torch.Tensor, device: torch.device, progress: Callable[[int], None] | None = None,
                  sources: list[str] | None = None) -> list[np.ndarray]:
    """Return, per LR section (h, w), its K = sampling.num_samples HR samples (K, 2h, 2w) in the input's units.

    names seed each section's noise; sources (default: names) name the sections in errors, e.g.
    by file path. Settings come from cfg.data (normalisation, condition), cfg.model and
    cfg.diffusion (objective, target) and cfg.sampling (K, flips, antithetic, eta, guidance, seed, batch, tiles).
    A regression gives one pass (K = 1) unless sampling.flips makes its K passes differ.
    Equal-shape sections that need no tiles share network calls; at most sampling.batch_size
    images go through the network at once.
    """
    s = cfg.sampling
    k = 1 if cfg.model.objective == "regression" and not s.flips else s.num_samples
    clip = clip_for(cfg.data.normalization, cfg.data.zscore_clip)
    needs_tiles = lambda lr: s.tile_size > 0 and max(lr.shape) * 2 > s.tile_size  # noqa: E731
    fn = chunked(net_fn, s.batch_size)
    results: list[np.ndarray | None] = [None] * len(sections)
    for group in group_sections(sections, max(1, s.batch_size // k), needs_tiles):
        stats = [section_stats(sections[i], cfg.data.normalization, (sources or names)[i]) for i in group]
        lr_n = torch.stack([torch.from_numpy(normalize(sections[i], st, clip)) for i, st in zip(group, stats)])
        cond = upsample(lr_n[:, None], cfg.data.upsample_modes[0]).to(device)  # (B, 1, 2h, 2w)
        cond = cond.repeat_interleave(k, dim=0)  # (B K, 1, 2h, 2w): the K samples of a section side by side
        cond = flip_samples(cond, k) if s.flips else cond
        group_fn = tiled(fn, s.tile_size, s.tile_overlap, s.batch_size) if needs_tiles(sections[group[0]]) else fn
        keys = [sample_noise_keys(s.seed, names[i], k, s.antithetic) for i in group]
        seeds, signs = [x for seed, _ in keys for x in seed], [x for _, sign in keys for x in sign]
        x0 = sample_group(group_fn, cond, seeds, cfg, gammas, signs)
        x0 = (flip_samples(x0, k) if s.flips else x0).view(len(group), k, *cond.shape[-2:])
        for n, (i, st) in enumerate(zip(group, stats)):
            results[i] = denormalize(x0[n].cpu().numpy(), st)
            if progress:
                progress(1)
    return results


def with_sampling(cfg: Config, **changes) -> Config:
    """Return a copy of cfg whose sampling section has the given keys changed (e.g. steps=10, eta=0.0)."""
    cfg = copy.deepcopy(cfg)
    for key, value in changes.items():
        if not hasattr(cfg.sampling, key):
            raise AttributeError(f"sampling has no key {key!r}")
        setattr(cfg.sampling, key, value)
    return cfg


def match_time_spectrum(mean: np.ndarray, samples: np.ndarray, strength: float) -> np.ndarray:
    """Return mean (time, trace) filtered along time toward the K samples' (K, time, trace) spectrum.

    One zero-phase gain per time frequency, the same for every trace: the ratio of the samples'
    average amplitude spectrum (mean |FFT| over traces, as utils.metrics measures it) to the
    mean's, raised to `strength`: 0 leaves the mean alone, 1 gives it the samples' spectrum, 0.5
    goes half way in dB. Averaging samples cancels every detail they disagree on, so the mean's
    spectrum falls below the samples' (never above: |mean of FFTs| <= mean of |FFT|s), most where
    the model is least sure; the gain puts that energy back in the mean's own phase.
    """
    if strength == 0 or len(samples) < 2:
        return mean
    spectrum = lambda x: np.abs(np.fft.rfft(x, axis=-2)).mean(axis=-1)  # noqa: E731
    of_samples, of_mean = spectrum(samples).mean(axis=0), spectrum(mean)
    ratio = np.where(of_mean > 1e-12 * max(of_samples.max(), 1e-300), of_samples / np.maximum(of_mean, 1e-300), 1.0)
    gain = np.maximum(ratio, 1.0) ** strength
    return filter_time(mean, gain).astype(mean.dtype)


def mean_and_std(samples: np.ndarray, smoothing: float = 0.0, spectral_match: float = 0.0,
                 own: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the prediction (2h, 2w) from K samples (K, 2h, 2w), and their std (None when K = 1).

    The prediction is the samples' mean, its time spectrum moved toward theirs by spectral_match
    (match_time_spectrum; 0: the plain mean). The std is the root mean square distance of the
    model's own samples (own, (K, 2h, 2w); default: the samples themselves) from the samples'
    plain mean. When the self-check, the guard or the floor moved the samples, own are the
    model's draws before that: the moved samples agree with each other where they were pulled
    to the input, although the truth is no nearer (docs/BENCHMARKS.md section 9a), so the std is
    the model's spread plus how far the written mean moved from the model's. smoothing > 0 pools
    the variance over neighbouring pixels (a Gaussian of that sigma, in output samples) before
    the square root: with K = 4 each pixel's own variance rests on 3 degrees of freedom, too few
    for its tails, and the posterior spread varies slowly.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) == 1:
        return samples[0].astype(np.float32), None
    mean = samples.mean(axis=0)
    spread = samples if own is None else np.asarray(own, dtype=np.float64)
    if spread.shape != samples.shape:
        raise ValueError(f"own samples of shape {spread.shape} do not match the samples' {samples.shape}")
    variance = ((spread - mean) ** 2).mean(axis=0)
    if smoothing > 0:
        variance = gaussian_filter(variance, smoothing, mode="reflect")
    prediction = match_time_spectrum(mean, samples, spectral_match)
    return prediction.astype(np.float32), np.sqrt(variance).astype(np.float32)


def combined(samples: np.ndarray, s, own: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return mean_and_std of K samples (and the model's own, see there) under the sampling settings s,
    the std multiplied by s.std_scale."""
    mean, std = mean_and_std(samples, s.std_smoothing, s.spectral_match, own)
    return mean, None if std is None else (std * s.std_scale).astype(np.float32)


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


@dataclass
class TrainedModel:
    net: torch.nn.Module  # in eval mode, on the device
    cfg: Config  # the caller's config with the checkpoint's trained settings
    step: int  # optimiser steps it was trained for
    field_sections: list[str]  # field sections (file stems) it was trained on; reported apart
    mixed_with: str = ""  # the checkpoint whose weights were mixed in (sampling.mix_share), if any


def mix_partner(cfg: Config, path: Path, stored: Config) -> Path:
    """Return the checkpoint sampling.mix_share mixes in: sampling.mix_checkpoint, else the run's own start."""
    partner = cfg.sampling.mix_checkpoint or stored.train.init_from
    if not partner:
        raise DataError(f"sampling.mix_share: checkpoint '{path}' was not started from another one (its "
                        f"train.init_from is empty); name the checkpoint to mix in with sampling.mix_checkpoint")
    return Path(partner)


def load_model(cfg: Config, device: torch.device) -> TrainedModel:
    """Return the trained network of sampling.checkpoint (default run.dir/checkpoints/last.pt) and its settings.

    EMA weights unless sampling.use_ema is false; checkpoints of earlier versions load too. With
    sampling.mix_share > 0 the weights are mixed with those of another checkpoint of the same network
    (mix_partner) before they are loaded.
    """
    path = checkpoint_path(cfg)
    state = load_checkpoint(path, map_location=device)
    stored = config_from_dict(state["config"])
    weights_key = "ema" if cfg.sampling.use_ema else "model"
    weights, partner = state[weights_key], None
    if cfg.sampling.mix_share > 0:
        partner = mix_partner(cfg, path, stored)
        other = load_checkpoint(partner, map_location=device)
        if other["model_args"] != state["model_args"]:
            raise DataError(f"sampling.mix_checkpoint: '{partner}' holds another network than '{path}' "
                            f"(model arguments {other['model_args']} vs {state['model_args']})")
        theirs, ours = other["config"].get("diffusion", {}), state["config"].get("diffusion", {})
        differing = differing_keys(theirs, ours)
        if differing:  # the same network trained to predict another thing: a mix would predict neither
            shown = ", ".join(f"diffusion.{key}: {theirs.get(key)!r} vs {ours.get(key)!r}" for key in differing)
            raise DataError(f"sampling.mix_checkpoint: '{partner}' was trained with other diffusion settings "
                            f"than '{path}' ({shown})")
        weights = mixed_weights(weights, other[weights_key], cfg.sampling.mix_share)
    try:
        net = build_network(state["model_args"])
        net.load_state_dict(weights)
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        raise DataError(f"checkpoint '{path}' does not match its own model arguments "
                        f"({str(err).splitlines()[0][:120]})") from None
    return TrainedModel(net=net.to(device).eval().requires_grad_(False), cfg=trained_settings(cfg, stored),
                        step=state["step"], field_sections=list(state.get("field_sections", [])),
                        mixed_with=str(partner or ""))


def make_predictor(cfg: Config, net: torch.nn.Module, device: torch.device) -> Predict:
    """Return predict(sections, names, progress=None, sources=None, weights=None, own=None) -> K samples per section.

    own (a dict), when given, receives each section's samples as the model drew them, before
    any of the steps below moved them (by name): mean_and_std takes the std from those.
    Settings come from cfg. With sampling.self_blend every section's samples are pulled toward
    its interpolated input by the section's self-check weight (self_blended), which is stored
    in `weights` (a dict, by name) when one is given; then sampling.input_guard > 0 keeps them
    near the input where it holds signal well above its noise (datasets.input_guard), with the
    input's amplitude raised to theirs first when sampling.input_guard_amplitude is prediction;
    last, sampling.spectrum_floor > 1 lifts their time spectrum toward the interpolated input's
    where it falls below (datasets.spectrum_floor).
    """
    gammas = sampling_gammas(make_schedule(cfg.diffusion), cfg.sampling.steps, cfg.sampling.spacing)
    net_fn = make_net_fn(net, device, cfg.train.precision)

    def predict(sections, names, progress=None, sources=None, weights=None, own=None):
        run = lambda lrs, ids, bar=None: super_resolve(net_fn, lrs, ids, cfg, gammas, device, bar, sources)  # noqa: E731
        samples = drawn = run(sections, names, progress)
        if own is not None:
            own.update(zip(names, drawn))
        if cfg.sampling.self_blend:
            samples = self_blended(run, sections, names, cfg, weights=weights, samples=drawn)
        if cfg.sampling.input_guard > 0:
            samples = [guarded(k, x, cfg.sampling.input_guard, cfg.data.upsample_modes[0],
                               cfg.sampling.input_guard_amplitude == "prediction", cfg.sampling.noise_from_rows,
                               cfg.sampling.input_guard_cells)
                       for k, x in zip(samples, sections)]
        if cfg.sampling.spectrum_floor > 1:
            samples = [spectrum_floored(k, x, cfg.sampling.spectrum_floor, cfg.data.upsample_modes[0])
                       for k, x in zip(samples, sections)]
        return samples
    return predict


def earlier_self_blend(out_dir: Path) -> dict:
    """Return the self-check weights already in out_dir/self_blend.json (a resumed run keeps them), or {}."""
    try:
        return json.loads((out_dir / "self_blend.json").read_text())
    except (OSError, ValueError):
        return {}


def write_self_blend(out_dir: Path, weights: dict) -> None:
    """Write out_dir/self_blend.json, the self-check weight of every section predicted so far (none: no file)."""
    if weights:
        atomic_write_bytes(out_dir / "self_blend.json", json.dumps(weights, indent=1, sort_keys=True).encode())


# ---- Self-check: how much of the model's detail survives one more octave down -------------------

def blend_weight(target: np.ndarray, pred: np.ndarray, interpolated: np.ndarray) -> float:
    """Return w in [0, 1] minimising ||interpolated + w (pred - interpolated) - target||^2.

    1: the model's departure from interpolation explains the target; 0: it does not help at all.
    """
    detail = (np.asarray(pred, dtype=np.float64) - interpolated).ravel()
    wanted = (np.asarray(target, dtype=np.float64) - interpolated).ravel()
    return float(np.clip(detail @ wanted / max(detail @ detail, 1e-300), 0.0, 1.0))


def band_index(n_time: int, input_edge: float, edges: list[float]) -> np.ndarray:
    """Return the band (0 .. len(edges)) of every time-frequency bin of an n_time-long output grid.

    Bands are measured in units of the SR input's own band edge (input_edge, a fraction of the
    input's Nyquist, so input_edge / 2 of the output's): 1 is where the input's band ends, so a
    self-check one octave down and the prediction itself fill the same bands.
    """
    relative = np.arange(n_time // 2 + 1) / max(n_time // 2, 1) / (input_edge / 2)
    return np.searchsorted(np.asarray(edges, dtype=np.float64), relative, side="right")


def band_products(a: np.ndarray, b: np.ndarray, band: np.ndarray, n_bands: int) -> np.ndarray:
    """Return per band the inner product of a and b (time, trace) over that band's time frequencies (band: per rfft bin)."""
    products = np.real(np.conj(np.fft.rfft(a, axis=0)) * np.fft.rfft(b, axis=0)).sum(axis=1)
    return np.bincount(band, weights=products, minlength=n_bands)[:n_bands]


def band_blend_weights(target: np.ndarray, pred: np.ndarray, interpolated: np.ndarray, input_edge: float,
                       edges: list[float], discount: np.ndarray | None = None) -> list[float]:
    """Return per band (band_index) the least-squares weight in [0, 1] of pred's departure from interpolation.

    The bands are orthogonal in time frequency, so each weight is fitted on its own: blend_weight
    band by band, with discount (one value per band, or None) subtracted from each band's
    correlation. A band where pred departs nowhere gets weight 0.
    """
    interpolated = np.asarray(interpolated, dtype=np.float64)
    detail = np.asarray(pred, dtype=np.float64) - interpolated
    wanted = np.asarray(target, dtype=np.float64) - interpolated
    band = band_index(detail.shape[0], input_edge, edges)
    energy = band_products(detail, detail, band, len(edges) + 1)
    correlation = band_products(detail, wanted, band, len(edges) + 1) - (0.0 if discount is None else discount)
    floor = 1e-12 * float(energy.sum()) + 1e-300  # below it a band holds rounding, not detail
    return [float(np.clip(c / e, 0.0, 1.0)) if e > floor else 0.0 for c, e in zip(correlation, energy)]


def apply_band_weights(detail: np.ndarray, input_edge: float, edges: list[float], weights: list[float]) -> np.ndarray:
    """Return detail (..., time, trace) with each time-frequency band scaled by its weight."""
    return filter_time(detail, np.asarray(weights)[band_index(detail.shape[-2], input_edge, edges)])


# The cautious self-check's second recipe (sampling.self_blend_aliased): plain x2 decimation without the
# anti-alias filter and 5 % white noise (recipe I of benchmarks/recipes.py); other keys as roundtrip.*.
ALIASED_SELF_CHECK = {"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0}


def self_check_recipes(cfg: Config) -> list:
    """Return the forward models the self-check degrades each input by: roundtrip.*, and with
    sampling.self_blend_aliased also an aliased plain decimation (ALIASED_SELF_CHECK)."""
    recipes = [cfg.roundtrip]
    if cfg.sampling.self_blend_aliased:
        recipes.append(replace(cfg.roundtrip, **ALIASED_SELF_CHECK))
    return recipes


def self_checks(run: Callable, sections: list[np.ndarray], names: list[str], cfg: Config, recipe) -> list:
    """Return per section (the input degraded once more by recipe, that interpolated, run's mean prediction from it).

    The last two are on the input's grid (time, trace), float64.
    """
    mode = cfg.data.upsample_modes[0]
    coarser = [degrade_for_roundtrip(x, f"{n}/self-check", recipe)[0] for x, n in zip(sections, names)]
    checks = run(coarser, [f"{n}/self-check" for n in names])
    return [(y, upsample(y, mode).numpy().astype(np.float64), combined(check, cfg.sampling)[0].astype(np.float64))
            for y, check in zip(coarser, checks)]


NOISE_PROBE_STREAM = 2  # the noise discount's probe draws from (sampling.seed, name, this)
NOISE_PROBE_STEP = 0.5  # the probe's size, in units of the input's estimated noise std


def noise_discounts(run: Callable, sections: list[np.ndarray], names: list[str], cfg: Config, recipe,
                    checks: list, bands: list[np.ndarray], n_bands: int) -> list[np.ndarray]:
    """Return per section and band the part of the self-check's fit to the input that the input's own noise explains.

    The self-check fits its detail d(y) (prediction minus interpolation, from the input degraded
    once more) against the input y = clean + noise, and a detail that removes part of the input's
    noise correlates with that noise, so a noisy section makes the model's denoising look wrong.
    For white noise of variance s2, Stein's lemma gives the expected correlation as s2 times the
    divergence of d, estimated by one random probe z: s2 <z, d(y + h z) - d(y)> / h, band by band.
    s2 is the input's white-noise variance (datasets.noise_level). checks: self_checks' output;
    bands: per section, the band of every rfft bin. The probe costs one more self-check pass.
    """
    variances = [white_noise_variance(x, cfg.sampling.noise_from_rows) for x in sections]
    steps = [NOISE_PROBE_STEP * np.sqrt(v) for v in variances]
    probes = [np.random.default_rng([cfg.sampling.seed, zlib.crc32(n.encode()), NOISE_PROBE_STREAM]).standard_normal(x.shape)
              for x, n in zip(sections, names)]
    moved = self_checks(run, [(x + h * z).astype(np.float32) for x, h, z in zip(sections, steps, probes)], names, cfg, recipe)
    out = []
    for (_, back, pred), (_, back_moved, pred_moved), z, h, s2, band in zip(checks, moved, probes, steps, variances, bands):
        change = (pred_moved - back_moved) - (pred - back)
        out.append(s2 * band_products(z[:back.shape[0], :back.shape[1]], change / h, band, n_bands) if h > 0
                   else np.zeros(n_bands))
    return out


def self_check_weights(run: Callable, sections: list[np.ndarray], names: list[str], cfg: Config, recipe) -> list:
    """Return each section's self-check weight (a float, or one per band with sampling.self_blend_bands) under recipe.

    The input is degraded once more by recipe (an octave down), super-resolved back by run, and the
    weight is the blend_weight (band_blend_weights) of that prediction against the input itself;
    with sampling.self_blend_noise, less the part of the fit that the input's own noise explains
    (noise_discounts).
    """
    edges = list(cfg.sampling.self_blend_bands)
    checks = self_checks(run, sections, names, cfg, recipe)
    input_edges = [signal_band_edge(y) for y, _, _ in checks]
    bands = [band_index(back.shape[0], edge, edges) for (_, back, _), edge in zip(checks, input_edges)]  # edges []: one band
    discounts = (noise_discounts(run, sections, names, cfg, recipe, checks, bands, len(edges) + 1)
                 if cfg.sampling.self_blend_noise else [None] * len(sections))
    weights = []
    for x, (y, back, pred), edge, discount in zip(sections, checks, input_edges, discounts):
        target = x[:back.shape[0], :back.shape[1]]
        if not edges and discount is None:
            weights.append(blend_weight(target, pred, back))
            continue
        per_band = band_blend_weights(target, pred, back, edge, edges, discount)
        weights.append(per_band if edges else per_band[0])  # the discount is in band_products' units: one band
    return weights


def self_blended(run: Callable, sections: list[np.ndarray], names: list[str], cfg: Config,
                 progress: Callable[[int], None] | None = None, weights: dict | None = None,
                 samples: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Return run's K samples per section (samples, when they are drawn already), each moved to interpolated + w (sample - interpolated).

    w is the section's self-check (self_check_weights): the input is degraded once more by
    roundtrip.* (an octave down), super-resolved back by the same settings, and w is the
    blend_weight of that prediction against the input itself. A model whose detail does not fit
    the section's own coarser scale is thus trusted less; the std shrinks by the same w. The check
    costs about a quarter of a prediction. It assumes the geology looks alike one octave down and
    that roundtrip.* is how the data were degraded (docs/BENCHMARKS.md section 7 measures when that
    holds). With sampling.self_blend_bands, w is one weight per band of time frequency (band_index:
    bands in units of the input's own band edge), fitted and applied band by band. With
    sampling.self_blend_aliased the check also runs under an aliased plain decimation and each band
    keeps the smaller weight: a lift must fit under both assumptions (section 9g).
    """
    mode, edges = cfg.data.upsample_modes[0], list(cfg.sampling.self_blend_bands)
    per_recipe = [self_check_weights(run, sections, names, cfg, recipe) for recipe in self_check_recipes(cfg)]
    if samples is None:
        samples = run(sections, names, progress)
    out = []
    for i, (x, k_samples, name) in enumerate(zip(sections, samples, names)):
        interpolated = upsample(x, mode).numpy()
        if edges:
            w = [float(v) for v in np.min([found[i] for found in per_recipe], axis=0)]
            blended = interpolated + apply_band_weights(k_samples - interpolated, signal_band_edge(x), edges, w)
        else:
            w = float(min(found[i] for found in per_recipe))
            blended = interpolated + w * (k_samples - interpolated)
        out.append(blended.astype(np.float32))
        if weights is not None:
            weights[name] = w
    return out


def on_input_grid(mean: np.ndarray, std: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return mean and std moved from the model's grid onto the input's (to_input_grid); the std kept >= 0,
    since the half-sample shift may ring slightly below 0."""
    return to_input_grid(mean), None if std is None else np.maximum(to_input_grid(std), 0)


def write_prediction(stem_path: Path, samples: np.ndarray, s, transpose: bool = False,
                     own: np.ndarray | None = None, input_grid: bool = False) -> np.ndarray:
    """Write <stem>_pred.dat (mean) and, for K > 1, <stem>_std.dat and <stem>_sample0.dat; return the mean.

    Sample 0 is what a single-sample run gives (same seed), so eval.py can score one sample
    beside the mean; s.save_samples writes all K. stem_path: the output path without its
    _pred.dat ending; samples (K, time, trace) on the model's grid; s: the sampling settings
    (`combined`); transpose writes (trace, time) arrays; own: the model's samples before the
    self-check, guard and floor moved them (predict's `own`), which the std is taken from;
    input_grid moves every array onto the input's grid first (on_input_grid, to_input_grid).
    """
    orient = (lambda a: a.T) if transpose else (lambda a: a)  # noqa: E731
    move = to_input_grid if input_grid else (lambda a: a)  # noqa: E731
    mean, std = combined(samples, s, own)
    if input_grid:
        mean, std = on_input_grid(mean, std)
    write_dat(stem_path.with_name(stem_path.name + "_pred.dat"), orient(mean))
    if std is not None:
        write_dat(stem_path.with_name(stem_path.name + "_std.dat"), orient(std))
    for k in range(len(samples) if s.save_samples else int(std is not None)):
        write_dat(stem_path.with_name(f"{stem_path.name}_sample{k}.dat"), orient(move(samples[k])))
    return mean


# ---- Held-out test pairs -----------------------------------------------------------------------

def sample_test_set(cfg: Config, predict: Predict, out_dir: Path, part: str = "test") -> None:
    """Predict the held-out pairs of split.json's part ("test" or "val") into out_dir, then draw grid.png.

    Writes <stem>_pred.dat, and for K > 1 <stem>_std.dat and <stem>_sample0.dat (write_prediction).
    """
    held = load_heldout(cfg, part)
    source_dir = cfg.data.lr_dir if cfg.data.source == "pairs" else cfg.data.hr_dir
    paths = [out_dir / f"{s}_pred.dat" for s in held.stems]
    todo = [i for i, p in enumerate(paths) if cfg.sampling.overwrite or not p.exists()]
    if len(todo) < len(paths):
        print(f"{len(paths) - len(todo)} predictions exist already in {out_dir}; "
              f"skipping them (sampling.overwrite=true re-makes them)")
    per_call = max(1, cfg.sampling.batch_size // cfg.sampling.num_samples)
    weights = earlier_self_blend(out_dir)
    with tqdm(total=len(todo), desc="sections", unit="img", file=sys.stdout) as bar:
        for first in range(0, len(todo), per_call):  # written as they are done: an interruption loses little
            chunk = todo[first:first + per_call]
            own = {}
            results = predict([held.lr[i] for i in chunk], [held.stems[i] for i in chunk], bar.update,
                              [str(Path(source_dir) / f"{held.stems[i]}.dat") for i in chunk], weights, own)
            for i, samples in zip(chunk, results):
                write_prediction(out_dir / held.stems[i], samples, cfg.sampling, own=own[held.stems[i]])
            write_self_blend(out_dir, weights)
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


def field_output_paths(out_dir: Path, path: Path, shape: tuple[int, int], trace_major: bool,
                       segy_output: str) -> list[Path]:
    """Return the prediction files written for the field section in path, the .dat (if any) first.

    A SEG-Y input gives out_dir/<stem>_pred.sgy and/or the .dat of field_output_path, as
    segy_output (both | segy | dat) says; other formats always give the .dat.
    """
    dat = field_output_path(out_dir, path, shape, trace_major)
    if not is_segy(path):
        return [dat]
    sgy = Path(out_dir) / f"{path.stem}_pred.sgy"
    return {"both": [dat, sgy], "segy": [sgy], "dat": [dat]}[segy_output]


def write_segy_prediction(stem_path: Path, source: SegySection, samples: np.ndarray, s,
                          own: np.ndarray | None = None) -> None:
    """Write <stem>_pred.sgy (mean), <stem>_std.sgy (K > 1) and optionally the samples with source's headers.

    samples: (K, 2 time, 2 trace) on the model's cell-centred grid; they are moved onto the
    input's grid first (to_input_grid: output sample 2i at input sample i, trace 2j = input trace j).
    source.dt must be known: the files get half of it. s: the sampling settings (`combined`); own:
    as in write_prediction.
    """
    k = len(samples)
    mean, std = on_input_grid(*combined(samples, s, own))
    named = lambda ending: stem_path.with_name(stem_path.name + ending)  # noqa: E731
    write_segy_x2(named("_pred.sgy"), source, mean,
                  f"X2 SUPER-RESOLVED IN TIME AND TRACES, MEAN OF {k} SAMPLE(S) (sample.py)")
    if std is not None:
        write_segy_x2(named("_std.sgy"), source, std,
                      f"STD OF {k} SAMPLES{'' if s.std_scale == 1 else f' X {s.std_scale:g}'} OF THE X2 "
                      f"SUPER-RESOLVED LINE (sample.py)")
    if s.save_samples:
        for j, sample in enumerate(samples):
            write_segy_x2(named(f"_sample{j}.sgy"), source, to_input_grid(sample),
                          f"X2 SUPER-RESOLVED IN TIME AND TRACES, SAMPLE {j} OF {k} (sample.py)")


def sample_field(cfg: Config, predict: Predict, out_dir: Path) -> None:
    """Predict every section in data.field_dir at twice its size, in the file's own orientation.

    Writes field_output_paths(...): for SEG-Y, <stem>_pred.sgy keeps the input's headers (dt
    from field_interval, which must be known) and lies on the input's grid; every .dat lies on
    the grid sampling.field_grid names (input: the same as the .sgy; model: cell-centred). A
    section that cannot be read, normalised or written is reported and skipped; the others are
    still predicted, and a DataError listing the skipped ones is raised at the end.
    """
    files = list_field_files(cfg.data.field_dir)
    if not files:
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no .dat/.npy/.sgy sections")
    skipped, weights = [], earlier_self_blend(out_dir)
    print("field .dat outputs: " + ("output sample 2i and trace 2j at input sample i and trace j (sampling.field_grid: input)"
                                    if cfg.sampling.field_grid == "input" else
                                    "the model's cell-centred grid, output sample k at input position k/2 - 1/4 "
                                    "(sampling.field_grid: model)"))
    for path in tqdm(files, desc="field sections", unit="section", file=sys.stdout):
        try:
            trace_major = cfg.eval.field_transpose.get(path.stem, True)
            source = read_segy_field(path, trace_major) if is_segy(path) else None
            section = source.data if source else read_field(path, trace_major)
            outs = field_output_paths(out_dir, path, section.shape, trace_major, cfg.sampling.segy_output)
            if all(out.exists() for out in outs) and not cfg.sampling.overwrite:
                print(f"{' and '.join(map(str, outs))} exist; skipping (sampling.overwrite=true re-makes them)")
                continue
            if outs[-1].suffix == ".sgy":  # checked before sampling: the output's headers need dt
                dt, dt_source = field_interval(path, cfg.eval)
                source = replace(source, dt=dt)
                print(f"{describe(source)}; dt from {dt_source}, written at {1e3 * dt / 2:g} ms")
            own = {}
            (samples,) = predict([section], [path.stem], sources=[str(path)], weights=weights, own=own)
            write_self_blend(out_dir, weights)
            for out in outs:
                stem_path = out.with_name(out.name[:-len("_pred" + out.suffix)])
                if out.suffix == ".sgy":
                    write_segy_prediction(stem_path, source, samples, cfg.sampling, own[path.stem])
                else:
                    write_prediction(stem_path, samples, cfg.sampling, transpose=not trace_major, own=own[path.stem],
                                     input_grid=cfg.sampling.field_grid == "input")
        except DataError as err:
            print(f"skipped {path.name}: {err}")
            skipped.append(str(err))
            continue
    print(f"wrote {len(files) - len(skipped)} field predictions to {out_dir}")
    if skipped:
        raise DataError(f"{len(skipped)} of {len(files)} field sections were skipped: {'; '.join(skipped)}")


BAD_DATA_STREAM = 1  # the round trip's flaws (roundtrip.dead_trace_rate, ...) draw from (seed, name, this)


def degrade_for_roundtrip(section: np.ndarray, name: str, rt) -> tuple[np.ndarray, dict]:
    """Return (the LR input F(section), what was done) for the round trip; section (time, trace) is cropped to even sizes."""
    reference = section[:section.shape[0] // 2 * 2, :section.shape[1] // 2 * 2]
    rng = np.random.default_rng([rt.seed, zlib.crc32(name.encode())])
    done = forward_model(reference, rng, rt.band_factor, rt.noise_std, rt.colored_noise_std, rt.colored_band,
                         rt.antialias, rt.band_taper, rt.decimation, edge=signal_band_edge(reference),
                         band_factor_bottom=rt.band_factor_bottom, noise_recorded=rt.noise_recorded)
    # The flaws draw from their own generator, so a recipe without them keeps its noise draw.
    lr = add_bad_data(done.lr, np.random.default_rng([rt.seed, zlib.crc32(name.encode()), BAD_DATA_STREAM]),
                      rt.dead_trace_rate, rt.spike_rate, rt.swell_trace_rate, rt.swell_std)
    noise_rms = done.noise_rms if lr is done.lr else float(np.sqrt(np.mean((lr - done.clean_lr) ** 2)))
    return lr.astype(np.float32), {
        "reference_shape": list(reference.shape), "time_cutoff": done.time_cutoff, "noise_rms": noise_rms,
        "band_factor": rt.band_factor, "band_taper": rt.band_taper, "antialias": rt.antialias,
        "decimation": rt.decimation, "depth_cutoffs": done.depth_cutoffs,
        **{key: getattr(rt, key) for key in ("band_factor_bottom", "noise_recorded", "dead_trace_rate", "spike_rate",
                                             "swell_trace_rate", "swell_std")}}


def sample_roundtrip(cfg: Config, predict: Predict, out_dir: Path, trained_on: list[str]) -> None:
    """Degrade every field section with roundtrip.*, super-resolve it, and write input, prediction and degradation.json.

    eval.py eval.input=roundtrip scores the predictions against the original sections.
    """
    files = list_field_files(cfg.data.field_dir)
    if not files:
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no .dat/.npy/.sgy sections")
    record = {"roundtrip": vars(cfg.roundtrip), "field_dir": str(cfg.data.field_dir), "sections": {}}
    weights = earlier_self_blend(out_dir)
    for path in tqdm(files, desc="round trip", unit="section", file=sys.stdout):
        section = read_field(path, cfg.eval.field_transpose.get(path.stem, True))
        lr, done = degrade_for_roundtrip(section, path.stem, cfg.roundtrip)
        write_dat(out_dir / f"{path.stem}_input.dat", lr)
        own = {}
        (samples,) = predict([lr], [path.stem], sources=[str(path)], weights=weights, own=own)
        write_self_blend(out_dir, weights)
        write_prediction(out_dir / path.stem, samples, cfg.sampling, own=own[path.stem])
        record["sections"][path.stem] = {"file": path.name, **done, "trained_on": path.stem in trained_on}
    atomic_write_bytes(out_dir / "degradation.json", json.dumps(record, indent=1).encode())
    print(f"wrote {len(files)} round-trip predictions to {out_dir}; score them with eval.py eval.input=roundtrip")


def synthetic_field_dir(cfg: Config) -> Path:
    """Write the LR of synthetic pair 0 as run.dir/field_synthetic/synthetic_<A>x<B>.dat and return the folder."""
    lr, _ = make_pair(cfg.synthetic.seed, 0, cfg.synthetic, cfg.data.hr_shape)  # lr: (time, trace)
    folder = Path(cfg.run.dir) / "field_synthetic"
    write_dat(folder / f"synthetic_{lr.shape[1]}x{lr.shape[0]}.dat", lr)
    return folder


def read_field_prediction(path: Path, shape: tuple[int, int], trace_major: bool) -> np.ndarray:
    """Return the (2 time, 2 trace) array written at path (.dat or .sgy) for a (time, trace) section of `shape`."""
    time, trace = shape
    if path.suffix == ".sgy":
        data = read_segy(path).data
        if data.shape != (2 * time, 2 * trace):
            raise DataError(f"{path}: {data.shape[1]} traces x {data.shape[0]} samples, expected "
                            f"{2 * trace} x {2 * time} for its input; re-make it with sampling.overwrite=true")
        return data
    if trace_major:
        return read_dat(path, (2 * trace, 2 * time))
    return np.ascontiguousarray(read_dat(path, (2 * time, 2 * trace)).T)


def field_rows(cfg: Config) -> tuple[list[dict], bool]:
    """Return (one row per field section, whether the sections are a synthetic stand-in).

    Each row holds name, section (time, trace), pred (2 time, 2 trace; from the .dat when there
    is one, else from the .sgy), std (or None), dt, the input's time sample interval in s, and
    dt_source, where dt came from (datasets.dat_io.field_interval: SEG-Y header, eval.field_dt
    or the default 2 * eval.dt; printed). When data.field_dir is missing or empty, a synthetic LR
    section stands in. Missing predictions are made first by this script's main (same
    checkpoint and settings as sampling.input=field).
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
        dt, dt_source = field_interval(path, cfg.eval)  # before any sampling: the spectra need it
        outs = field_output_paths(out_dir, path, section.shape, trace_major, cfg.sampling.segy_output)
        inputs.append((path, trace_major, section, outs, dt, dt_source))
    missing = [path.name for path, _, _, outs, _, _ in inputs if not any(out.exists() for out in outs)]
    if missing:
        print(f"no prediction in {out_dir} for {', '.join(missing)}: running sample.py on data.field_dir")
        cfg.sampling.input = "field"
        main(copy.deepcopy(cfg))
    rows = []
    for path, trace_major, section, outs, dt, dt_source in inputs:
        out = next(out for out in outs if out.exists())
        std_path = out.with_name(out.name.replace("_pred.", "_std."))
        print(f"{path.name}: dt {1e3 * dt:g} ms from {dt_source}")
        rows.append({"name": path.stem, "section": section,
                     "pred": read_field_prediction(out, section.shape, trace_major),
                     "std": read_field_prediction(std_path, section.shape, trace_major) if std_path.exists() else None,
                     "dt": dt, "dt_source": dt_source})
    return rows, synthetic


def ensure_roundtrip(cfg: Config) -> bool:
    """Make the round-trip predictions of data.field_dir unless run.dir/roundtrip holds them; return
    False when there is no field section to round-trip."""
    if not list_field_files(cfg.data.field_dir):
        return False
    if not (Path(cfg.run.dir) / OUTPUT_FOLDERS["roundtrip"] / "degradation.json").exists():
        print(f"no round trip in {cfg.run.dir}: running sample.py with sampling.input=roundtrip")
        cfg = copy.deepcopy(cfg)
        cfg.sampling.input = "roundtrip"
        main(cfg)
    return True


# ---- Command line ------------------------------------------------------------------------------

PREDICTION_FILES = ("*_pred.dat", "*_std.dat", "*_sample*.dat", "*_pred.sgy", "*_std.sgy", "*_sample*.sgy",
                    "self_blend.json")
SETTINGS_DECIDING_PREDICTIONS = ("num_samples", "save_samples", "flips", "antithetic", "std_smoothing", "std_scale", "spectral_match",
                                 "self_blend",
                                 "self_blend_aliased", "self_blend_noise", "input_guard",
                                 "input_guard_amplitude", "input_guard_cells", "noise_from_rows", "spectrum_floor",
                                 "self_blend_bands", "steps", "spacing", "eta", "clip_x0", "use_ema", "seed", "guidance",
                                 "guidance_cutoff", "tile_size", "tile_overlap", "segy_output", "field_grid",
                                 "mix_share", "mix_checkpoint")


def prediction_settings(cfg: Config, step: int) -> dict:
    """Return what decides the values and the files of a prediction: checkpoint, its step, sampling keys,
    and the forward models behind its inputs (held-out inputs made by degradation.*) or its self-check
    and round trip (roundtrip.*)."""
    settings = {"checkpoint": str(checkpoint_path(cfg)), "step": step, "model.objective": cfg.model.objective}
    settings.update({f"sampling.{key}": getattr(cfg.sampling, key) for key in SETTINGS_DECIDING_PREDICTIONS})
    if cfg.sampling.self_blend or cfg.sampling.input == "roundtrip":
        settings.update({f"roundtrip.{key}": value for key, value in vars(cfg.roundtrip).items()})
    if cfg.data.source == "degrade" and cfg.sampling.input in ("test", "val"):
        settings.update({f"degradation.{key}": value for key, value in vars(cfg.degradation).items()})
    return settings


def settle_earlier_predictions(cfg: Config, out_dir: Path, settings: dict) -> Config:
    """Return cfg, set to re-make everything when out_dir's predictions came from other settings.

    out_dir/predictions.json records the settings of the predictions there. When they differ (e.g.
    K = 1 then K = 4, or a checkpoint trained further), the earlier prediction files are removed
    first, so no stale mean, std or sample is kept or scored; an interrupted run with the same
    settings still skips what it finished.
    """
    stamp = out_dir / "predictions.json"
    try:
        before = json.loads(stamp.read_text()) if stamp.exists() else None
    except (OSError, ValueError):
        before = {}
    changed = [key for key in settings if before is not None and before.get(key) != settings[key]]
    if changed:
        shown = ", ".join(f"{key} {before.get(key)} -> {settings[key]}" for key in changed[:4])
        print(f"the predictions in {out_dir} were made with other settings ({shown}); removing and re-making them")
        for pattern in PREDICTION_FILES:
            for old in out_dir.glob(pattern):
                old.unlink()
        cfg = with_sampling(cfg, overwrite=True)
    atomic_write_bytes(stamp, json.dumps(settings, indent=1).encode())
    return cfg


OUTPUT_FOLDERS = {"test": "samples", "val": "samples_val", "field": "field", "roundtrip": "roundtrip"}


def main(cfg: Config) -> None:
    """Predict the test split, the field sections or the field round trip, as sampling.input says."""
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed, cfg.run.deterministic)
    model = load_model(cfg, device)
    cfg = model.cfg
    out_dir = Path(cfg.run.dir) / OUTPUT_FOLDERS[cfg.sampling.input]
    refuse_input_folders(out_dir, cfg.data)
    prepare_run_dir(out_dir)
    record_run(cfg, cfg.run.dir, "sample")
    s = cfg.sampling
    how = ("one regression pass" if not s.flips else f"{s.num_samples} regression pass(es)") \
        if cfg.model.objective == "regression" else \
        f"{s.num_samples} sample(s) of {s.steps} {s.spacing}-spaced DDIM steps, eta {s.eta}, guidance {s.guidance}"
    how += ", each on a flipped input (sampling.flips)" if s.flips and s.num_samples > 1 else ""
    how += ", in antithetic pairs (sampling.antithetic)" if s.antithetic and s.num_samples > 1 else ""
    how += (", pulled toward interpolation by a self-check (sampling.self_blend"
            + (f", {len(s.self_blend_bands) + 1} bands" if s.self_blend_bands else "")
            + (", also under aliasing)" if s.self_blend_aliased else ")")) if s.self_blend else ""
    how += (f", kept near the input where it holds signal (sampling.input_guard {s.input_guard:g}, "
            f"reference at the {s.input_guard_amplitude}'s amplitude"
            + (", per frequency-wavenumber cell)" if s.input_guard_cells else ")")) if s.input_guard > 0 else ""
    how += (f", time spectrum lifted toward the interpolated input's by at most {s.spectrum_floor:g} x "
            f"(sampling.spectrum_floor)") if s.spectrum_floor > 1 else ""
    mixed = f", {s.mix_share:g} of them from {model.mixed_with}" if model.mixed_with else ""
    print(f"checkpoint {checkpoint_path(cfg)} (step {model.step}, {'EMA' if s.use_ema else 'raw'} weights{mixed}), "
          f"{how}, device {device}")
    notice = held_out_notice(cfg)
    if notice:
        print(notice)
    cfg = settle_earlier_predictions(cfg, out_dir, prediction_settings(cfg, model.step))
    predict = make_predictor(cfg, model.net, device)
    if s.input in ("test", "val"):
        sample_test_set(cfg, predict, out_dir, s.input)
    elif s.input == "field":
        sample_field(cfg, predict, out_dir)
    else:
        sample_roundtrip(cfg, predict, out_dir, model.field_sections)
    weights = earlier_self_blend(out_dir) if s.self_blend else {}
    if weights:
        print(describe_self_blend(weights) + f"; per section in {out_dir / 'self_blend.json'}")


def describe_self_blend(weights: dict) -> str:
    """Return one line on the self-check weights of all sections: median and range (per band with self_blend_bands)."""
    values = np.array([np.atleast_1d(w) for w in weights.values()], dtype=np.float64)  # (sections, bands)
    per_band = [f"median {np.median(v):.2f}, range {v.min():.2f}-{v.max():.2f}" for v in values.T]
    what = per_band[0] if len(per_band) == 1 else "; ".join(f"band {b}: {text}" for b, text in enumerate(per_band))
    return f"self-check weights (1: the model's detail kept, 0: interpolation) of {len(values)} sections: {what}"


if __name__ == "__main__":
    sys.exit(run_main(main, None, __doc__.splitlines()[1]))
