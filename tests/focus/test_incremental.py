"""A second sync over unchanged exports reads no export file; a re-delivered month re-reads
only that month's files; a touched but unchanged file is hashed, not checked; a sync killed
half-way leaves the previous state, and the next sync completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.focus.builder import aws_delivery, charge, touch_later, write_csv


def months(world, n: int = 3) -> None:
    export = world.root / "exports/focus"
    for m in range(1, n + 1):
        period = f"2026-{m:02d}"
        rows = [
            charge(str(m + i / 4), start=f"{period}-0{1 + i} 00:00:00", period=period)
            for i in range(3)
        ]
        aws_delivery(export, period, [rows[:2], rows[2:]], f"e{m}")


def test_second_sync_reads_no_export_file(world, monkeypatch):
    months(world)
    world.config(path="exports/focus", entity_tag="ml-model")
    first = world.sync()
    assert first.reads["files_read"] == 6 and first.reads["manifests_read"] == 3
    before = world.snapshot()

    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    second = world.sync()
    monkeypatch.undo()
    assert second.rows == 0
    assert second.reads == {"files": 6, "superseded": 0}
    assert not [p for p in opened if "exports" in p], opened
    assert world.snapshot()["exports"] == before["exports"]


def test_a_redelivered_month_rereads_only_that_month(world):
    months(world)
    world.config(path="exports/focus")
    world.sync()
    aws_delivery(
        world.root / "exports/focus",
        "2026-02",
        [[charge("7", start="2026-02-01 00:00:00", period="2026-02")]],
        "e2b",
    )
    stats = world.sync()
    assert stats.reads["files_read"] == 1 and stats.reads["files_hashed"] == 1
    assert stats.reads["manifests_read"] == 1 and stats.reads["superseded"] == 2
    assert world.query(
        "SELECT strftime(charge_period_start, '%m'), sum(effective_cost)::DOUBLE "
        "FROM cost_rows GROUP BY 1 ORDER BY 1"
    ) == [("01", 3.75), ("02", 7.0), ("03", 9.75)]


def test_a_touched_file_is_hashed_but_not_checked_again(world):
    path = write_csv(world.root / "b.csv", [charge("1")])
    world.config(path="b.csv")
    world.sync()
    touch_later(path)
    stats = world.sync()
    assert stats.reads["files_hashed"] == 1 and "files_read" not in stats.reads


def test_changing_the_entity_tag_rereads_for_entities(world):
    write_csv(world.root / "b.csv", [charge("1", tags={"team": "t", "app": "a"})])
    world.config(path="b.csv", entity_tag="team")
    world.sync()
    world.config(path="b.csv", entity_tag="app")
    stats = world.sync()
    assert stats.reads["files_read"] == 1
    assert world.query("SELECT entity FROM cost_rows") == [("a",)]


def _sync_process(world, warehouse: str) -> subprocess.Popen:
    code = "from mlreport.cli import main; main()"
    config = str(world.root / "mlreport.toml")
    return subprocess.Popen(
        [sys.executable, "-c", code, "--config", config, "--warehouse", warehouse, "sync"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_a_sync_killed_half_way_leaves_the_previous_state(world):
    write_csv(world.root / "small.csv", [charge("1")])
    world.config(path="*.csv*")
    world.sync()
    before = world.snapshot()
    rows = [charge(str(i % 97), resource=f"r{i}") for i in range(2000)]
    for n in range(6):
        write_csv(world.root / f"part{n:02d}.csv.gz", [dict(r, x_Discounts=f"p{n}") for r in rows])
    started = time.monotonic()  # a clean sync elsewhere sets the kill times; nothing asserts on it
    _sync_process(world, str(world.root / "clean.duckdb")).wait()
    clean = time.monotonic() - started
    killed = 0
    for fraction in (0.4, 0.6, 0.8):  # early first: under load a late kill may come too late
        proc = _sync_process(world, str(world.root / "wh.duckdb"))
        time.sleep(clean * fraction)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += proc.wait() == -signal.SIGKILL
        if world.snapshot()["cursors"] != before["cursors"]:
            break  # this one finished: the killed ones before it changed nothing
        assert world.snapshot() == before
    assert killed, "no sync was killed before it finished; the test proved nothing"
    stats = world.sync()
    assert stats.reads["files"] == 7
    assert world.query("SELECT count(*) FROM cost_rows") == [(1 + 6 * 2000,)]
