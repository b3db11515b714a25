"""The archive of runs under the output folder: each run's status, retention, and the index.

Layout (see ``mlreport.publish``): ``out/.runs/<day>-<id>/`` holds one run's files and
``out/<YYYY-MM-DD>`` is a symbolic link to the day's last run. Any other link in ``out/``
that points into ``.runs`` (``ln -s .runs/<id> audit-2026-q1``) pins that run.

Retention (``[output] keep_days``) removes the days older than ``keep_days`` before the run's
``as_of``, but never the run just published, never a run some remaining link still points at
(a signed run that is still referenced included), never anything outside ``out/`` and never
through a symbolic link leading out of it: a day link that points elsewhere is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlreport.atomic import write_atomically
from mlreport.publish import RUNS

log = logging.getLogger("mlreport")

RUN_RECORD = "run.json"  # the run's as-of, status and errors, written into its folder
STATUSES = ("ok", "policy failure", "errors")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day_of(name: str) -> date | None:
    """The date a day entry's name stands for; ``None`` for any other name."""
    if not _DAY.fullmatch(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def run_status(errors: list[str], policy_failed: bool) -> str:
    """What the index and a scheduler see: errors beat a policy failure, which beats ok."""
    return "errors" if errors else "policy failure" if policy_failed else "ok"


def write_run_record(folder: Path, as_of: datetime, status: str, errors: list[str]) -> Path:
    """``run.json`` in the run's staged folder, so the index knows how each archived run ended."""
    record = {"as_of": as_of.isoformat(), "status": status, "errors": errors}
    path = folder / RUN_RECORD
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def run_folder(out: Path, entry: Path) -> Path | None:
    """The folder of runs that ``entry`` (a name in ``out/``) stands for, without following a
    link out of ``out``: a link into ``out/.runs`` (its target, which may be gone), or a real
    day folder of the time before publication was atomic. ``None`` for anything else."""
    runs = out / RUNS
    if entry.is_symlink():
        if runs.is_symlink():
            return None
        target = Path(os.path.normpath(out / os.readlink(entry)))
        if target.parent != runs:  # elsewhere, through "..", or via another link: not ours
            return None
        return None if target.is_symlink() else target
    if entry.is_dir():
        return entry
    return None


def _references(out: Path, skip: set[Path]) -> set[Path]:
    """The run folders that links in ``out/`` (other than ``skip``) point at."""
    refs = set()
    for entry in out.iterdir():
        if entry.name.startswith(".") or entry in skip or not entry.is_symlink():
            continue
        folder = run_folder(out, entry)
        if folder is not None:
            refs.add(folder)
    return refs


def _linked_names(out: Path) -> set[str]:
    """Names in ``out/`` that another link there points at (``ln -s 2026-03-01 keep``): such
    a day is pinned as it is, link and run."""
    names = set()
    for entry in out.iterdir():
        if entry.is_symlink() and not entry.name.startswith("."):
            target = Path(os.path.normpath(out / os.readlink(entry)))
            if target.parent == out:
                names.add(target.name)
    return names


def _looks_like_run(folder: Path) -> bool:
    """A real day folder is removed only if mlreport wrote it (a manifest or check.json)."""
    return (folder / "check.json").is_file() or any(folder.glob("*.manifest.json"))


def apply_retention(out: Path, keep_days: int | None, as_of: datetime, last: str) -> list[Path]:
    """Remove the days older than ``keep_days`` before ``as_of``, except the day ``last`` (the
    run just published) and runs still linked from ``out/``; return what was removed."""
    if keep_days is None or not out.is_dir():
        return []
    out = Path(os.path.abspath(out))
    cutoff = as_of.date() - timedelta(days=keep_days)
    expired = set()
    pinned = _linked_names(out)
    for entry in out.iterdir():
        day = day_of(entry.name)
        if day is None or day >= cutoff or entry.name == last or entry.name in pinned:
            continue
        if run_folder(out, entry) is None:
            log.info("retention: left %s alone: it does not point into %s", entry, out / RUNS)
            continue
        expired.add(entry)
    kept = _references(out, skip=expired)
    removed: list[Path] = []
    for entry in sorted(expired):
        folder = run_folder(out, entry)
        if folder == entry and not _looks_like_run(folder):
            log.info("retention: left %s alone: no mlreport run in it", entry)
            continue
        try:
            _remove(entry, None if folder in kept else folder)
        except OSError as exc:
            log.warning("retention: could not remove %s (%s); remove it by hand", entry, exc)
            continue
        removed.append(entry)
    removed += _remove_superseded(out, cutoff, _references(out, skip=set()))
    if removed:
        log.info("retention: removed %d run(s) older than %d days", len(removed), keep_days)
    return removed


def _remove_superseded(out: Path, cutoff: date, kept: set[Path]) -> list[Path]:
    """Remove the archived runs in ``out/.runs`` of days before ``cutoff`` that no link in
    ``out/`` points at any more: a day run twice keeps its first run there (it is never
    overwritten), and once the day expires that run goes too."""
    runs = out / RUNS
    if runs.is_symlink() or not runs.is_dir():
        return []
    removed = []
    for folder in sorted(runs.iterdir()):
        day = day_of(folder.name[:10])
        if day is None or day >= cutoff or folder in kept or folder.is_symlink():
            continue
        if not folder.is_dir() or not _looks_like_run(folder):
            continue
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            log.warning("retention: could not remove %s (%s); remove it by hand", folder, exc)
            continue
        removed.append(folder)
    return removed


def _remove(entry: Path, folder: Path | None) -> None:
    """Unlink the day ``entry``, then delete ``folder`` (never through a link)."""
    if entry.is_symlink():
        entry.unlink()
    if folder is not None and folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)


def read_runs(out: Path) -> list[dict[str, Any]]:
    """Every archived day, newest first: its as-of, status, errors and reports with their files.
    A manifest or run record that cannot be read is named, not fatal."""
    runs = []
    days = [p for p in out.iterdir() if day_of(p.name) is not None]
    for entry in sorted(days, key=lambda p: p.name, reverse=True):
        folder = run_folder(out, entry)
        if folder is None or not folder.is_dir():
            continue
        reports = [_report(m) for m in sorted(folder.glob("*.manifest.json"))]
        if not reports:
            continue
        record = _record(folder)
        as_of = record.get("as_of") or next((r["as_of"] for r in reports if r["as_of"]), None)
        runs.append(
            {
                "day": entry.name,
                "as_of": as_of if isinstance(as_of, str) else None,
                "status": record.get("status", "unknown"),
                "errors": [str(e) for e in record.get("errors", [])],
                "reports": reports,
            }
        )
    return runs


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("index: skipped %s, which cannot be read: %s", path, exc)
        return None


def _report(manifest: Path) -> dict[str, Any]:
    name = manifest.name.removesuffix(".manifest.json")
    data = _read_json(manifest)
    if not isinstance(data, dict):
        return {"name": name, "files": [], "as_of": None, "unreadable": True}
    outputs = data.get("outputs")
    files = [o.get("file") for o in outputs.values()] if isinstance(outputs, dict) else []
    as_of = data.get("as_of")
    return {
        "name": name,
        "files": sorted(f for f in files if isinstance(f, str) and "/" not in f),
        "as_of": as_of if isinstance(as_of, str) else None,
    }


def _record(folder: Path) -> dict[str, Any]:
    """The run record, or for runs archived before it existed, the status check.json implies."""
    if (folder / RUN_RECORD).exists():
        data = _read_json(folder / RUN_RECORD)
        if isinstance(data, dict) and data.get("status") in STATUSES:
            return data
        return {"status": "unknown"}
    checks = _read_json(folder / "check.json") if (folder / "check.json").exists() else None
    if not isinstance(checks, list):
        return {"status": "unknown"}
    failed = any(
        isinstance(c, dict) and not c.get("passed") and c.get("severity") == "error" for c in checks
    )
    return {"status": run_status([], failed)}


def write_index(out: Path, env: Any) -> Path:
    """Rewrite ``out/index.html`` from ``read_runs`` in one atomic rename (a reader sees the old
    page or the new one, never half of one); ``env`` is the report Jinja2 environment."""
    html = env.get_template("index.html.j2").render(runs=read_runs(out))
    path = out / "index.html"
    write_atomically(path, html.encode("utf-8"))
    return path
