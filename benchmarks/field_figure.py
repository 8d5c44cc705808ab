"""Render the field panel (original | super-resolved | spectra) of every real section in data.field_dir.

    python -m benchmarks.field_figure [--config PARTIAL.yaml] [--out PNG] [section.key=value ...]
Predictions come from run.dir/field (sections without one are predicted first, as sample.py
sampling.input=field would). Refuses to draw the synthetic stand-in: this figure is for docs/.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.dat_io import list_field_files
from utils.config import Config, load_config
from utils.errors import DataError, UserError
from utils.plots import plot_field_panel
from utils.views import field_rows


def render_field_figure(cfg: Config, png_path: str | Path) -> Path:
    """Draw the field panel of all sections in data.field_dir from run.dir's predictions to png_path; return it."""
    if not list_field_files(cfg.data.field_dir):
        raise DataError(f"data.field_dir '{cfg.data.field_dir}' holds no field sections; "
                        f"point it at the real data (../shared/data/field)")
    rows, _ = field_rows(cfg)
    title = f"field sections, {cfg.run.dir} ({', '.join(r['name'] for r in rows)})"
    return plot_field_panel(rows, cfg.eval.max_freq, png_path, title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.yaml", help="partial YAML on top of configs/config.yaml")
    parser.add_argument("--out", default="docs/field_quick.png", help="PNG to write")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value")
    args = parser.parse_args(argv)
    try:
        png = render_field_figure(load_config(args.config, args.overrides), args.out)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
