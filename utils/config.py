"""One typed config object, read from configs/config.yaml, a partial YAML on top, then key=value overrides.

Layering: configs/config.yaml holds every key and its default. `--config FILE` may name a
partial YAML whose keys replace those defaults (configs/quick.yaml is one). Dotted overrides
such as `train.max_steps=2` come last; their values are parsed as YAML scalars or lists.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from utils.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "config.yaml"


@dataclass
class RunConfig:
    dir: str  # folder that receives everything a run writes: checkpoints, logs, split, samples, eval
    seed: int  # seed of training randomness (weights, patches, noise)
    device: str  # auto | cpu | cuda | cuda:N
    deterministic: bool  # ask torch for deterministic kernels (slower on GPU)


@dataclass
class DataConfig:
    lr_dir: str  # folder of low-resolution noisy inputs, <stem>.dat, trace-major (traces, samples)
    hr_dir: str  # folder of high-resolution clean targets with the same stems
    field_dir: str  # folder of field sections <name>_<traces>x<samples>.dat (or .npy) for sample.py
    lr_shape: list[int]  # on-disk shape of an LR file: [traces, samples]
    hr_shape: list[int]  # on-disk shape of an HR file: [traces, samples]; must be 2 x lr_shape
    split: list[float]  # fractions of stems for [train, val, test]; must sum to 1
    split_seed: int  # seed of the stem shuffle behind split.json
    source: str  # pairs: read LR from lr_dir | degrade: make LR from HR on the fly (paper's F_cor)
    generate_if_missing: bool  # train.py writes the synthetic set first when lr_dir/hr_dir are empty
    normalization: str  # zscore (clipped at zscore_clip sigma) | minmax (to [-1, 1]); stats from LR only
    zscore_clip: float  # clip normalised values at this many LR standard deviations
    upsample_modes: list[str]  # condition interpolation; training draws among these, inference uses the first
    patch_size: int  # training patch side on the HR grid, in samples
    degrade_fraction: float  # with source = pairs: share of patches whose LR is remade from the HR by the forward model
    field_fraction: float  # share of training patches cut from field sections (self-supervised, forward model)
    field_holdout: list[str]  # field sections (file stems) never trained on; empty: the last one alphabetically
    field_versions: int  # degraded versions of each training field section, drawn once (noise and band vary)
    field_time_stretch: list[float]  # [min, max] factor by which each version's target is sampled more finely in time
    augment: str  # none | flips (time and trace flips) | flips_rot90 (also quarter turns, which swap time and trace)
    workers: int  # background processes that draw training batches (datasets/prefetch.py); 0: the training process itself


@dataclass
class DegradationConfig:
    noise_std: list[float]  # [min, max] std of white noise, as a fraction of the LR signal std
    colored_noise_std: list[float]  # [min, max] std of band-limited noise, fraction of LR signal std
    colored_band: list[float]  # [low, high] pass band of the coloured noise, fraction of Nyquist
    antialias: bool  # low-pass before x2 decimation
    band_factor: list[float]  # [min, max] time band narrowed to this fraction of the section's own band (1: none)
    band_taper: list[float]  # [min, max] share of the cutoff over which the narrowing rolls off (small: sharp)
    plain_fraction: float  # share of inputs made without narrowing the band (pure resampling + noise)
    alias_fraction: float  # share of inputs decimated without the anti-alias filter (antialias: true only)
    samples_fraction: float  # share of inputs decimated by point sampling at the cell centres instead of cell means
    noise_recorded_fraction: float  # share of inputs whose noise passes the anti-alias filter's time response


@dataclass
class RoundTripConfig:
    band_factor: float  # time band narrowed to this fraction of each section's own band (1: plain decimation)
    band_taper: float  # share of the cutoff over which the narrowing rolls off (small: sharp)
    noise_std: float  # white noise std, fraction of the decimated section's std
    colored_noise_std: float  # band-limited noise std, fraction of the decimated section's std
    colored_band: list[float]  # [low, high] pass band of the coloured noise, fraction of the LR Nyquist
    antialias: bool  # low-pass before x2 decimation
    decimation: str  # cells: 2 x 2 cell means | samples: the value at each cell centre | gaussian, bicubic: image
                     # resizers | blur: Gaussian of sigma 1, then point sampling
    seed: int  # noise seed; each section draws from (seed, its name)
    band_factor_bottom: float | None  # band factor at the last sample, reached linearly with depth (None: band_factor)
    noise_recorded: bool  # the noise passes the anti-alias filter's time response, as recorded noise does (quiet near Nyquist)
    dead_trace_rate: float  # share of LR traces set to zero
    spike_rate: float  # share of LR samples replaced by a spike of 2-6 section stds
    swell_trace_rate: float  # share of LR traces that carry low-frequency swell noise
    swell_std: float  # its std, fraction of the decimated section's std


@dataclass
class SyntheticConfig:
    n_pairs: int  # number of LR/HR pairs written by python -m datasets.synthetic
    seed: int  # generator seed; same seed, same files
    dt: float  # HR time sample interval in seconds
    hr_peak_freq: list[float]  # [min, max] Ricker peak frequency of HR sections, Hz
    lr_freq_ratio: list[float]  # [min, max] LR peak frequency as a fraction of HR's
    n_reflectors: list[int]  # [min, max] reflecting interfaces per section
    fold_amplitude: list[float]  # [min, max] fold amplitude in HR samples
    n_faults: list[int]  # [min, max] faults per section
    fault_throw: list[float]  # [min, max] fault throw in HR samples
    noise_std: list[float]  # [min, max] white noise std, fraction of LR signal std
    colored_noise_std: list[float]  # [min, max] band-limited noise std, fraction of LR signal std
    colored_band: list[float]  # [low, high] coloured-noise pass band, fraction of LR Nyquist
    wavelets: list[str]  # wavelet families drawn per section, among SYNTHETIC_WAVELETS
    phase_rotation: list[float]  # [min, max] constant phase rotation of HR and LR wavelets, degrees
    amplitude_decay: list[float]  # [min, max] exponent q of a (t + T/4)^-q amplitude trend, HR and LR
    lateral_amplitude: list[float]  # [min, max] std of the log of a smooth lateral gain, HR and LR
    blocky_fraction: float  # probability that a section's layers come from a blocky impedance log
    thin_bed_std: float  # std of the one-per-sample thin-bed reflection coefficients
    coherent_noise_std: list[float]  # [min, max] LR dipping low-frequency trains, fraction of LR signal std
    spike_rate: list[float]  # [min, max] fraction of LR samples replaced by spikes
    dead_trace_rate: list[float]  # [min, max] fraction of LR traces zeroed or scaled down


SYNTHETIC_WAVELETS = ("ricker", "ormsby", "butterworth")  # zero-phase | zero-phase | minimum phase


@dataclass
class ModelConfig:
    dims: int  # spatial dimensions of the convolutions (2; 3 builds the same net with Conv3d)
    base_channels: int  # channels of the first level
    channel_mults: list[int]  # channel multiplier per level; the net downsamples 2^(levels-1) times
    num_res_blocks: int  # residual blocks per level
    dropout: float  # dropout inside residual blocks
    norm_groups: int  # GroupNorm groups (reduced to a divisor of each width)
    objective: str  # diffusion: conditional diffusion model | regression: the same U-Net predicting HR in one pass


@dataclass
class DiffusionConfig:
    num_steps: int  # T, the number of discrete noise levels
    beta_schedule: str  # linear | cosine
    beta_start: float  # beta_1 of the linear schedule
    beta_end: float  # beta_T of the linear schedule
    loss: str  # l1 | l2, norm of (predicted noise - true noise)
    min_snr: float  # > 0: cap the loss's weight on x0 errors at this SNR (Min-SNR); 0: no cap (paper)
    snr_floor: float  # > 0: weigh x0 errors at least as at this SNR (lifts the noisiest levels); 0: off (paper)
    top_share: float  # share of training draws at the noisiest level t = T, where one DDIM step starts; 0: t uniform (paper)
    eps_skip: bool  # noise predictor carries x_t through a sqrt(1-gamma) skip (models/noise_predictor.py)
    target: str  # x0: diffuse the HR section | residual: diffuse HR minus the upsampled input


@dataclass
class TrainConfig:
    batch_size: int  # patches per step (per process under torchrun)
    lr: float  # Adam learning rate
    warmup_steps: int  # linear learning-rate warm-up
    lr_schedule: str  # constant | cosine: after warm-up, a half cosine from lr down to lr * lr_final at max_steps
    lr_final: float  # cosine only: the rate at max_steps as a fraction of lr
    max_steps: int  # optimiser steps in total
    max_minutes: float  # also stop after this much wall time in one invocation (0: no limit)
    grad_clip: float  # max global grad norm; 0 disables
    ema_decay: float  # EMA of the weights used for validation and sampling
    precision: str  # fp32 | bf16 | fp16 (autocast on CUDA; CPU always runs fp32)
    channels_last: bool  # NHWC memory layout on CUDA
    compile: bool  # torch.compile the network
    log_every: int  # steps between loss log lines
    ckpt_every: int  # steps between checkpoints
    keep_checkpoints: int  # newest step checkpoints kept besides last.pt
    val_every: int  # steps between validation sampling runs; 0 disables
    val_images: int  # held-out images sampled at each validation
    val_steps: int  # DDIM steps used for validation samples
    resume: str  # auto: continue from run.dir/checkpoints/last.pt if present | never
    init_from: str  # checkpoint whose weights start a new run (fine-tuning); empty: random initialisation
    held_out_check: bool  # after fine-tuning on field sections, score it against init_from on the held-out ones


@dataclass
class SamplingConfig:
    input: str  # test | val: held-out pairs | field: sections in data.field_dir | roundtrip: field sections degraded first
    num_samples: int  # K samples per section; the written prediction is their mean, <name>_std.dat their std
    save_samples: bool  # also write the K samples (<name>_sample<k>.dat)
    flips: bool  # sample k is drawn on the input flipped by FLIPS[k % 4] and flipped back (self-ensemble)
    antithetic: bool  # odd sample k uses sample k - 1's noise negated (antithetic pairs: a better mean of K)
    std_smoothing: float  # Gaussian sigma (output samples) over which the K samples' variance is pooled; 0: per pixel
    std_scale: float  # every written std map is multiplied by it (the validation split's fitted scale); 1: as drawn
    spectral_match: float  # the mean of K samples' time spectrum moved toward the samples' (0: plain mean .. 1: theirs, in dB)
    self_blend: bool  # pull each prediction toward interpolation by its self-check weight (roundtrip.* an octave down)
    self_blend_bands: list[float]  # [] one self-check weight; else band edges (x the input's band edge), a weight per band
    self_blend_aliased: bool  # the self-check also under an aliased plain decimation; each band keeps the smaller weight
    self_blend_noise: bool  # the self-check discounts the part of its fit that the input's own noise explains (Stein)
    input_guard: float  # > 0: departure from the input shrunk by 1 / (1 + snr / input_guard) per time frequency; 0: off
    input_guard_amplitude: str  # input: the guard's reference is the input's | prediction: raised to the prediction's amplitude
    input_guard_cells: bool  # the guard also measures the input per frequency-wavenumber cell: free where it holds none
    noise_from_rows: bool  # the guard's floor and the noise discount also measure noise in the rows only noise fills
    spectrum_floor: float  # > 1: time spectrum raised toward the interpolated input's where below, by at most this gain; 0: off
    guidance: float  # weight of the input's low band in every x0 estimate (0: off, 1: replace it)
    guidance_cutoff: float  # band trusted to the input, fraction of the HR Nyquist (both axes)
    steps: int  # L, DDIM steps
    spacing: str  # log | linear | quadratic spacing of the L levels over 1..T
    eta: float  # 0: deterministic DDIM, 1: DDPM-like ancestral noise
    clip_x0: float  # clip the predicted x0 to +-clip_x0 (normalised units); 0 disables
    batch_size: int  # images or tiles per network call
    use_ema: bool  # sample with EMA weights
    seed: int  # base seed; each file gets its own generator derived from it and its name
    tile_size: int  # field tiles on the HR grid, in samples; 0 runs whole sections
    tile_overlap: int  # overlap between neighbouring tiles, in HR samples
    overwrite: bool  # re-make predictions that already exist
    segy_output: str  # SEG-Y field inputs: both (<name>_pred.sgy and .dat) | segy | dat; other inputs give .dat
    field_grid: str  # field .dat outputs: input (output sample 2i at input sample i, as the .sgy) | model (cell-centred)
    grid_files: int  # files shown in the sample grid PNG
    checkpoint: str  # path of the checkpoint; empty means run.dir/checkpoints/last.pt
    mix_share: float  # > 0: the network's weights are (1 - share) x the checkpoint's + share x mix_checkpoint's
    mix_checkpoint: str  # the checkpoint mixed in; empty: the one the run started from (its train.init_from)


@dataclass
class EvalConfig:
    input: str  # test: held-out pairs | roundtrip: field sections degraded and super-resolved by sample.py
    dt: float  # default time sample interval (s) of HR data, for spectra
    field_dt: dict[str, float]  # per-field-file sample interval (s) of the input, by file stem; a SEG-Y header's wins
    field_transpose: dict[str, bool]  # per-field-file: false for sections stored (samples, traces)
    max_freq: float  # upper frequency (Hz) of spectral plots


@dataclass
class Config:
    run: RunConfig
    data: DataConfig
    degradation: DegradationConfig
    roundtrip: RoundTripConfig
    synthetic: SyntheticConfig
    model: ModelConfig
    diffusion: DiffusionConfig
    train: TrainConfig
    sampling: SamplingConfig
    eval: EvalConfig


def _all_keys(raw: dict) -> list[str]:
    return [f"{s}.{k}" for s, sec in raw.items() if isinstance(sec, dict) for k in sec]


def _unknown_key_error(key: str, known: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"{where}: unknown config key '{key}'{hint}")


def _merge(base: dict, layer: dict, where: str) -> None:
    known = _all_keys(base)
    for section, values in (layer or {}).items():
        if section not in base:
            raise _unknown_key_error(section, list(base), where)
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: '{section}' must be a mapping of keys, got {values!r}")
        for key, value in values.items():
            if key not in base[section]:
                raise _unknown_key_error(f"{section}.{key}", known, where)
            base[section][key] = value


def parse_override(text: str) -> tuple[str, str, object]:
    """Split 'section.key=value' into (section, key, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.key=value")
    dotted, raw_value = text.split("=", 1)
    if dotted.count(".") != 1:
        raise ConfigError(f"override '{text}': key must be section.key, e.g. train.max_steps=2")
    section, key = dotted.strip().split(".")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        value = raw_value
    return section, key, value


def _type_name(annotation) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _coerce(value, annotation, key: str):
    """Return value checked against annotation (int is accepted where float is expected)."""
    origin = typing.get_origin(annotation)
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value.strip()):
            return float(value)  # YAML 1.1 (PyYAML) reads 3e-4 as a string
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation in (str, bool):
        if isinstance(value, annotation):
            return value
    elif origin is list:
        (item_type,) = typing.get_args(annotation)
        if isinstance(value, list):
            return [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    elif origin is dict:
        key_type, value_type = typing.get_args(annotation)
        if value is None:
            return {}
        if isinstance(value, dict):
            return {str(k): _coerce(v, value_type, f"{key}.{k}") for k, v in value.items()}
    elif origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
    expected = _type_name(annotation)
    raise ConfigError(f"config key '{key}' expects {expected}, got {value!r}")


def _build(raw: dict, where: str) -> Config:
    hints = typing.get_type_hints(Config)
    sections = {}
    for name, section_type in hints.items():
        values = raw.get(name)
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section '{name}' is missing")
        field_hints = typing.get_type_hints(section_type)
        kwargs = {}
        for key, annotation in field_hints.items():
            if key not in values:
                raise ConfigError(f"{where}: key '{name}.{key}' is missing")
            kwargs[key] = _coerce(values[key], annotation, f"{name}.{key}")
        sections[name] = section_type(**kwargs)
    return Config(**sections)


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config file '{path}' is not valid YAML: {str(err).splitlines()[0]}")
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of sections")
    return data


def load_config(config_path: str | None = None, overrides: list[str] = ()) -> Config:
    """Return the validated Config: defaults, then the optional partial YAML, then overrides."""
    raw = _read_yaml(DEFAULT_CONFIG)
    if config_path and Path(config_path).resolve() != DEFAULT_CONFIG:
        _merge(raw, _read_yaml(Path(config_path)), config_path)
    for text in overrides:
        section, key, value = parse_override(text)
        _merge(raw, {section: {key: value}}, "override")
    cfg = _build(raw, "config")
    validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


# Keys whose meaning changed: (section, key) -> function from the stored value to today's.
LEGACY_VALUES = {("data", "augment"): lambda v: ("flips_rot90" if v else "none") if isinstance(v, bool) else v}
# Keys added later whose absence means a setting other than today's default: what older runs used.
LEGACY_ABSENT = {("diffusion", "min_snr"): 0.0, ("diffusion", "snr_floor"): 0.0}  # the unweighted loss


def config_from_dict(data: dict) -> Config:
    """Rebuild a Config saved by config_to_dict (for example in a checkpoint), also from older versions.

    Keys the stored config lacks take today's defaults (or, for LEGACY_ABSENT keys, the value
    older runs used), keys that no longer exist are dropped, and values whose meaning changed are
    translated (LEGACY_VALUES).
    """
    raw = _read_yaml(DEFAULT_CONFIG)
    for (section, key), value in LEGACY_ABSENT.items():
        if key not in ((data or {}).get(section) or {}):
            raw[section][key] = value
    for section, values in (data or {}).items():
        for key, value in (values if isinstance(values, dict) else {}).items():
            if section in raw and key in raw[section]:
                raw[section][key] = LEGACY_VALUES.get((section, key), lambda v: v)(value)
    return _build(raw, "stored config")


def _choice(key: str, value, options) -> None:
    if value not in options:
        raise ConfigError(f"config key '{key}' must be one of {list(options)}, got {value!r}")


def _check(ok: bool, key: str, expected: str, value) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' must be {expected}, got {value!r}")


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first key whose value is out of range."""
    d, m, df, t, s, syn, deg = (cfg.data, cfg.model, cfg.diffusion, cfg.train, cfg.sampling,
                                cfg.synthetic, cfg.degradation)
    _check(cfg.run.dir.strip() != "", "run.dir", "a folder path", cfg.run.dir)
    _check(cfg.run.device in ("auto", "cpu", "cuda") or cfg.run.device.startswith("cuda:"),
           "run.device", "auto, cpu, cuda or cuda:N", cfg.run.device)
    for key, shape in (("data.lr_shape", d.lr_shape), ("data.hr_shape", d.hr_shape)):
        _check(len(shape) == 2 and min(shape) > 0, key, "two positive sizes [traces, samples]", shape)
    _check(d.hr_shape == [2 * n for n in d.lr_shape], "data.hr_shape", "twice data.lr_shape", d.hr_shape)
    _check(len(d.split) == 3 and min(d.split) >= 0 and abs(sum(d.split) - 1) < 1e-6,
           "data.split", "three non-negative fractions summing to 1", d.split)
    _choice("data.source", d.source, ("pairs", "degrade"))
    _choice("data.normalization", d.normalization, ("zscore", "minmax"))
    _choice("data.augment", d.augment, ("none", "flips", "flips_rot90"))
    _check(0 <= d.degrade_fraction <= 1, "data.degrade_fraction", "in [0, 1]", d.degrade_fraction)
    _check(0 <= d.field_fraction <= 1, "data.field_fraction", "in [0, 1]", d.field_fraction)
    _check(d.field_versions > 0, "data.field_versions", "> 0", d.field_versions)
    _check(len(d.field_time_stretch) == 2 and 1 <= d.field_time_stretch[0] <= d.field_time_stretch[1] <= 4,
           "data.field_time_stretch", "[min, max] with 1 <= min <= max <= 4", d.field_time_stretch)
    _check(len(deg.band_factor) == 2 and 0 < deg.band_factor[0] <= deg.band_factor[1] <= 1,
           "degradation.band_factor", "[min, max] with 0 < min <= max <= 1", deg.band_factor)
    _check(len(deg.band_taper) == 2 and 0 < deg.band_taper[0] <= deg.band_taper[1] <= 1,
           "degradation.band_taper", "[min, max] with 0 < min <= max <= 1", deg.band_taper)
    _check(0 <= deg.plain_fraction <= 1, "degradation.plain_fraction", "in [0, 1]", deg.plain_fraction)
    _check(0 <= deg.alias_fraction <= 1, "degradation.alias_fraction", "in [0, 1]", deg.alias_fraction)
    _check(0 <= deg.samples_fraction <= 1, "degradation.samples_fraction", "in [0, 1]", deg.samples_fraction)
    _check(0 <= deg.noise_recorded_fraction <= 1, "degradation.noise_recorded_fraction", "in [0, 1]",
           deg.noise_recorded_fraction)
    rt = cfg.roundtrip
    _check(0 < rt.band_factor <= 1, "roundtrip.band_factor", "in (0, 1]", rt.band_factor)
    _check(0 < rt.band_taper <= 1, "roundtrip.band_taper", "in (0, 1]", rt.band_taper)
    _check(rt.noise_std >= 0, "roundtrip.noise_std", ">= 0", rt.noise_std)
    _choice("roundtrip.decimation", rt.decimation, ("cells", "samples", "gaussian", "bicubic", "blur"))
    _check(rt.colored_noise_std >= 0, "roundtrip.colored_noise_std", ">= 0", rt.colored_noise_std)
    _check(len(rt.colored_band) == 2 and 0 <= rt.colored_band[0] < rt.colored_band[1] <= 1,
           "roundtrip.colored_band", "[low, high] within [0, 1]", rt.colored_band)
    _check(rt.band_factor_bottom is None or 0 < rt.band_factor_bottom <= 1, "roundtrip.band_factor_bottom",
           "in (0, 1], or null for band_factor throughout", rt.band_factor_bottom)
    for key in ("dead_trace_rate", "spike_rate", "swell_trace_rate"):
        _check(0 <= getattr(rt, key) < 1, f"roundtrip.{key}", "in [0, 1)", getattr(rt, key))
    _check(rt.swell_std >= 0, "roundtrip.swell_std", ">= 0", rt.swell_std)
    _check(d.zscore_clip > 0, "data.zscore_clip", "> 0", d.zscore_clip)
    _check(len(d.upsample_modes) > 0, "data.upsample_modes", "a non-empty list", d.upsample_modes)
    for mode in d.upsample_modes:
        _choice("data.upsample_modes", mode, ("bicubic", "bilinear", "nearest"))
    factor = 2 ** (len(m.channel_mults) - 1)
    _check(d.patch_size > 0 and d.patch_size % max(factor, 2) == 0, "data.patch_size",
           f"a positive multiple of {max(factor, 2)} (the U-Net's downsampling factor)", d.patch_size)
    _check(d.workers >= 0, "data.workers", "0 or more worker processes", d.workers)
    _check(d.patch_size <= min(d.hr_shape), "data.patch_size",
           f"at most the HR image side {min(d.hr_shape)}", d.patch_size)
    for key, pair in (("degradation.noise_std", deg.noise_std),
                      ("degradation.colored_noise_std", deg.colored_noise_std),
                      ("synthetic.noise_std", syn.noise_std),
                      ("synthetic.colored_noise_std", syn.colored_noise_std),
                      ("synthetic.hr_peak_freq", syn.hr_peak_freq),
                      ("synthetic.lr_freq_ratio", syn.lr_freq_ratio),
                      ("synthetic.n_reflectors", syn.n_reflectors),
                      ("synthetic.fold_amplitude", syn.fold_amplitude),
                      ("synthetic.n_faults", syn.n_faults),
                      ("synthetic.fault_throw", syn.fault_throw),
                      ("synthetic.amplitude_decay", syn.amplitude_decay),
                      ("synthetic.lateral_amplitude", syn.lateral_amplitude),
                      ("synthetic.coherent_noise_std", syn.coherent_noise_std),
                      ("synthetic.spike_rate", syn.spike_rate),
                      ("synthetic.dead_trace_rate", syn.dead_trace_rate)):
        _check(len(pair) == 2 and 0 <= pair[0] <= pair[1], key, "[min, max] with 0 <= min <= max", pair)
    for key, band in (("degradation.colored_band", deg.colored_band),
                      ("synthetic.colored_band", syn.colored_band)):
        _check(len(band) == 2 and 0 <= band[0] < band[1] <= 1, key, "[low, high] within [0, 1]", band)
    _check(syn.n_pairs > 0, "synthetic.n_pairs", "> 0", syn.n_pairs)
    _check(syn.dt > 0, "synthetic.dt", "> 0", syn.dt)
    _check(syn.seed >= 0, "synthetic.seed", ">= 0", syn.seed)
    _check(syn.hr_peak_freq[0] > 0, "synthetic.hr_peak_freq", "positive frequencies", syn.hr_peak_freq)
    _check(syn.lr_freq_ratio[0] > 0, "synthetic.lr_freq_ratio", "positive ratios", syn.lr_freq_ratio)
    _check(syn.lr_freq_ratio[1] <= 1, "synthetic.lr_freq_ratio", "at most 1 (LR band no wider than HR's)",
           syn.lr_freq_ratio)
    _check(syn.hr_peak_freq[1] <= 0.25 / syn.dt, "synthetic.hr_peak_freq",
           f"at most half the HR Nyquist, 1 / (4 synthetic.dt) = {0.25 / syn.dt:g} Hz", syn.hr_peak_freq)
    _check(len(syn.wavelets) > 0, "synthetic.wavelets", "a non-empty list", syn.wavelets)
    for name in syn.wavelets:
        _choice("synthetic.wavelets", name, SYNTHETIC_WAVELETS)
    _check(len(syn.phase_rotation) == 2 and -180 <= syn.phase_rotation[0] <= syn.phase_rotation[1] <= 180,
           "synthetic.phase_rotation", "[min, max] degrees with -180 <= min <= max <= 180", syn.phase_rotation)
    _check(0 <= syn.blocky_fraction <= 1, "synthetic.blocky_fraction", "a probability in [0, 1]",
           syn.blocky_fraction)
    _check(syn.thin_bed_std >= 0, "synthetic.thin_bed_std", ">= 0", syn.thin_bed_std)
    for key, pair in (("synthetic.spike_rate", syn.spike_rate), ("synthetic.dead_trace_rate", syn.dead_trace_rate)):
        _check(pair[1] <= 1, key, "fractions in [0, 1]", pair)
    _check(m.dims in (2, 3), "model.dims", "2 or 3", m.dims)
    _check(m.base_channels > 0, "model.base_channels", "> 0", m.base_channels)
    _check(len(m.channel_mults) > 0 and min(m.channel_mults) > 0, "model.channel_mults",
           "a non-empty list of positive integers", m.channel_mults)
    _check(m.num_res_blocks > 0, "model.num_res_blocks", "> 0", m.num_res_blocks)
    _check(0 <= m.dropout < 1, "model.dropout", "in [0, 1)", m.dropout)
    _check(m.norm_groups > 0, "model.norm_groups", "> 0", m.norm_groups)
    _check(df.num_steps > 1, "diffusion.num_steps", "> 1", df.num_steps)
    _choice("diffusion.beta_schedule", df.beta_schedule, ("linear", "cosine"))
    _check(0 < df.beta_start < df.beta_end < 1, "diffusion.beta_end",
           "above diffusion.beta_start, both in (0, 1)", df.beta_end)
    _choice("diffusion.loss", df.loss, ("l1", "l2"))
    _check(df.min_snr >= 0, "diffusion.min_snr", ">= 0 (0 disables the cap)", df.min_snr)
    _check(df.snr_floor >= 0 and (df.min_snr == 0 or df.snr_floor <= df.min_snr), "diffusion.snr_floor",
           ">= 0 and at most diffusion.min_snr when that is set", df.snr_floor)
    _check(0 <= df.top_share < 1, "diffusion.top_share", "in [0, 1) (a share of the training draws)", df.top_share)
    _choice("diffusion.target", df.target, ("x0", "residual"))
    _choice("model.objective", m.objective, ("diffusion", "regression"))
    _check(t.batch_size > 0, "train.batch_size", "> 0", t.batch_size)
    _check(t.lr > 0, "train.lr", "> 0", t.lr)
    _check(t.warmup_steps >= 0, "train.warmup_steps", ">= 0", t.warmup_steps)
    _choice("train.lr_schedule", t.lr_schedule, ("constant", "cosine"))
    _check(0 <= t.lr_final <= 1, "train.lr_final", "in [0, 1] (a fraction of train.lr)", t.lr_final)
    _check(t.max_steps > 0, "train.max_steps", "> 0", t.max_steps)
    _check(t.max_minutes >= 0, "train.max_minutes", ">= 0 (0: no limit)", t.max_minutes)
    _check(t.grad_clip >= 0, "train.grad_clip", ">= 0", t.grad_clip)
    _check(0 <= t.ema_decay < 1, "train.ema_decay", "in [0, 1)", t.ema_decay)
    _choice("train.precision", t.precision, ("fp32", "bf16", "fp16"))
    for key in ("log_every", "ckpt_every"):
        _check(getattr(t, key) > 0, f"train.{key}", "> 0", getattr(t, key))
    _check(t.keep_checkpoints >= 0, "train.keep_checkpoints", ">= 0", t.keep_checkpoints)
    _check(t.val_every >= 0, "train.val_every", ">= 0", t.val_every)
    _check(t.val_images >= 0, "train.val_images", ">= 0", t.val_images)
    _check(1 <= t.val_steps <= df.num_steps, "train.val_steps",
           f"in [1, diffusion.num_steps={df.num_steps}]", t.val_steps)
    _choice("train.resume", t.resume, ("auto", "never"))
    _choice("sampling.input", s.input, ("test", "val", "field", "roundtrip"))
    _choice("eval.input", cfg.eval.input, ("test", "roundtrip"))
    _check(s.num_samples > 0, "sampling.num_samples", "> 0", s.num_samples)
    _check(not s.antithetic or s.num_samples == 1 or s.num_samples % 2 == 0, "sampling.num_samples",
           "1 or even with sampling.antithetic (samples come in pairs)", s.num_samples)
    _check(s.std_smoothing >= 0, "sampling.std_smoothing", ">= 0 (0: per-pixel std)", s.std_smoothing)
    _check(s.std_scale > 0, "sampling.std_scale", "> 0 (1: the std as drawn)", s.std_scale)
    _check(s.input_guard >= 0, "sampling.input_guard", ">= 0 (0: off)", s.input_guard)
    _choice("sampling.input_guard_amplitude", s.input_guard_amplitude, ("input", "prediction"))
    _check(s.spectrum_floor == 0 or s.spectrum_floor >= 1, "sampling.spectrum_floor", "0 (off) or a gain cap >= 1",
           s.spectrum_floor)
    _check(0 <= s.spectral_match <= 1, "sampling.spectral_match", "in [0, 1] (0: the plain mean of the K samples)",
           s.spectral_match)
    _check(not (s.antithetic and s.flips), "sampling.antithetic",
           "false when sampling.flips is true (a flipped partner's noise is not the negative of its own)", s.antithetic)
    _check(0 <= s.guidance <= 1, "sampling.guidance", "in [0, 1]", s.guidance)
    _check(0 < s.guidance_cutoff <= 1, "sampling.guidance_cutoff", "in (0, 1]", s.guidance_cutoff)
    edges = list(s.self_blend_bands)
    _check(all(e > 0 for e in edges) and all(a < b for a, b in zip(edges, edges[1:])), "sampling.self_blend_bands",
           "[] or increasing positive band edges (multiples of the input's band edge), e.g. [0.5, 1.0, 1.67]", edges)
    _check(1 <= s.steps <= df.num_steps, "sampling.steps",
           f"in [1, diffusion.num_steps={df.num_steps}]", s.steps)
    _choice("sampling.spacing", s.spacing, ("log", "linear", "quadratic"))
    _choice("sampling.segy_output", s.segy_output, ("both", "segy", "dat"))
    _choice("sampling.field_grid", s.field_grid, ("input", "model"))
    _check(0 <= s.eta <= 1, "sampling.eta", "in [0, 1]", s.eta)
    _check(s.clip_x0 >= 0, "sampling.clip_x0", ">= 0 (0 disables)", s.clip_x0)
    _check(s.batch_size > 0, "sampling.batch_size", "> 0", s.batch_size)
    _check(s.tile_size == 0 or s.tile_size % max(factor, 2) == 0, "sampling.tile_size",
           f"0 or a multiple of {max(factor, 2)}", s.tile_size)
    _check(s.tile_size == 0 or 0 <= s.tile_overlap < s.tile_size // 2 + 1, "sampling.tile_overlap",
           "in [0, tile_size / 2]", s.tile_overlap)
    _check(s.grid_files >= 0, "sampling.grid_files", ">= 0", s.grid_files)
    _check(0 <= s.mix_share <= 1, "sampling.mix_share", "in [0, 1] (0: the checkpoint's own weights)", s.mix_share)
    _check(cfg.eval.dt > 0, "eval.dt", "> 0", cfg.eval.dt)
    _check(cfg.eval.max_freq > 0, "eval.max_freq", "> 0", cfg.eval.max_freq)
