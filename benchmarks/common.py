"""What every benchmark shares: its own flags next to the config's, machine facts, peak memory, output files.

Each script is run from the repository root as
    python -m benchmarks.<name> [--config PARTIAL.yaml] [section.key=value ...] [--out DIR] [own flags]
Config handling (layering, overrides, --dry-run, one-line errors) is utils.cli.run_main's; the
benchmark's own flags are taken out of argv first.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from utils.atomic import atomic_write_bytes
from utils.cli import run_main


def int_list(text: str) -> list[int]:
    """Parse '1,2,4' into [1, 2, 4] (an argparse type)."""
    return [int(v) for v in text.split(",") if v.strip()]


def run_benchmark(main: Callable, argv: list[str] | None, description: str,
                  add_flags: Callable[[argparse.ArgumentParser], None]) -> int:
    """Split the benchmark's own flags (add_flags adds them, plus --out) from argv; hand the rest to run_main.

    main(cfg, bench_args) then sees the resolved Config and the benchmark's flags.
    """
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--out", default="", help="output folder; default run.dir/bench")
    parser.add_argument("--config", default=None)  # read here for labels, handed back to run_main
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 keeps torch's default")
    add_flags(parser)
    if argv is None:
        argv = sys.argv[1:]
    if "-h" in argv or "--help" in argv:
        print(description)
        parser.print_help()
        print("\nconfig options (utils.cli):")
    bench_args, rest = parser.parse_known_args(argv)
    rest = (["--config", bench_args.config] if bench_args.config else []) + rest
    if bench_args.threads > 0:
        torch.set_num_threads(bench_args.threads)
    return run_main(lambda cfg: main(cfg, bench_args), rest, description)


def output_dir(cfg, bench_args) -> Path:
    """Return the folder that receives the JSON and PNG (created): --out, else run.dir/bench."""
    out = Path(bench_args.out or Path(cfg.run.dir) / "bench")
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages (other jobs on a shared machine show up here)."""
    return [round(v, 2) for v in os.getloadavg()]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info(device: torch.device) -> dict:
    """Return what a reader needs to judge a timing: CPU, threads, memory, torch, device, date, load."""
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = float("nan")
    info = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "memory_gb": round(mem_gb, 1), "torch": torch.__version__, "python": platform.python_version(),
            "device": str(device), "date": datetime.date.today().isoformat(), "load_before": load_average()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _release_freed_cpu_memory() -> None:
    """Give freed heap pages back to the OS (glibc), so the next peak is not hidden by reused memory."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _proc_status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def start_peak_memory(device: torch.device) -> float:
    """Reset the peak-memory counter; return the baseline (bytes) that peak_memory_mb subtracts.

    CUDA: torch.cuda peak statistics. CPU: the process's peak RSS (VmHWM), reset by writing 5 to
    /proc/self/clear_refs; where that is not allowed, ru_maxrss is used and only a new peak shows.
    """
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        return float(torch.cuda.memory_allocated(device))
    _release_freed_cpu_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_kb("VmRSS") * 1024
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def peak_memory_mb(device: torch.device, baseline: float) -> float:
    """Return the peak memory (MiB) above the baseline since start_peak_memory."""
    if device.type == "cuda":
        sync(device)
        return (torch.cuda.max_memory_allocated(device) - baseline) / 2**20
    try:
        peak = _proc_status_kb("VmHWM") * 1024
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    return max(peak - baseline, 0.0) / 2**20


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    """Return (fn(), wall seconds), synchronising CUDA before and after."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """Return a GitHub markdown table; floats are printed as given (format them first)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(path, json.dumps(payload, indent=1).encode())


def merge_rows(path: Path, rows: list[dict], key: Callable[[dict], tuple]) -> list[dict]:
    """Return the rows already in the JSON at path (its 'rows') with those of the same key replaced.

    Lets two runs with different configs (e.g. paper and quick) share one table and one plot.
    """
    old = json.loads(path.read_text()).get("rows", []) if path.exists() else []
    new_keys = {key(r) for r in rows}
    return [r for r in old if key(r) not in new_keys] + rows


def config_label(bench_args) -> str:
    """Return --label when given, else the stem of --config, else 'paper' (configs/config.yaml alone)."""
    if getattr(bench_args, "label", ""):
        return bench_args.label
    return Path(bench_args.config).stem if bench_args.config else "paper"
