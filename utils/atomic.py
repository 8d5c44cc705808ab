"""Atomic file writes: a reader sees either the old file or the whole new one, never a torn file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write_with(path: str | Path, write: Callable[[str], None]) -> None:
    """Let write(tmp) fill a temporary file in path's folder, flush it to disk, then rename it to path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        write(tmp)
        with open(tmp, "r+b") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write data to path through a temporary file in the same folder and a rename."""
    atomic_write_with(path, lambda tmp: Path(tmp).write_bytes(data))
