"""Command-line entry: parse --config/--debug/--dry-run and overrides, turn user errors into one line."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from utils.config import Config, load_config
from utils.errors import UserError


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=None,
                        help="partial YAML whose keys replace configs/config.yaml defaults")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and print the resolved config, then exit")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value")
    return parser.parse_args(argv)


def run_main(main: Callable[[Config], object], argv: list[str] | None, description: str) -> int:
    """Load the config from argv, call main(cfg) and return an exit code.

    A UserError becomes `error: <message>` on stderr and its exit code (2 for config errors);
    --debug lets the traceback through instead.
    """
    args = parse_args(argv, description)
    try:
        cfg = load_config(args.config, args.overrides)
        if args.dry_run:
            from utils.run_folder import format_config
            print(format_config(cfg))
            return 0
        main(cfg)
        return 0
    except UserError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
