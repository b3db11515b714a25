"""A process lock beside the warehouse so two ``mlreport run`` never interleave."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


class LockHeld(Exception):
    """Another process holds the run lock."""


@contextlib.contextmanager
def run_lock(warehouse_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on ``<warehouse>.lock``; wait up to ``wait`` seconds for it."""
    path = Path(str(warehouse_path) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise LockHeld(
                        f"another mlreport run holds {path} (pid {holder}); it is still "
                        "running: wait for it, or pass --wait SECONDS to queue behind it"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
