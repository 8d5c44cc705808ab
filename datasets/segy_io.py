"""SEG-Y in and out for field lines: read one 2D line, write its x2 super-resolved version.

In memory a section is float32 (time, trace) as everywhere else (see datasets/dat_io.py); on disk
SEG-Y stores trace after trace, which segyio hands over as (traces, samples). Only big-endian
files with one textual header are read; the model grid conventions are in to_input_grid.
"""
from __future__ import annotations

import re
import string
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segyio
from segyio import BinField, TraceField

from utils.atomic import atomic_write_with
from utils.errors import DataError
from utils.spectra import shift_half_sample

TEXT_BYTES = 3200  # textual header: 40 lines of 80 characters
HEAD_BYTES = 3600  # textual + 400-byte binary header
FORMAT_NAMES = {1: "IBM float", 2: "int32", 3: "int16", 5: "IEEE float", 6: "float64", 8: "int8"}
READABLE_FORMATS = (1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 16)  # the codes segyio decodes
PLAIN = set(string.ascii_letters + string.digits + " ")
LINE_TAG = re.compile(r"^C\s?\d{1,2}\s?")  # "C 5 ", "C40 " at the start of a text line

# Trace header fields renumbered first + k along the output (output trace k, 0-based).
COUNTERS = (TraceField.TRACE_SEQUENCE_LINE, TraceField.TRACE_SEQUENCE_FILE,
            TraceField.TraceNumber, TraceField.CDP)
# Fields interpolated halfway for inserted traces; a number constant along the line stays as it is.
COORDINATES = (TraceField.SourceX, TraceField.SourceY, TraceField.GroupX, TraceField.GroupY,
               TraceField.CDP_X, TraceField.CDP_Y, TraceField.INLINE_3D, TraceField.CROSSLINE_3D)


@dataclass
class SegySection:
    data: np.ndarray                 # float32 (time, trace)
    dt: float | None                 # sample interval in seconds; None when the file has none
    delay_ms: int                    # delay recording time of the first trace, ms
    text_header: str                 # 3200 characters, 40 lines of 80, no line breaks
    binary_header: dict              # segyio BinField -> int
    trace_headers: list              # one dict TraceField -> int per trace, file order
    sample_format: int               # binary header format code: 1 IBM float, 5 IEEE float
    path: Path
    text_encoding: str = "ebcdic"    # how the textual header is stored: "ebcdic" or "ascii"


def decode_text_header(raw: bytes) -> tuple[str, str]:
    """Return (text, encoding) for a 3200-byte textual header; encoding is "ebcdic" or "ascii".

    raw: the first 3200 bytes of the file. Both decodings are tried and the one giving more
    letters, digits and spaces wins (a tie, e.g. an all-zero header, counts as EBCDIC).
    """
    as_ebcdic = raw.decode("cp037")
    as_ascii = raw.decode("latin-1")  # ASCII, tolerating stray bytes above 127
    plain_ebcdic = sum(c in PLAIN for c in as_ebcdic)
    plain_ascii = sum(c in PLAIN for c in as_ascii)
    return (as_ascii, "ascii") if plain_ascii > plain_ebcdic else (as_ebcdic, "ebcdic")


def encode_text_header(text: str, encoding: str) -> bytes:
    """Return text (3200 characters) as bytes in encoding ("ebcdic" or "ascii")."""
    codec = "cp037" if encoding == "ebcdic" else "latin-1"
    return text.ljust(TEXT_BYTES)[:TEXT_BYTES].encode(codec, errors="replace")


def read_segy(path: str | Path) -> SegySection:
    """Return the 2D line in a SEG-Y file as a SegySection with float32 (time, trace) data.

    path: a big-endian SEG-Y file holding one line of traces (a 2D line, or one inline or
    crossline taken out of a 3D survey), read in file order without geometry.
    Sample interval: the first trace header's TRACE_SAMPLE_INTERVAL when it is set (it wins when
    it disagrees with the binary header), else the binary header's Interval, else dt=None.
    """
    path = Path(path)
    head = _read_head(path)
    text, encoding = decode_text_header(head[:TEXT_BYTES])
    try:
        with segyio.open(path, ignore_geometry=True) as handle:
            _check_one_line(path, handle.attributes(TraceField.INLINE_3D)[:],
                            handle.attributes(TraceField.CROSSLINE_3D)[:])
            binary = dict(handle.bin)
            headers = [dict(handle.header[i]) for i in range(handle.tracecount)]
            on_disk = handle.trace.raw[:]                                # (traces, samples)
            data = np.ascontiguousarray(on_disk.T, dtype=np.float32)     # (time, trace)
    except (OSError, RuntimeError, ValueError, IndexError) as err:
        raise DataError(f"{path}: not a readable SEG-Y file ({err}); "
                        f"check that it is a complete big-endian SEG-Y file") from None
    if not np.isfinite(data).all():
        raise DataError(f"{path}: contains NaN or Inf values")
    return SegySection(data=data, dt=_sample_interval(binary, headers[0]),
                       delay_ms=headers[0][TraceField.DelayRecordingTime], text_header=text,
                       binary_header=binary, trace_headers=headers,
                       sample_format=binary[BinField.Format], path=path, text_encoding=encoding)


def read_interval(path: str | Path) -> float | None:
    """Return the sample interval in seconds that read_segy would give path (None when unset), reading only headers."""
    path = Path(path)
    _read_head(path)
    try:
        with segyio.open(path, ignore_geometry=True) as handle:
            return _sample_interval(dict(handle.bin), dict(handle.header[0]))
    except (OSError, RuntimeError, ValueError, IndexError) as err:
        raise DataError(f"{path}: not a readable SEG-Y file ({err}); "
                        f"check that it is a complete big-endian SEG-Y file") from None


def _read_head(path: Path) -> bytes:
    """Return the first 3600 bytes of path after checking what segyio would report unclearly."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            has_traces = len(handle.read(1)) == 1
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    if len(head) < HEAD_BYTES:
        raise DataError(f"{path}: {len(head)} bytes, shorter than the 3600-byte SEG-Y headers; "
                        f"not a SEG-Y file or truncated")
    samples, _, fmt = struct.unpack(">HHH", head[3220:3226])  # binary header bytes 3221-3226
    if samples == 0:
        raise DataError(f"{path}: the binary header gives 0 samples per trace (bytes "
                        f"3221-3222); set it to the trace length or re-export the file")
    if fmt not in READABLE_FORMATS:
        raise DataError(f"{path}: unknown sample format code {fmt} (bytes 3225-3226); "
                        f"set it to 1 (IBM float) or 5 (IEEE float) to match the data")
    if not has_traces:
        raise DataError(f"{path}: no traces after the 3600-byte headers; not a complete SEG-Y file")
    return head


def _check_one_line(path: Path, inlines: np.ndarray, crosslines: np.ndarray) -> None:
    """Raise DataError when both inline and crossline numbers vary: the file is a 3D volume."""
    n_inlines, n_crosslines = len(np.unique(inlines)), len(np.unique(crosslines))
    if n_inlines > 1 and n_crosslines > 1:
        raise DataError(f"{path}: a 3D volume ({n_inlines} inlines x {n_crosslines} crosslines); "
                        f"extract one inline or crossline into its own file first")


def _sample_interval(binary: dict, first_trace: dict) -> float | None:
    """Return dt in seconds: the trace header's interval if set, else the binary header's, else None."""
    interval_us = first_trace[TraceField.TRACE_SAMPLE_INTERVAL] or binary[BinField.Interval]
    return interval_us * 1e-6 if interval_us > 0 else None


def describe(section: SegySection) -> str:
    """Return a one-line summary for logs: name, traces x samples, dt, delay, sample format."""
    samples, traces = section.data.shape
    dt = f"dt {section.dt * 1e3:g} ms" if section.dt else "dt unknown"
    fmt = FORMAT_NAMES.get(section.sample_format, f"format {section.sample_format}")
    return (f"{section.path.name}: {traces} traces x {samples} samples, {dt}, "
            f"delay {section.delay_ms} ms, {fmt}, {section.text_encoding} text header")


def to_input_grid(pred: np.ndarray) -> np.ndarray:
    """Return pred resampled half an output sample later along both axes, float32 (2T, 2N).

    pred: (2T, 2N) (time, trace) on the model's cell-centred grid, where output sample k lies at
    input position k/2 - 0.25. The result holds new[m] = pred at fractional index m + 0.5, so
    output sample 2i sits on input sample i and output trace 2j on input trace j.
    """
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 2:
        raise ValueError(f"to_input_grid needs a 2D (time, trace) array, got shape {pred.shape}")
    return shift_half_sample(shift_half_sample(pred, axis=0), axis=1).astype(np.float32)


def write_segy_x2(path: str | Path, source: SegySection, data: np.ndarray, note: str) -> None:
    """Write data, the x2 super-resolved version of source, as SEG-Y at path, atomically.

    path: output file; written to a hidden temporary file in the same folder, then renamed.
    source: the section the prediction was made from; its headers are copied (see
        x2_trace_headers for the per-trace rules) with twice the samples and half the interval.
    data: (2T, 2N) (time, trace) on the input-aligned grid (output trace 2j = input trace j,
        output sample 2i at the time of input sample i), e.g. a prediction or a posterior std map.
    note: text put on the last blank line of the textual header (line 40 if none is blank),
        after its "Cnn " tag and cut to 80 columns; the header keeps its encoding.
    Samples are written in the source's format when it is 1 (IBM) or 5 (IEEE), else as IEEE.
    Extended textual headers are not copied (ExtendedHeaders is set to 0).
    """
    path = Path(path)
    samples, traces = source.data.shape
    data = np.asarray(data, dtype=np.float32)
    if data.shape != (2 * samples, 2 * traces):
        raise ValueError(f"write_segy_x2: data has shape {data.shape}, expected "
                         f"{(2 * samples, 2 * traces)} (time, trace) for {source.path.name}")
    if not np.isfinite(data).all():
        raise ValueError("write_segy_x2: data contains NaN or Inf values")
    interval_us = _half_interval_us(source)
    fmt = source.sample_format if source.sample_format in (1, 5) else 5
    binary = dict(source.binary_header)
    binary.update(_x2_binary_fields(source.binary_header, 2 * samples, interval_us, fmt))
    headers = x2_trace_headers(source.trace_headers, 2 * samples, interval_us)
    text = encode_text_header(_with_note(source.text_header, note), source.text_encoding)
    _write_atomically(path, binary, headers, np.ascontiguousarray(data.T), text, fmt)


def _half_interval_us(source: SegySection) -> int:
    """Return half of source.dt in whole microseconds (0 when dt is None)."""
    if source.dt is None:
        return 0
    interval_us = round(source.dt * 1e6)
    if interval_us % 2:
        raise DataError(f"{source.path}: sample interval {interval_us} us is odd and cannot be "
                        f"halved to whole microseconds; write the output as .dat instead")
    return interval_us // 2


def _x2_binary_fields(binary: dict, samples: int, interval_us: int, fmt: int) -> dict:
    """Return the binary header fields that change: sample counts doubled, intervals halved."""
    return {BinField.Samples: samples,
            BinField.SamplesOriginal: 2 * binary[BinField.SamplesOriginal],
            BinField.ExtSamples: 2 * binary[BinField.ExtSamples],
            BinField.ExtSamplesOriginal: 2 * binary[BinField.ExtSamplesOriginal],
            BinField.Interval: interval_us,
            BinField.IntervalOriginal: binary[BinField.IntervalOriginal] // 2,  # rounded down
            BinField.Format: fmt,
            BinField.ExtendedHeaders: 0}  # extended textual headers are not copied


def x2_trace_headers(headers: list[dict], samples: int, interval_us: int) -> list[dict]:
    """Return 2N trace headers for the x2 line: trace k starts from input trace k // 2's header.

    headers: the N input trace headers (TraceField -> int) in file order.
    Counters (TRACE_SEQUENCE_LINE, TRACE_SEQUENCE_FILE, TraceNumber, CDP) become first + k, where
    first is the input's first value: integer, distinct and increasing. FieldRecord, CDP_TRACE,
    shot points and all other fields are copied. Inserted traces (k = 2j + 1) get coordinates and
    inline/crossline numbers halfway between input traces j and j + 1, rounded half up (so a
    constant inline stays constant); the last one extrapolates half the last spacing.
    """
    out = [dict(headers[k // 2]) for k in range(2 * len(headers))]
    for field in COUNTERS:
        first = headers[0][field]
        for k, header in enumerate(out):
            header[field] = first + k
    for field in COORDINATES:
        inserted = _halfway_values(np.array([h[field] for h in headers], dtype=np.int64))
        for j, value in enumerate(inserted):
            out[2 * j + 1][field] = int(value)
    for header in out:
        header[TraceField.TRACE_SAMPLE_COUNT] = samples
        header[TraceField.TRACE_SAMPLE_INTERVAL] = interval_us
    return out


def _halfway_values(values: np.ndarray) -> np.ndarray:
    """Return (v[j] + v[j+1]) / 2 for each j, rounded half up; past the end v[N] = 2 v[N-1] - v[N-2]."""
    last_step = values[-1] - values[-2] if len(values) > 1 else 0
    after = np.append(values[1:], values[-1] + last_step)
    return (values + after + 1) // 2


def _with_note(text: str, note: str) -> str:
    """Return text with its last blank line (only a "Cnn" tag or spaces), else line 40, set to note."""
    lines = [text[i:i + 80].ljust(80) for i in range(0, TEXT_BYTES, 80)]
    blank = [n for n, line in enumerate(lines) if not LINE_TAG.sub("", line).strip(" \x00")]
    n = blank[-1] if blank else len(lines) - 1
    lines[n] = f"C{n + 1:2d} {LINE_TAG.sub('', note)}"[:80].ljust(80)
    return "".join(lines)


def _write_atomically(path: Path, binary: dict, headers: list[dict], traces: np.ndarray,
                      text: bytes, fmt: int) -> None:
    """Write a SEG-Y file through a hidden temporary file in path's folder and a rename.

    traces: float32 (traces, samples), C-contiguous. text: the 3200 encoded header bytes, written
    over segyio's own (segyio always stores the textual header as EBCDIC).
    """
    def write(tmp: str) -> None:
        _write_segy(tmp, binary, headers, traces, fmt)
        with open(tmp, "r+b") as handle:
            handle.write(text)
    atomic_write_with(path, write)


def _write_segy(filename: str, binary: dict, headers: list[dict], traces: np.ndarray, fmt: int) -> None:
    """Create filename with segyio and fill in binary header, trace headers and (traces, samples) data."""
    spec = segyio.spec()
    spec.format = fmt
    spec.samples = np.arange(traces.shape[1])
    spec.tracecount = traces.shape[0]
    with segyio.create(filename, spec) as handle:
        handle.bin.update(binary)
        for k, header in enumerate(headers):
            handle.header[k] = header
            handle.trace[k] = traces[k]
