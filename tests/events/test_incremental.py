"""Incremental syncs: unchanged files are not opened, changed files are re-read and upserted."""

from __future__ import annotations

import os

from tests.events.conftest import deploy_csv, deploy_row, incident_csv


def _setup(world):
    world.write("d/2026-01.csv", deploy_csv(deploy_row(1), deploy_row(2)))
    world.write("d/2026-02.csv", deploy_csv(deploy_row(3)))
    world.write("i.csv", incident_csv("i1,svc,prod,,2026-01-01T00:00:00Z,,,t"))
    world.config(deployments="d/*.csv", incidents="i.csv")
    first = world.sync()
    assert first.reads["files"] == 3
    return first


def test_unchanged_files_are_not_opened(world):
    _setup(world)
    cursors = world.cursors()
    second = world.sync()
    assert second.reads == {}  # no file opened, no byte read
    assert second.rows == 0
    assert world.cursors() == cursors


def test_a_changed_file_is_reread_whole_and_upserted(world):
    first = _setup(world)
    before = world.cursors()["deployments"]["files"]
    world.write("d/2026-01.csv", deploy_csv(deploy_row(1), deploy_row(2, "failure"), deploy_row(4)))
    second = world.sync()
    size = (world.root / "d/2026-01.csv").stat().st_size
    assert second.reads == {"files": 1, "bytes": size}
    assert second.rows == 3
    rows = world.by_id("deployments")
    assert sorted(rows) == ["d1", "d2", "d3", "d4"]  # no duplicates
    assert rows["d2"]["status"] == "failure"
    after = world.cursors()["deployments"]["files"]
    (changed,) = [k for k in after if k.endswith("2026-01.csv")]
    assert after[changed] != before[changed]
    assert first.rows == 4


def test_a_new_file_in_the_glob_is_the_only_one_read(world):
    _setup(world)
    path = world.write("d/2026-03.csv", deploy_csv(deploy_row(5)))
    stats = world.sync()
    assert stats.reads == {"files": 1, "bytes": path.stat().st_size}
    assert sorted(world.by_id("deployments")) == ["d1", "d2", "d3", "d5"]


def test_a_touched_file_with_the_same_content_is_opened_but_yields_nothing(world):
    _setup(world)
    path = world.root / "i.csv"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    stats = world.sync()
    assert stats.reads["files"] == 1 and stats.rows == 0
    entry = next(iter(world.cursors()["incidents"]["files"].values()))
    assert entry["mtime_ns"] == st.st_mtime_ns + 1_000_000_000
    assert world.sync().reads == {}  # and the new mtime is remembered


def test_a_removed_file_leaves_its_rows_and_leaves_the_cursor(world):
    _setup(world)
    (world.root / "d/2026-02.csv").unlink()
    stats = world.sync()
    assert stats.reads == {}
    assert sorted(world.by_id("deployments")) == ["d1", "d2", "d3"]
    files = world.cursors()["deployments"]["files"]
    assert [k.rsplit("/", 1)[-1] for k in files] == ["2026-01.csv"]


def test_full_rereads_everything_without_duplicates(world):
    _setup(world)
    stats = world.sync(full=True)
    assert stats.reads["files"] == 3
    assert sorted(world.by_id("deployments")) == ["d1", "d2", "d3"]


def test_the_same_id_in_two_files_the_file_read_last_wins(world):
    _setup(world)
    world.write("d/2026-03.csv", deploy_csv(deploy_row(1, "rolled_back")))
    world.sync()
    assert world.by_id("deployments")["d1"]["status"] == "rolled_back"


def test_appending_to_a_log_file_upserts_the_new_rows(world):
    _setup(world)
    world.append("i.csv", "i2,svc,prod,,2026-01-05T00:00:00Z,,,t2\n")
    world.append("i.csv", "")  # a no-op write
    stats = world.sync()
    assert stats.rows == 2
    assert sorted(world.by_id("incidents")) == ["i1", "i2"]


def test_bytes_and_files_counters_add_up_over_files(world):
    first = _setup(world)
    total = sum(
        (world.root / n).stat().st_size for n in ("d/2026-01.csv", "d/2026-02.csv", "i.csv")
    )
    assert first.reads["bytes"] == total
