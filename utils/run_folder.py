"""What a run folder records about itself: resolved config, git commit, package versions, seed."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

from utils.atomic import atomic_write_bytes
from utils.config import REPO_ROOT, Config, config_to_dict
from utils.errors import DataError

PACKAGES = ("torch", "numpy", "scikit-image", "pyyaml", "tqdm", "matplotlib")


def format_config(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def refuse_input_folders(out_dir: str | Path, data_cfg) -> None:
    """Raise if out_dir is, or lies inside, an input data folder: inputs are never written to."""
    out = Path(out_dir).resolve()
    for key in ("lr_dir", "hr_dir", "field_dir"):
        folder = Path(getattr(data_cfg, key)).resolve()
        if out == folder or folder in out.parents:
            raise DataError(f"output folder '{out_dir}' is inside data.{key} '{folder}'; "
                            f"choose a run.dir outside the input data")


def prepare_run_dir(run_dir: str | Path) -> Path:
    """Create run_dir (and check it is writable); raise a one-line error otherwise."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise DataError(f"run.dir '{run_dir}' cannot be written ({err.strerror})") from None
    return run_dir


def record_run(cfg: Config, run_dir: str | Path, script: str) -> None:
    """Write <script>_config.yaml and <script>_info.json (commit, versions, seed) into run_dir."""
    run_dir = prepare_run_dir(run_dir)
    atomic_write_bytes(run_dir / f"{script}_config.yaml", format_config(cfg).encode())
    info = {"script": script, "git_commit": git_commit(), "seed": cfg.run.seed,
            "sampling_seed": cfg.sampling.seed, "packages": package_versions()}
    atomic_write_bytes(run_dir / f"{script}_info.json", json.dumps(info, indent=1).encode())


HELD_OUT_CHECK_FILE = "held_out_check.json"  # written by benchmarks.held_out_check after a fine-tuning


def held_out_notice(cfg: Config) -> str:
    """Return one line on the run's own held-out check for sample.py ('' when it has none or flagged nothing).

    It names the cases the check flagged and the sampling setting it advised, or says that the
    sampling settings hold that advice already. Only for the run's own last.pt (sampling.checkpoint empty).
    """
    path = Path(cfg.run.dir) / HELD_OUT_CHECK_FILE
    if cfg.sampling.checkpoint or not path.is_file():
        return ""
    try:
        payload = json.loads(path.read_text())
        cases = payload["cases"]
        flagged = [case for case in cases if case["flag"]]
        advised = payload.get("advised")
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"note: {path} could not be read ({type(err).__name__}); run benchmarks.held_out_check again"
    if not flagged:
        return ""
    head = f"note: this run's held-out check flagged {len(flagged)} of {len(cases)} cases ({path})"
    if not advised:
        return f"{head}; keep its start ({payload.get('start', 'train.init_from')}) for sections like those"
    if all(getattr(cfg.sampling, key) == value for key, value in advised["changes"].items()):
        return f"{head}; sampling with the setting it advised ({advised['overrides']})"
    return f"{head}; it advised sampling with {advised['overrides']} (or keeping its start for sections like those)"
