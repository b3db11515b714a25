"""Warehouse: migrations, upserts with and without a key constraint, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from mlreport.warehouse import Warehouse, WarehouseError

T = datetime(2026, 1, 1, tzinfo=UTC)


def _commits(shas: list[str], subject: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "repo": ["r"] * len(shas),
            "sha": shas,
            "parents": [[] for _ in shas],
            "subject": [subject] * len(shas),
            "authored_at": [T] * len(shas),
        }
    )


def test_migrations_are_numbered_and_applied_once(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    version = wh.schema_version()
    assert version >= 1
    wh.close()
    wh = Warehouse(tmp_path / "w.duckdb")
    assert wh.migrate() == [] and wh.schema_version() == version
    assert {"commits", "deployments", "metric_values", "report_runs", "_sync_state"} <= set(
        wh.tables()
    )


@pytest.mark.parametrize("table", ["commits", "deployments"])
def test_upsert_keeps_one_row_per_key_and_the_last_value_wins(tmp_path, table):
    wh = Warehouse(tmp_path / "w.duckdb")
    if table == "commits":
        first, second = _commits(["a", "b", "a"], "one"), _commits(["b", "c"], "two")
        key, value, count = ("repo", "sha"), "subject", "SELECT sha, subject FROM commits"
    else:

        def deps(ids, status):
            return pl.DataFrame(
                {
                    "source": ["s"] * len(ids),
                    "deployment_id": ids,
                    "entity": ["e"] * len(ids),
                    "environment": ["production"] * len(ids),
                    "finished_at": [T] * len(ids),
                    "status": [status] * len(ids),
                }
            )

        first, second = deps(["a", "b", "a"], "success"), deps(["b", "c"], "failure")
        key, value = ("source", "deployment_id"), "status"
        count = "SELECT deployment_id, status FROM deployments"
    with wh.transaction():
        assert wh.upsert(table, first, key) == 2
        wh.upsert(table, second, key)
    rows = sorted(wh.con.execute(count).fetchall())
    one, two = ("one", "two") if table == "commits" else ("success", "failure")
    assert rows == [("a", one), ("b", two), ("c", two)], value


def test_upsert_refuses_unknown_columns(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(WarehouseError, match="no column"):
        wh.upsert("commits", _commits(["a"], "x").with_columns(pl.lit(1).alias("bogus")), ("sha",))


def test_fingerprint_ignores_synced_at_and_sees_content(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.upsert(
        "commits", _commits(["a"], "x").with_columns(pl.lit(T).alias("synced_at")), ("repo", "sha")
    )
    before = wh.fingerprint("commits")
    later = T.replace(year=2027)
    wh.upsert(
        "commits",
        _commits(["a"], "x").with_columns(pl.lit(later).alias("synced_at")),
        ("repo", "sha"),
    )
    assert wh.fingerprint("commits") == before
    wh.upsert("commits", _commits(["a"], "changed"), ("repo", "sha"))
    assert wh.fingerprint("commits") != before


def test_read_only_warehouse_needs_an_existing_file(tmp_path):
    with pytest.raises(WarehouseError, match="mlreport sync"):
        Warehouse(tmp_path / "missing.duckdb", read_only=True)


def test_a_second_writer_gets_a_clear_message(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseError, match="in use by another"):
            Warehouse(path)
    finally:
        holder.communicate("")


def test_settle_closes_a_half_read_result_so_relation_queries_work(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.con.execute("SELECT count(*) FROM deployments").fetchone()  # left half-read
    with pytest.raises(duckdb.Error, match="unfinished result"):
        wh.con.sql("SELECT 1").fetchall()
    wh.settle()
    assert wh.con.sql("SELECT 1").fetchall() == [(1,)]
