"""Publishing a run's outputs as one set.

``mlreport run`` renders every report of a day into a staging folder under ``out/.runs/`` (same
file system) and then swaps the day's name, ``out/<YYYY-MM-DD>``, a symbolic link, to it with one
atomic rename. A reader, a later run or a kill at any moment sees either the complete previous
run or the complete new one, whose manifests' sha256s match its files. Staging folders left by
killed runs are removed by the next run (runs hold the run lock, so none is in use then).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger("mlreport")

RUNS = ".runs"
COMPLETE = "check.json"  # written last by a run: a folder holding it is an archived run


def staging_dir(out: Path, day: str) -> Path:
    """A fresh folder for one run of ``day``, on the archive's file system."""
    path = out / RUNS / f"{day}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def publish(out: Path, day: str, staged: Path) -> Path:
    """Point ``out/<day>`` at ``staged`` in one atomic rename; the run it pointed at stays."""
    link = out / day
    tmp = out / f".{day}.{uuid.uuid4().hex[:12]}.link"
    os.symlink(os.path.relpath(staged, out), tmp)
    previous: Path | None = None
    if link.is_symlink():
        previous = link.resolve()
    elif link.exists():  # a day folder written before publication was atomic
        previous = out / RUNS / f"{day}-before-{uuid.uuid4().hex[:12]}"
        link.rename(previous)
    os.replace(tmp, link)
    # ``previous`` is an archived run: it stays (a second run of a day never overwrites the
    # first; `mlreport history` lists both). Retention is what removes old runs.
    return link


def clean_stale(out: Path) -> list[Path]:
    """Remove staging folders no day points at, and temporary links: what killed runs left."""
    if not out.is_dir():
        return []
    if (out / RUNS).is_symlink():  # staging there would write, and cleaning delete, elsewhere
        raise ValueError(
            f"{out / RUNS} is a symbolic link; mlreport keeps its runs in a real folder there. "
            "Remove the link (or point [output] dir elsewhere) and run again"
        )
    live = {p.resolve() for p in out.iterdir() if p.is_symlink() and not p.name.startswith(".")}
    removed = []
    for p in out.iterdir():
        if p.name.startswith(".") and p.name.endswith(".link") and p.is_symlink():
            p.unlink()
            removed.append(p)
    runs = out / RUNS
    if runs.is_dir():
        for p in runs.iterdir():
            if p.resolve() not in live and not (p / COMPLETE).exists():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    if removed:
        log.info("removed %d stale staging folder(s) of killed runs under %s", len(removed), out)
    return removed
