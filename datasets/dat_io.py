"""Reading and writing seismic sections: raw float32 .dat (and .npy, .sgy when segyio is present).

Orientation is decided here and nowhere else:
  on disk   (traces, samples)  trace after trace, C order, little-endian float32, no header;
  in memory (time, trace)      rows are time samples, columns are traces (time runs downwards).
read_* returns memory orientation; write_dat takes memory orientation and transposes back.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from utils.atomic import atomic_write_bytes
from utils.errors import DataError

FIELD_NAME = re.compile(r"^(?P<name>.+)_(?P<traces>\d+)x(?P<samples>\d+)$")
FIELD_SUFFIXES = (".dat", ".npy", ".sgy", ".segy")


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

    `.dat` takes its shape from the name; `.npy` holds (traces, samples) like .dat; SEG-Y is read
    with segyio. Set trace_major=False for sections stored (samples, traces).
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
    elif suffix in (".sgy", ".segy"):
        section = _read_segy(path)
    else:
        raise DataError(f"{path}: unsupported field format; use one of {', '.join(FIELD_SUFFIXES)}")
    if not trace_major:
        section = np.ascontiguousarray(section.T)
    if not np.isfinite(section).all():
        raise DataError(f"{path}: contains NaN or Inf values")
    return section


def _read_segy(path: Path) -> np.ndarray:
    try:
        import segyio
    except ImportError:
        raise DataError(f"{path}: reading SEG-Y needs segyio (pip install segyio)") from None
    with segyio.open(path, ignore_geometry=True) as handle:
        return np.ascontiguousarray(segyio.tools.collect(handle.trace[:]).T, dtype=np.float32)


def list_field_files(folder: str | Path) -> list[Path]:
    """Return the field sections in folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FIELD_SUFFIXES and p.is_file())
