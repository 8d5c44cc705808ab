"""SEG-Y: reading 2D lines (IBM/IEEE, EBCDIC/ASCII, intervals, 3D refusal), writing x2 outputs,
and field mode end to end (sample.py in, SEG-Y out, the sample interval in every figure and score)."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import segyio
from segyio import BinField, TraceField

import eval as eval_script
import sample
import train
from datasets import segy_io
from datasets.dat_io import DT_CONFIG, DT_DEFAULT, DT_HEADER, field_interval, read_dat, read_field, write_dat
from datasets.segy_io import describe, read_segy, to_input_grid, write_segy_x2
from utils.config import load_config
from utils.errors import DataError
from utils.plots import plot_field_panel

TEXT_LINES = {1: "CLIENT TEST COMPANY  LINE 7", 2: "RECORDED 2001 PROCESSED 2024", 3: "STACK MIGRATED",
              40: "END TEXTUAL HEADER"}


def text_header(lines: dict[int, str]) -> str:
    """Return a 3200-character header with "Cnn " tags and the given line bodies."""
    return "".join(f"C{n:2d} {lines.get(n, '')}".ljust(80) for n in range(1, 41))


def make_segy(path, data, fmt=5, encoding="ebcdic", dt_us=2000, where_dt=("bin", "trace"), delay=0,
              inlines=None, crosslines=None, text=None):
    """Write data (time, trace) as a small SEG-Y file with known headers; return path."""
    samples, traces = data.shape
    inlines = [5] * traces if inlines is None else inlines
    crosslines = list(range(20, 20 + traces)) if crosslines is None else crosslines
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = fmt, np.arange(samples), traces
    with segyio.create(path, spec) as f:
        f.bin.update({BinField.Interval: dt_us if "bin" in where_dt else 0,
                      BinField.IntervalOriginal: dt_us if "bin" in where_dt else 0,
                      BinField.SamplesOriginal: samples, BinField.JobID: 77, BinField.LineNumber: 12,
                      BinField.SortingCode: 4, BinField.MeasurementSystem: 1})
        for j in range(traces):
            f.header[j] = {TraceField.TRACE_SEQUENCE_LINE: j + 1, TraceField.TRACE_SEQUENCE_FILE: j + 1,
                           TraceField.FieldRecord: 3, TraceField.TraceNumber: j + 1,
                           TraceField.CDP: 1000 + j, TraceField.CDP_TRACE: 1,
                           TraceField.SourceX: 500000 + 25 * j, TraceField.SourceY: 6000000 - 10 * j,
                           TraceField.GroupX: 500000 + 25 * j, TraceField.GroupY: 6000000 - 10 * j,
                           TraceField.CDP_X: 500000 + 25 * j + j * j, TraceField.CDP_Y: 6000000 - 10 * j,
                           TraceField.INLINE_3D: inlines[j], TraceField.CROSSLINE_3D: crosslines[j],
                           TraceField.DelayRecordingTime: delay,
                           TraceField.TRACE_SAMPLE_COUNT: samples,
                           TraceField.TRACE_SAMPLE_INTERVAL: dt_us if "trace" in where_dt else 0}
            f.trace[j] = np.ascontiguousarray(data[:, j], dtype=np.float32)
    text = text_header(TEXT_LINES) if text is None else text
    with open(path, "r+b") as f:  # segyio always writes EBCDIC; put our own bytes in
        f.write(text.encode("cp037" if encoding == "ebcdic" else "ascii"))
    return path


def section_data(samples=30, traces=10, seed=0):
    return np.random.default_rng(seed).standard_normal((samples, traces)).astype(np.float32) * 100


def reopen(path):
    """Return (data (time, trace), bin dict, trace header dicts, raw text bytes), failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with segyio.open(path, ignore_geometry=True) as f:
            data = f.trace.raw[:].T.copy()
            return data, dict(f.bin), [dict(f.header[i]) for i in range(f.tracecount)], path.read_bytes()[:3200]


# Reading.

@pytest.mark.parametrize("fmt, encoding, dt_us, delay", [(1, "ebcdic", 4000, 0), (5, "ascii", 2000, 100)])
def test_read_values_text_interval_and_delay(tmp_path, fmt, encoding, dt_us, delay):
    data = section_data()
    path = make_segy(tmp_path / "line.sgy", data, fmt=fmt, encoding=encoding, dt_us=dt_us, delay=delay)
    section = read_segy(path)
    assert section.data.dtype == np.float32 and section.data.shape == (30, 10)  # (time, trace)
    if fmt == 5:
        assert np.array_equal(section.data, data)
    else:
        assert np.allclose(section.data, data, rtol=2.0 ** -20, atol=0)  # IBM: 24-bit hex mantissa
    assert section.dt == pytest.approx(dt_us * 1e-6)
    assert section.delay_ms == delay
    assert section.sample_format == fmt
    assert section.text_encoding == encoding
    assert section.text_header == text_header(TEXT_LINES)
    assert [h[TraceField.CDP] for h in section.trace_headers] == list(range(1000, 1010))


def test_ebcdic_written_by_segyio_itself_is_decoded(tmp_path):
    path = make_segy(tmp_path / "line.sgy", section_data())
    with segyio.open(path, "r+", ignore_geometry=True) as f:
        f.text[0] = segyio.tools.create_text_header({1: "WRITTEN BY SEGYIO 123", 2: "SECOND LINE"})
    section = read_segy(path)
    assert section.text_encoding == "ebcdic"
    assert section.text_header[:80].rstrip() == "C 1 WRITTEN BY SEGYIO 123"
    assert section.text_header[80:160].rstrip() == "C 2 SECOND LINE"


def test_interval_only_in_trace_headers(tmp_path):
    path = make_segy(tmp_path / "line.sgy", section_data(), dt_us=4000, where_dt=("trace",))
    assert read_segy(path).dt == pytest.approx(0.004)


def test_trace_header_interval_wins_when_headers_disagree(tmp_path):
    path = make_segy(tmp_path / "line.sgy", section_data(), dt_us=4000)
    with segyio.open(path, "r+", ignore_geometry=True) as f:
        f.bin[BinField.Interval] = 2000
    assert read_segy(path).dt == pytest.approx(0.004)


def test_no_interval_anywhere_gives_none(tmp_path):
    path = make_segy(tmp_path / "line.sgy", section_data(), where_dt=())
    section = read_segy(path)
    assert section.dt is None
    assert "dt unknown" in describe(section)


def test_3d_volume_is_refused_naming_the_file(tmp_path):
    inlines = [il for il in (1, 2, 3) for _ in range(4)]
    crosslines = [xl for _ in range(3) for xl in (10, 11, 12, 13)]
    path = make_segy(tmp_path / "cube.sgy", section_data(traces=12), inlines=inlines, crosslines=crosslines)
    with pytest.raises(DataError, match=r"cube\.sgy: a 3D volume.*extract one inline or crossline"):
        read_segy(path)


def test_single_inline_from_3d_reads_as_a_line_in_file_order(tmp_path):
    crosslines = [13, 12, 11, 10]  # file order, not sorted
    data = section_data(traces=4)
    path = make_segy(tmp_path / "il5.sgy", data, inlines=[5] * 4, crosslines=crosslines)
    section = read_segy(path)
    assert [h[TraceField.CROSSLINE_3D] for h in section.trace_headers] == crosslines
    assert np.array_equal(section.data, data)


@pytest.mark.parametrize("content", [b"", b"not a seg-y file\n" * 20, np.random.default_rng(1).bytes(9000)])
def test_garbage_file_raises_data_error_naming_it(tmp_path, content):
    path = tmp_path / "garbage.sgy"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"garbage\.sgy: "):
        read_segy(path)


def test_truncated_file_raises_data_error(tmp_path):
    path = make_segy(tmp_path / "cut.sgy", section_data())
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"cut\.sgy: not a readable SEG-Y file"):
        read_segy(path)


def test_zero_sample_count_gives_a_clear_error(tmp_path):
    path = make_segy(tmp_path / "empty_traces.sgy", section_data())
    raw = bytearray(path.read_bytes())
    raw[3220:3222] = b"\0\0"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"empty_traces\.sgy: the binary header gives 0 samples"):
        read_segy(path)


def test_nan_samples_are_refused(tmp_path):
    data = section_data()
    data[4, 2] = np.nan
    path = make_segy(tmp_path / "holes.sgy", data)
    with pytest.raises(DataError, match=r"holes\.sgy: contains NaN or Inf values"):
        read_segy(path)


def test_describe_names_the_essentials(tmp_path):
    path = make_segy(tmp_path / "line.sgy", section_data(), fmt=1, dt_us=4000, delay=100)
    line = describe(read_segy(path))
    assert line == "line.sgy: 10 traces x 30 samples, dt 4 ms, delay 100 ms, IBM float, ebcdic text header"


# Grid alignment.

def test_to_input_grid_moves_cell_centred_samples_onto_input_samples():
    t2, n2 = 80, 64  # output grid (2T, 2N)

    def wave(t, x):  # smooth and low-frequency in input-sample units
        return np.cos(2 * np.pi * 0.04 * t + 0.3) * np.cos(2 * np.pi * 0.03 * x - 0.7)

    k, m = np.arange(t2)[:, None], np.arange(n2)[None, :]
    cell_centred = wave(k / 2 - 0.25, m / 2 - 0.25).astype(np.float32)  # output sample k at input k/2 - 0.25
    vertex = wave(k / 2, m / 2)                                          # output sample 2i at input i
    moved = to_input_grid(cell_centred)
    assert moved.dtype == np.float32 and moved.shape == (t2, n2)
    error = np.abs(moved - vertex)
    assert error[8:-8, 8:-8].max() < 1e-3  # mirror padding: 2e-4 here, 3e-3 with np.pad 'reflect'
    assert error.max() < 4e-2              # 3e-2 at the first and last samples
    assert np.abs(cell_centred - vertex)[8:-8, 8:-8].max() > 2e-2  # the shift is needed at all


# Writing.

@pytest.fixture(params=[(1, "ebcdic"), (5, "ascii")], ids=["ibm-ebcdic", "ieee-ascii"])
def written(request, tmp_path):
    """A source line (with varying crossline, constant inline), and its x2 output reopened."""
    fmt, encoding = request.param
    source = read_segy(make_segy(tmp_path / "line.sgy", section_data(), fmt=fmt, encoding=encoding,
                                 dt_us=4000, delay=100))
    data = np.random.default_rng(2).standard_normal((60, 20)).astype(np.float32)
    out = tmp_path / "line_x2.sgy"
    write_segy_x2(out, source, data, "C40 SUPER-RESOLVED X2 IN TIME AND TRACES BY seismic-diffusion")
    return source, data, out, reopen(out)


def test_written_file_has_twice_the_samples_and_traces_and_half_the_interval(written):
    source, data, out, (back, binary, headers, _) = written
    assert back.shape == (60, 20)
    if source.sample_format == 5:
        assert np.array_equal(back, data)
    else:
        assert np.allclose(back, data, rtol=2.0 ** -20, atol=0)
    assert binary[BinField.Samples] == 60 and binary[BinField.SamplesOriginal] == 60
    assert binary[BinField.Interval] == 2000 and binary[BinField.IntervalOriginal] == 2000
    assert binary[BinField.Format] == source.sample_format
    assert all(h[TraceField.TRACE_SAMPLE_COUNT] == 60 for h in headers)
    assert all(h[TraceField.TRACE_SAMPLE_INTERVAL] == 2000 for h in headers)
    assert all(h[TraceField.DelayRecordingTime] == 100 for h in headers)
    assert read_segy(out).dt == pytest.approx(0.002)


def test_written_binary_header_keeps_the_other_fields(written):
    source, _, _, (_, binary, _, _) = written
    changed = {BinField.Samples, BinField.SamplesOriginal, BinField.Interval, BinField.IntervalOriginal}
    assert binary[BinField.JobID] == 77 and binary[BinField.LineNumber] == 12
    assert {k: v for k, v in binary.items() if k not in changed} == \
           {k: v for k, v in source.binary_header.items() if k not in changed}


def test_written_counters_increase_and_coordinates_interpolate(written):
    source, _, _, (_, _, headers, _) = written
    for field in (TraceField.TRACE_SEQUENCE_LINE, TraceField.TRACE_SEQUENCE_FILE, TraceField.TraceNumber,
                  TraceField.CDP):
        values = np.array([h[field] for h in headers])
        assert (np.diff(values) > 0).all(), field
    assert headers[0][TraceField.CDP] == 1000 and headers[-1][TraceField.CDP] == 1019
    assert {h[TraceField.FieldRecord] for h in headers} == {3}
    assert {h[TraceField.INLINE_3D] for h in headers} == {5}  # constant: kept
    n = len(source.trace_headers)
    for field in segy_io.COORDINATES:
        inp = [h[field] for h in source.trace_headers]
        out = [h[field] for h in headers]
        assert out[0::2] == inp, field
        for j in range(n - 1):
            assert min(inp[j], inp[j + 1]) <= out[2 * j + 1] <= max(inp[j], inp[j + 1]), field
        assert abs(out[-1] - (inp[-1] + (inp[-1] - inp[-2]) / 2)) <= 0.5, field  # extrapolated
    assert [h[TraceField.SourceX] for h in headers[:4]] == [500000, 500013, 500025, 500038]  # half up


def test_written_text_header_has_the_note_and_keeps_the_rest(written):
    source, _, _, (_, _, _, raw) = written
    codec = "cp037" if source.text_encoding == "ebcdic" else "ascii"
    assert raw[:1] == "C".encode(codec)  # encoding kept: 0xC3 in EBCDIC, 0x43 in ASCII
    lines = [raw[i:i + 80].decode(codec) for i in range(0, 3200, 80)]
    old = [source.text_header[i:i + 80] for i in range(0, 3200, 80)]
    # Line 40 holds END TEXTUAL HEADER, so the note goes to the last blank line, 39.
    assert lines[38].rstrip() == "C39 SUPER-RESOLVED X2 IN TIME AND TRACES BY seismic-diffusion"
    assert lines[:38] + lines[39:] == old[:38] + old[39:]
    assert old[38].rstrip() == "C39"


def test_note_goes_to_line_40_when_no_line_is_blank(tmp_path):
    full = text_header({n: f"LINE {n} IN USE" for n in range(1, 41)})
    source = read_segy(make_segy(tmp_path / "full.sgy", section_data(8, 4), text=full))
    out = tmp_path / "full_x2.sgy"
    write_segy_x2(out, source, np.zeros((16, 8), np.float32), "NOTE HERE")
    text = read_segy(out).text_header
    assert text[39 * 80:].rstrip() == "C40 NOTE HERE"
    assert text[:39 * 80] == full[:39 * 80]


def test_std_map_in_float64_writes_without_warnings(tmp_path):
    source = read_segy(make_segy(tmp_path / "line.sgy", section_data(20, 8), fmt=1))
    std = np.abs(np.random.default_rng(3).standard_normal((40, 16)))  # float64, non-negative
    out = tmp_path / "std_x2.sgy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_segy_x2(out, source, std, "C40 POSTERIOR STD")
    back = reopen(out)[0]
    assert np.allclose(back, std.astype(np.float32), rtol=2.0 ** -20, atol=0)


def test_wrong_shape_raises_and_leaves_the_target_untouched(tmp_path):
    source = read_segy(make_segy(tmp_path / "line.sgy", section_data(20, 8)))
    out = tmp_path / "line_x2.sgy"
    out.write_bytes(b"previous result")
    with pytest.raises(ValueError, match=r"expected \(40, 16\)"):
        write_segy_x2(out, source, np.zeros((40, 15), np.float32), "NOTE")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.sgy", "line_x2.sgy"]


def test_failure_while_writing_removes_the_temporary_file(tmp_path, monkeypatch):
    source = read_segy(make_segy(tmp_path / "line.sgy", section_data(20, 8)))
    out = tmp_path / "line_x2.sgy"
    out.write_bytes(b"previous result")

    def fail_half_way(filename, *args):
        assert filename.startswith(str(tmp_path / ".line_x2.sgy.")) and filename.endswith(".tmp")
        (tmp_path / filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(segy_io, "_write_segy", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_segy_x2(out, source, np.zeros((40, 16), np.float32), "NOTE")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.sgy", "line_x2.sgy"]


def test_successful_write_leaves_no_temporary_file(written, tmp_path):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.sgy", "line_x2.sgy"]


# Field mode: sample.py reads SEG-Y through read_segy and writes SEG-Y back.

def eval_cfg(**field_dt):
    """Return the eval section of the default config with eval.field_dt = field_dt."""
    return load_config(None, [f"eval.field_dt={field_dt}"] if field_dt else []).eval


def test_field_interval_rule(tmp_path, capsys):
    header = make_segy(tmp_path / "line.sgy", section_data(), dt_us=4000)
    bare = make_segy(tmp_path / "bare.sgy", section_data(), where_dt=())
    write_dat(tmp_path / "tp_10x30.dat", section_data())
    assert field_interval(header, eval_cfg()) == (pytest.approx(0.004), DT_HEADER)
    assert field_interval(header, eval_cfg(line=0.008)) == (pytest.approx(0.004), DT_HEADER), "the header wins"
    assert "line.sgy: using dt 4 ms from its SEG-Y header, not eval.field_dt 8 ms" in capsys.readouterr().out
    assert field_interval(bare, eval_cfg(bare=0.003)) == (0.003, DT_CONFIG)
    assert field_interval(tmp_path / "tp_10x30.dat", eval_cfg(tp_10x30=0.003)) == (0.003, DT_CONFIG)
    assert field_interval(tmp_path / "tp_10x30.dat", eval_cfg()) == (2 * eval_cfg().dt, DT_DEFAULT)
    with pytest.raises(DataError, match=r"bare\.sgy: the SEG-Y headers give no sample interval.*"
                                        r"eval\.field_dt=\{bare: 0\.002\}") as err:
        field_interval(bare, eval_cfg(other=0.003))
    assert "\n" not in str(err.value)


def test_read_field_reads_segy_through_read_segy(tmp_path):
    data = section_data()
    assert np.allclose(read_field(make_segy(tmp_path / "ibm.sgy", data, fmt=1)), data, rtol=2.0 ** -20, atol=0)
    (tmp_path / "garbage.segy").write_bytes(b"not a seg-y file\n" * 300)
    with pytest.raises(DataError, match=r"garbage\.segy: "):
        read_field(tmp_path / "garbage.segy")
    cube = make_segy(tmp_path / "cube.sgy", section_data(traces=4), inlines=[1, 1, 2, 2], crosslines=[7, 8, 7, 8])
    with pytest.raises(DataError, match=r"cube\.sgy: a 3D volume"):
        read_field(cube)
    with pytest.raises(DataError, match=r"ibm\.sgy: SEG-Y stores trace after trace.*eval\.field_transpose"):
        read_field(tmp_path / "ibm.sgy", trace_major=False)


def field_run(cfg, field_dir: Path, **sampling) -> Path:
    """Run sample.py's field mode on field_dir with the sampling keys changed; return run.dir/field."""
    cfg.data.field_dir, cfg.sampling.input = str(field_dir), "field"
    for key, value in sampling.items():
        setattr(cfg.sampling, key, value)
    sample.main(cfg)
    return Path(cfg.run.dir) / "field"


def text_lines(raw: bytes, codec: str) -> list[str]:
    return [raw[i:i + 80].decode(codec).rstrip() for i in range(0, 3200, 80)]


def test_field_mode_writes_segy_predictions_with_their_headers(tiny_cfg, tmp_path):
    train.main(tiny_cfg)
    field = tmp_path / "field"
    field.mkdir()
    lines = {"ibm2ms": dict(fmt=1, dt_us=2000, delay=0),
             "ibm4ms": dict(fmt=1, dt_us=4000, delay=100),
             "inline5": dict(fmt=5, dt_us=2000, delay=40, crosslines=[29 - j for j in range(10)])}  # from a 3D survey
    sources = {n: make_segy(field / f"{n}.sgy", section_data(seed=i), **kw) for i, (n, kw) in enumerate(lines.items())}
    out = field_run(tiny_cfg, field, num_samples=2)
    for name, kw in lines.items():
        source = read_segy(sources[name])
        data, binary, headers, raw = reopen(out / f"{name}_pred.sgy")
        assert data.shape == (60, 20), "twice the samples (time) and twice the traces"
        assert binary[BinField.Samples] == 60 and binary[BinField.Interval] == kw["dt_us"] // 2
        assert all(h[TraceField.TRACE_SAMPLE_INTERVAL] == kw["dt_us"] // 2 for h in headers)
        assert read_segy(out / f"{name}_pred.sgy").dt == pytest.approx(source.dt / 2)
        assert {h[TraceField.DelayRecordingTime] for h in headers} == {kw["delay"]}
        for field_key in (TraceField.TRACE_SEQUENCE_LINE, TraceField.TraceNumber, TraceField.CDP):
            assert (np.diff([h[field_key] for h in headers]) == 1).all(), field_key
        crosslines = [h[TraceField.CROSSLINE_3D] for h in headers]
        assert crosslines[0::2] == [h[TraceField.CROSSLINE_3D] for h in source.trace_headers], "file order kept"
        assert {h[TraceField.INLINE_3D] for h in headers} == {5}
        text = text_lines(raw, "cp037")  # EBCDIC, like the input
        assert text[38].startswith("C39 X2 SUPER-RESOLVED IN TIME AND TRACES, MEAN OF 2 SAMPLE(S)")
        assert text[:38] + text[39:] == text_lines(source.text_header.encode("cp037"), "cp037")[:38] + \
            text_lines(source.text_header.encode("cp037"), "cp037")[39:]
        # The .dat lies on the input's grid like the .sgy (sampling.field_grid: input; the model's grid below).
        dat = read_dat(out / f"{name}_20x60_pred.dat", (20, 60))
        assert np.allclose(data, dat, rtol=2.0 ** -20, atol=1e-6 * np.abs(dat).max())
        std, _, std_headers, std_raw = reopen(out / f"{name}_std.sgy")
        std_dat = read_dat(out / f"{name}_20x60_std.dat", (20, 60))
        assert std.shape == (60, 20) and (std >= 0).all() and std.max() > 0
        assert np.allclose(std, std_dat, rtol=2.0 ** -20, atol=1e-6 * std_dat.max())
        assert std_headers[1][TraceField.TRACE_SEQUENCE_LINE] == 2
        assert text_lines(std_raw, "cp037")[38].startswith("C39 STD OF 2 SAMPLES OF")
    # sampling.field_grid=model: the .dat keeps the model's cell-centred grid, which the .sgy moves onto the input's
    segy_before = {name: reopen(out / f"{name}_pred.sgy")[0] for name in lines}
    out = field_run(tiny_cfg, field, num_samples=2, field_grid="model")
    for name in lines:
        data = reopen(out / f"{name}_pred.sgy")[0]
        dat = read_dat(out / f"{name}_20x60_pred.dat", (20, 60))
        assert np.array_equal(data, segy_before[name]), "the .sgy does not depend on sampling.field_grid"
        assert np.allclose(data, to_input_grid(dat), rtol=2.0 ** -20, atol=1e-6 * np.abs(dat).max())
        assert not np.allclose(data, dat, rtol=1e-3, atol=1e-3 * np.abs(dat).max())
        std_dat = read_dat(out / f"{name}_20x60_std.dat", (20, 60))
        assert np.allclose(reopen(out / f"{name}_std.sgy")[0], np.maximum(to_input_grid(std_dat), 0),
                           rtol=2.0 ** -20, atol=1e-6 * std_dat.max())
    tiny_cfg.sampling.field_grid = "input"
    # A std scale (the validation split's) multiplies the written std and is named in its header
    before = {name: reopen(out / f"{name}_std.sgy")[0] for name in lines}
    out = field_run(tiny_cfg, field, num_samples=2, std_scale=2.5)
    for name in lines:
        std, _, _, std_raw = reopen(out / f"{name}_std.sgy")
        np.testing.assert_allclose(std, 2.5 * before[name], rtol=1e-5, atol=1e-7)
        assert text_lines(std_raw, "cp037")[38].startswith("C39 STD OF 2 SAMPLES X 2.5 OF")


def test_dat_field_outputs_follow_field_grid_in_either_orientation(tiny_cfg, tmp_path):
    train.main(tiny_cfg)
    field = tmp_path / "field"
    section = np.cumsum(section_data(samples=30, traces=10, seed=4), axis=0)  # (time, trace)
    write_dat(field / "tm_10x30.dat", section)            # trace-major: 10 traces of 30 samples
    write_dat(field / "sm_30x10.dat", section.T)          # stored (samples, traces)
    tiny_cfg.eval.field_transpose = {"sm_30x10": False}
    out = field_run(tiny_cfg, field, num_samples=2, field_grid="model")
    model = {"tm": read_dat(out / "tm_20x60_pred.dat", (20, 60)), "sm": read_dat(out / "sm_60x20_pred.dat", (60, 20)).T,
             "tm_std": read_dat(out / "tm_20x60_std.dat", (20, 60))}
    out = field_run(tiny_cfg, field, num_samples=2, field_grid="input")  # re-made: the setting decides the files
    on_input = {"tm": read_dat(out / "tm_20x60_pred.dat", (20, 60)), "sm": read_dat(out / "sm_60x20_pred.dat", (60, 20)).T}
    for name in ("tm", "sm"):  # (time, trace) in memory for both; output sample 2i at input sample i
        expected = to_input_grid(model[name])
        assert np.allclose(on_input[name], expected, rtol=2.0 ** -20, atol=1e-6 * np.abs(expected).max()), name
        assert not np.allclose(on_input[name], model[name], atol=1e-2 * np.abs(expected).max()), name
    std = read_dat(out / "tm_20x60_std.dat", (20, 60))
    assert (std >= 0).all() and np.allclose(std, np.maximum(to_input_grid(model["tm_std"]), 0), atol=1e-6 * std.max())


def predictions_in(folder: Path) -> list[str]:
    """Names of the files in an output folder, less the record of the settings that made them."""
    return sorted(p.name for p in folder.iterdir() if p.name != "predictions.json")


def test_segy_output_choice_writes_only_what_it_names(tiny_cfg, tmp_path):
    train.main(tiny_cfg)
    field = tmp_path / "field"
    field.mkdir()
    make_segy(field / "line.sgy", section_data(), dt_us=4000)
    write_dat(field / "tp_10x30.dat", section_data(seed=1))  # not SEG-Y: always a .dat
    out = field_run(tiny_cfg, field, segy_output="dat")
    assert predictions_in(out) == ["line_20x60_pred.dat", "tp_20x60_pred.dat"]
    shutil.rmtree(out)
    out = field_run(tiny_cfg, field, segy_output="segy")
    assert predictions_in(out) == ["line_pred.sgy", "tp_20x60_pred.dat"]
    rows, _ = sample.field_rows(tiny_cfg)  # reads the .sgy when there is no .dat, samples nothing
    assert np.array_equal(rows[0]["pred"], reopen(out / "line_pred.sgy")[0])
    assert predictions_in(out) == ["line_pred.sgy", "tp_20x60_pred.dat"]


def test_segy_output_without_a_sample_interval_names_the_file_and_the_key(tiny_cfg, tmp_path):
    train.main(tiny_cfg)
    field = tmp_path / "field"
    field.mkdir()
    make_segy(field / "nodt.sgy", section_data(), where_dt=())
    with pytest.raises(DataError, match=r"nodt\.sgy: the SEG-Y headers give no sample interval.*eval\.field_dt") as err:
        field_run(tiny_cfg, field)
    assert "\n" not in str(err.value)
    out = Path(tiny_cfg.run.dir) / "field"
    assert not predictions_in(out), "refused before sampling: nothing written"
    assert predictions_in(field_run(tiny_cfg, field, segy_output="dat")) == ["nodt_20x60_pred.dat"]
    tiny_cfg.eval.field_dt = {"nodt": 0.004}
    out = field_run(tiny_cfg, field, segy_output="segy")
    assert reopen(out / "nodt_pred.sgy")[1][BinField.Interval] == 2000


def test_field_rows_and_roundtrip_report_where_dt_came_from(tiny_cfg, tmp_path, capsys):
    train.main(tiny_cfg)
    field = tmp_path / "field"
    field.mkdir()
    make_segy(field / "line.sgy", section_data(), dt_us=4000)
    write_dat(field / "tp_10x30.dat", section_data(seed=1))
    write_dat(field / "plain_10x30.dat", section_data(seed=2))
    tiny_cfg.data.field_dir, tiny_cfg.eval.field_dt = str(field), {"tp_10x30": 0.003}
    expected = {"line": (0.004, DT_HEADER), "tp_10x30": (0.003, DT_CONFIG),
                "plain_10x30": (2 * tiny_cfg.eval.dt, DT_DEFAULT)}
    rows, synthetic = sample.field_rows(tiny_cfg)  # makes the predictions first
    assert not synthetic
    assert {r["name"]: (r["dt"], r["dt_source"]) for r in rows} == {
        n: (pytest.approx(dt), source) for n, (dt, source) in expected.items()}
    assert "line.sgy: dt 4 ms from SEG-Y header" in capsys.readouterr().out
    assert plot_field_panel(rows, 60.0, tmp_path / "panel.png", "field").stat().st_size > 0

    tiny_cfg.sampling.input = "roundtrip"
    sample.main(tiny_cfg)
    rows, _ = eval_script.roundtrip_rows(tiny_cfg)
    assert {r["name"]: (r["dt"], r["dt_source"]) for r in rows} == {
        n: (pytest.approx(dt), source) for n, (dt, source) in expected.items()}
