"""Field panel (original | super-resolved | spectra) of every real section in data.field_dir, for docs/.

    python -m benchmarks.field_figure [--config PARTIAL.yaml] [section.key=value ...] [--label NAME] [--out DIR]
Writes OUT/field_<label>.png (label: --label, else the --config stem), e.g. --config
configs/quick.yaml --out docs gives docs/field_quick.png. Predictions come from run.dir/field;
sections without one are predicted first by sample.py's main (sampling.input=field). Refuses the
synthetic stand-in the notebook uses when data.field_dir is empty: this figure shows real data.
Each section's sample interval comes from datasets.dat_io.field_interval (SEG-Y header, else
eval.field_dt, else 2 * eval.dt); its row title and the printout say which.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.common import config_label, output_dir, run_benchmark
from datasets.dat_io import list_field_files
from sample import field_rows
from utils.config import Config
from utils.errors import DataError
from utils.plots import plot_field_panel


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label", default="", help="figure name field_<label>.png; default the --config stem")


def render_field_figure(cfg: Config, png_path: str | Path) -> Path:
    """Draw the field panel of all sections in data.field_dir, with run.dir's predictions, to png_path; return it."""
    if not list_field_files(cfg.data.field_dir):
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no field sections; "
                        f"point it at the real data, e.g. data.field_dir=../shared/data/field")
    rows, _ = field_rows(cfg)
    title = f"field sections from {cfg.data.field_dir}, model {cfg.run.dir}"
    return plot_field_panel(rows, cfg.eval.max_freq, png_path, title)


def main(cfg: Config, bench_args) -> None:
    png = render_field_figure(cfg, output_dir(cfg, bench_args) / f"field_{config_label(bench_args)}.png")
    print(f"wrote {png}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
