"""Reading and writing seismic sections: raw float32 .dat, .npy and SEG-Y (through datasets/segy_io.py).

Orientation is decided here and nowhere else:
  on disk   (traces, samples)  trace after trace, C order, little-endian float32, no header;
  in memory (time, trace)      rows are time samples, columns are traces (time runs downwards).
read_* returns memory orientation; write_dat takes memory orientation and transposes back.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from datasets.segy_io import SegySection, read_interval, read_segy
from utils.atomic import atomic_write_bytes
from utils.config import EvalConfig
from utils.errors import DataError

FIELD_NAME = re.compile(r"^(?P<name>.+)_(?P<traces>\d+)x(?P<samples>\d+)$")
SEGY_SUFFIXES = (".sgy", ".segy")
FIELD_SUFFIXES = (".dat", ".npy", *SEGY_SUFFIXES)
DT_HEADER, DT_CONFIG, DT_DEFAULT = "SEG-Y header", "eval.field_dt", "default 2 * eval.dt"  # where dt came from


def read_dat(path: str | Path, shape: tuple[int, int] | list[int]) -> np.ndarray:
    """Return the section in `path` as float32 (time, trace); `shape` is on disk (traces, samples)."""
    path = Path(path)
    traces, samples = shape
    expected = traces * samples * 4
    try:
        size = path.stat().st_size
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    if size != expected:
        raise DataError(f"{path}: {size} bytes, expected {expected} for float32 "
                        f"{traces} traces x {samples} samples")
    on_disk = np.fromfile(path, dtype="<f4").reshape(traces, samples)
    return np.ascontiguousarray(on_disk.T, dtype=np.float32)


def write_dat(path: str | Path, section: np.ndarray) -> None:
    """Write a (time, trace) section as trace-major float32, atomically (temporary file, rename)."""
    path = Path(path)
    on_disk = np.ascontiguousarray(np.asarray(section, dtype="<f4").T)
    atomic_write_bytes(path, on_disk.tobytes())


def field_shape(path: str | Path) -> tuple[int, int]:
    """Return (traces, samples) parsed from a name like kumano2_608x400.dat."""
    match = FIELD_NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: field file names must end in _<traces>x<samples>, "
                        f"e.g. line1_608x400.dat")
    return int(match["traces"]), int(match["samples"])


def field_name(path: str | Path) -> str:
    """Return the name part of <name>_<A>x<B>.<ext> (the whole stem when there is no shape)."""
    match = FIELD_NAME.match(Path(path).stem)
    return match["name"] if match else Path(path).stem


def read_field(path: str | Path, trace_major: bool = True) -> np.ndarray:
    """Return a field section as float32 (time, trace), whatever its format.

    `.dat` takes its shape from the name; `.npy` holds (traces, samples) like .dat; SEG-Y goes
    through read_segy_field. Set trace_major=False for .dat/.npy sections stored (samples, traces).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".dat":
        section = read_dat(path, field_shape(path))
    elif suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"{path}: not a readable .npy file ({err})") from None
        if array.ndim != 2:
            raise DataError(f"{path}: expected a 2D array (traces, samples), got shape {array.shape}")
        section = np.ascontiguousarray(array.T, dtype=np.float32)
    elif suffix in SEGY_SUFFIXES:
        return read_segy_field(path, trace_major).data
    else:
        raise DataError(f"{path}: unsupported field format; use one of {', '.join(FIELD_SUFFIXES)}")
    if not trace_major:
        section = np.ascontiguousarray(section.T)
    if not np.isfinite(section).all():
        raise DataError(f"{path}: contains NaN or Inf values")
    return section


def is_segy(path: str | Path) -> bool:
    """Return whether path names a SEG-Y file (.sgy or .segy)."""
    return Path(path).suffix.lower() in SEGY_SUFFIXES


def read_segy_field(path: str | Path, trace_major: bool = True) -> SegySection:
    """Return the SEG-Y line in path with its headers (segy_io.read_segy); data is float32 (time, trace).

    SEG-Y always stores trace after trace, so trace_major=False (eval.field_transpose) is refused.
    """
    if not trace_major:
        raise DataError(f"{path}: SEG-Y stores trace after trace; remove '{Path(path).stem}' "
                        f"from eval.field_transpose")
    return read_segy(path)


def field_interval(path: str | Path, eval_cfg: EvalConfig) -> tuple[float, str]:
    """Return (time sample interval in s of the field section in path, where it came from).

    The one rule for field dt: a SEG-Y file's own header (DT_HEADER), else eval.field_dt by file
    stem (DT_CONFIG), else 2 * eval.dt (DT_DEFAULT) -- except that a SEG-Y file without an
    interval and without an eval.field_dt entry raises, naming the key to set.
    """
    path, stem = Path(path), Path(path).stem
    given = eval_cfg.field_dt.get(stem)
    if is_segy(path):
        dt = read_interval(path)
        if dt is not None:
            if given is not None and abs(given - dt) > 1e-9:
                print(f"note: {path.name}: using dt {dt * 1e3:g} ms from its SEG-Y header, "
                      f"not eval.field_dt {given * 1e3:g} ms")
            return dt, DT_HEADER
        if given is None:
            raise DataError(f"{path}: the SEG-Y headers give no sample interval; set it in seconds "
                            f"with eval.field_dt, e.g. 'eval.field_dt={{{stem}: 0.002}}'")
    if given is not None:
        return given, DT_CONFIG
    return 2 * eval_cfg.dt, DT_DEFAULT


def list_field_files(folder: str | Path) -> list[Path]:
    """Return the field sections in folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FIELD_SUFFIXES and p.is_file())
