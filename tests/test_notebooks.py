"""view.ipynb and view_field.ipynb run headless, top to bottom, against a tiny run made here."""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from nbclient import NotebookClient

import sample
import train
from benchmarks import field_figure
from benchmarks.common import run_benchmark
from datasets.dat_io import write_dat
from utils.config import config_to_dict, load_config
from utils.plots import field_spectra

REPO = Path(__file__).resolve().parents[1]


def run_notebook(name: str, config: Path, overrides: list[str]) -> str:
    """Execute notebook `name` with cwd = repo root and its parameters cell replaced; return its printed text."""
    nb = nbformat.read(REPO / name, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f"CONFIG = {str(config)!r}\nOVERRIDES = {overrides!r}"
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


@pytest.fixture
def tiny_run(tiny_cfg, tmp_path) -> Path:
    """Train the tiny model for two steps, predict its test files, and return the config as a YAML file."""
    train.main(tiny_cfg)
    sample.main(copy.deepcopy(tiny_cfg))  # main adopts the checkpoint's settings into its cfg
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(tiny_cfg)))
    return path


def test_view_notebook_draws_every_prediction(tiny_run, tiny_cfg):
    text = run_notebook("view.ipynb", tiny_run, [])
    png = Path(tiny_cfg.run.dir) / "view.png"
    assert png.stat().st_size > 0
    n_preds = len(list((Path(tiny_cfg.run.dir) / "samples").glob("*_pred.dat")))
    assert n_preds > 0 and f"{n_preds} predictions" in text


def test_view_field_notebook_reads_field_predictions_then_falls_back_to_synthetic(tiny_run, tiny_cfg, tmp_path):
    run = Path(tiny_cfg.run.dir)
    field_dir = tmp_path / "field"
    section = np.random.default_rng(0).standard_normal((48, 64)).astype(np.float32)  # (time, trace)
    write_dat(field_dir / "tiny_64x48.dat", 1000 * section.cumsum(0))
    tiles = ["sampling.tile_size=64", "sampling.tile_overlap=16"]  # HR 96x128: tiled
    with_field = [f"data.field_dir={field_dir}", *tiles]
    sample.main(load_config(tiny_run, with_field + ["sampling.input=field"]))
    pred = run / "field" / "tiny_128x96_pred.dat"
    made = pred.stat().st_mtime_ns

    text = run_notebook("view_field.ipynb", tiny_run, with_field)
    assert (run / "field" / "field_panel.png").stat().st_size > 0
    assert pred.stat().st_mtime_ns == made, "an existing prediction is read, not re-made"
    assert "SYNTHETIC" not in text
    assert (run / "roundtrip" / "roundtrip_panel.png").stat().st_size > 0, "the round trip is drawn too"
    assert "held out: 1 section," in text
    # the docs figure (benchmarks/field_figure.py) draws the same rows
    argv = ["--config", str(tiny_run), *with_field, "--label", "tiny", "--out", str(tmp_path / "docs")]
    assert run_benchmark(field_figure.main, argv, "field figure", field_figure.add_flags) == 0
    assert (tmp_path / "docs" / "field_tiny.png").stat().st_size > 0

    (run / "field" / "field_panel.png").unlink()
    empty = tmp_path / "empty_field"
    empty.mkdir()
    text = run_notebook("view_field.ipynb", tiny_run, [f"data.field_dir={empty}", *tiles])
    assert "SYNTHETIC section" in text and "no round trip" in text
    assert (run / "field" / "field_panel.png").stat().st_size > 0
    assert list((run / "field").glob("synthetic_*_pred.dat")), "the synthetic section was predicted"


def test_field_spectra_share_one_frequency_axis():
    """A 25 Hz cosine sampled at dt and the same cosine at dt / 2 peak at the same frequency on one axis."""
    dt = 0.004
    t_in, t_out = np.arange(200) * dt, np.arange(400) * dt / 2  # same 0.8 s
    section = np.repeat(np.cos(2 * np.pi * 25 * t_in)[:, None], 3, axis=1)
    pred = np.repeat(np.cos(2 * np.pi * 25 * t_out)[:, None], 6, axis=1)
    spectra = field_spectra(section, 3 * pred, dt)
    (f_in, a_in), (f_out, a_out) = spectra["original"], spectra["super-resolved"]
    np.testing.assert_allclose(f_out[:len(f_in)], f_in)
    assert f_in[a_in.argmax()] == f_out[a_out.argmax()] == 25.0
    assert a_in.max() == a_out.max() == 1.0  # each curve over its own maximum


def test_view_field_notebook_shows_the_calibration_of_round_trip_std_maps(tiny_run, tiny_cfg, tmp_path):
    field_dir = tmp_path / "field"
    for i, name in enumerate(["one", "two"]):
        section = np.random.default_rng(i).standard_normal((48, 64)).astype(np.float32)  # (time, trace)
        write_dat(field_dir / f"{name}_64x48.dat", 1000 * section.cumsum(0))
    text = run_notebook("view_field.ipynb", tiny_run, [f"data.field_dir={field_dir}", "sampling.num_samples=2",
                                                       "sampling.tile_size=0"])
    assert "coverage, raw" in text and "coverage, leave_one_out" in text
    assert (Path(tiny_cfg.run.dir) / "roundtrip" / "reliability_panel.png").stat().st_size > 0
