"""Replacing a file in one rename, so a reader (or a run killed half-way) sees the old file or
the new one, never half of one, and no temporary file is left behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a fresh temporary file beside ``path`` and rename it over ``path``.

    A symlink at ``path`` is replaced, not followed. ``mode`` (say 0o600 for a secret key) is
    set exactly, whatever the umask, before the file gets its name.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_changed(root: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each ``name -> bytes`` under ``root`` atomically, skipping files whose bytes are
    already there, so generated inputs keep their mtimes (and source fingerprints) when a
    generator runs again. Returns the paths written."""
    written = []
    for name, data in files.items():
        path = root / name
        if path.exists() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
        written.append(path)
    return written
