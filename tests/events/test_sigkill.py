"""Fault injection: `mlreport sync` killed with SIGKILL half-way, then run again.

The warehouse after the interrupted sync holds whole files only (every file in a cursor has all
its rows, no other rows), and after the next sync it equals a clean sync into a fresh warehouse.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.events.conftest import warehouse_snapshot

pytestmark = pytest.mark.slow

DEPLOY_FILES = 3
DEPLOY_ROWS = 30_000  # per file
INCIDENT_ROWS = 20_000
CDEVENTS = 3_000
CDEVENT_INCIDENTS = CDEVENTS // 3  # every third event is incident.detected


def _deployments(n: int, start: int) -> pl.DataFrame:
    i = pl.int_range(start, start + n, eager=True)
    base = pl.datetime(2026, 1, 1, time_zone="UTC")
    return pl.DataFrame({"i": i}).select(
        pl.format("d{}", pl.col("i")).alias("deployment_id"),
        pl.format("svc-{}", pl.col("i") % 40).alias("entity"),
        pl.when(pl.col("i") % 3 == 0)
        .then(pl.lit("staging"))
        .otherwise(pl.lit("production"))
        .alias("environment"),
        pl.format("1.{}", pl.col("i") % 97).alias("version"),
        pl.lit("0123456789abcdef0123456789abcdef01234567").alias("commit_sha"),
        (base + pl.duration(minutes=pl.col("i")))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("started_at"),
        (base + pl.duration(minutes=pl.col("i") + 7))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("finished_at"),
        pl.when(pl.col("i") % 11 == 0)
        .then(pl.lit("failure"))
        .otherwise(pl.lit("success"))
        .alias("status"),
        pl.when(pl.col("i") % 13 == 0)
        .then(pl.lit("hotfix"))
        .otherwise(pl.lit("planned"))
        .alias("kind"),
        pl.lit("automated").alias("trigger"),
    )


def _incidents(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    base = pl.datetime(2026, 1, 1, time_zone="UTC")
    return pl.DataFrame({"i": i}).select(
        pl.format("i{}", pl.col("i")).alias("incident_id"),
        pl.format("svc-{}", pl.col("i") % 40).alias("entity"),
        pl.lit("production").alias("environment"),
        (base + pl.duration(minutes=3 * pl.col("i")))
        .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .alias("detected_at"),
        (base + pl.duration(minutes=3 * pl.col("i") + 45))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("resolved_at"),
        pl.format('Latency "p99", event {}', pl.col("i")).alias("title"),
    )


def _cdevents(n: int) -> str:
    lines = []
    for i in range(n):
        at = f"2026-03-{1 + i // 1440:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z"
        if i % 3 == 2:
            kind, subject = "incident.detected", f"inc-{i}"
            content = {
                "description": "slow",
                "environment": {"id": "production"},
                "service": {"id": f"svc-{i % 7}"},
            }
        else:
            kind = "service.rolledback" if i % 30 == 1 else "service.deployed"
            subject = f"svc-{i % 7}"
            content = {"environment": {"id": "production"}, "artifactId": f"pkg:pypi/svc@1.{i}"}
        lines.append(
            json.dumps(
                {
                    "context": {
                        "version": "0.4.1",
                        "id": f"ev-{i}",
                        "source": "/ci",
                        "type": f"dev.cdevents.{kind}.0.2.0",
                        "timestamp": at,
                    },
                    "subject": {
                        "id": subject,
                        "source": "/ci",
                        "type": kind.split(".")[0],
                        "content": content,
                    },
                }
            )
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sigkill")
    (root / "events").mkdir()
    for n in range(DEPLOY_FILES):
        _deployments(DEPLOY_ROWS, n * DEPLOY_ROWS).write_csv(root / f"events/deploy-{n}.csv")
    _incidents(INCIDENT_ROWS).write_ndjson(root / "events/incidents.jsonl")
    (root / "events/cd.jsonl").write_text(_cdevents(CDEVENTS), encoding="utf-8")
    (root / "mlreport.toml").write_text(
        '[[sources]]\nname = "log"\ntype = "events"\n'
        'deployments = "events/deploy-*.csv"\n'
        'incidents = "events/incidents.jsonl"\n'
        'cdevents = "events/cd.jsonl"\n',
        encoding="utf-8",
    )
    return root


def _command(root: Path, warehouse: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from mlreport.cli import main; main()",
        "--config",
        str(root / "mlreport.toml"),
        "--warehouse",
        str(warehouse),
        "sync",
    ]


def _run(root: Path, warehouse: Path) -> float:
    started = time.monotonic()
    done = subprocess.run(_command(root, warehouse), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # DuckDB removes the WAL after a checkpoint
        return 0


def _kill_when(root: Path, warehouse: Path, ready: Callable[[float, int], bool]) -> int:
    """Start a sync and SIGKILL it as soon as ``ready(seconds, wal_bytes)`` says so."""
    wal = Path(str(warehouse) + ".wal")
    proc = subprocess.Popen(
        _command(root, warehouse), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started = time.monotonic()
    while proc.poll() is None:
        if ready(time.monotonic() - started, _size(wal)):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    return proc.wait()


def _snapshot(warehouse: Path) -> dict[str, list]:
    return warehouse_snapshot(warehouse, read_only=False)  # replays a killed sync's WAL


def _only_whole_files(snapshot: dict[str, list]) -> None:
    """Every deployments file named in the cursor is stored whole, and nothing else is."""
    cursors = {stream: json.loads(c) for _, stream, c in snapshot["cursors"]}
    files = sorted(cursors.get("deployments", {}).get("files", {}))
    expected: set[str] = set()
    for name in files:
        expected |= set(pl.read_csv(name, columns=["deployment_id"])["deployment_id"])
    stored = {r[1] for r in snapshot["deployments"] if not r[1].startswith("ev-")}
    assert stored == expected


def test_sync_killed_half_way_then_rerun_equals_a_clean_sync(inputs, tmp_path):
    reference = tmp_path / "reference.duckdb"
    clean_seconds = _run(inputs, reference)  # chooses the second delay; nothing asserts on it
    warehouse = tmp_path / "killed.duckdb"
    # 1. Killed while a file's commit is being written to the WAL.
    code = _kill_when(inputs, warehouse, lambda _, wal: wal > 1_000_000)
    assert code == -signal.SIGKILL
    interrupted = _snapshot(warehouse)
    _only_whole_files(interrupted)
    # 2. Killed again further on, typically between the commits of two files.
    _kill_when(inputs, warehouse, lambda seconds, _: seconds > clean_seconds * 0.6)
    interrupted = _snapshot(warehouse)
    _only_whole_files(interrupted)
    # Whole streams only: the file's incidents, the CDEvents' incidents, both or neither
    # (which of them a kill after 60% of a clean sync finds depends on the machine's load).
    whole = {0, INCIDENT_ROWS, CDEVENT_INCIDENTS, INCIDENT_ROWS + CDEVENT_INCIDENTS}
    assert len(interrupted["incidents"]) in whole
    # 3. The next sync completes the work.
    _run(inputs, warehouse)
    assert _snapshot(warehouse) == _snapshot(reference)
