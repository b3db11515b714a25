"""`mlreport sql` is sandboxed at the engine: read-only, no file but the warehouse and the
prediction-log files it synced, no network, no extensions, and no statement can undo that."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from tests.predictions.conftest import World, log_frame

SECRET = "root-only secret"


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path / "project")
    w.root.mkdir()
    w.parquet("logs/a.parquet", log_frame(30))
    w.parquet("other/unsynced.parquet", log_frame(3))  # beside the project, never synced
    w.sync(path="logs/*.parquet")
    (tmp_path / "outside.txt").write_text(SECRET)
    return w


def sql(world: World, query: str):
    return CliRunner().invoke(cli, ["--warehouse", str(world.warehouse_path), "sql", query])


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


ATTACKS = [
    "COPY (SELECT 1) TO '{tmp}/x.csv'",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp}/x.sh'",
    "COPY deployments FROM '{tmp}/outside.txt'",
    "IMPORT DATABASE '{tmp}'",
    "EXPORT DATABASE '{tmp}/export'",
    "SELECT * FROM read_text('{tmp}/outside.txt')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/root/**')",
    "SELECT * FROM glob('{tmp}/**')",
    "SELECT * FROM read_csv('{tmp}/outside.txt')",
    "SELECT * FROM read_parquet('{tmp}/project/other/unsynced.parquet')",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
    "ATTACH '{tmp}/other.duckdb' AS o",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "PRAGMA enable_profiling",
    "SET allowed_directories = ['/']",
    "SELECT 1; COPY (SELECT 1) TO '{tmp}/y.csv'",
    "/* audit */ COPY (SELECT 1) TO '{tmp}/z.csv' -- done",
    "DROP TABLE deployments",
    "CREATE TABLE t (a INT)",
    "CALL pragma_database_size(); INSERT INTO entities (kind, name) VALUES ('model', 'x')",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_statement_is_refused_and_touches_nothing(world, tmp_path, attack):
    before = _snapshot(tmp_path)
    time.sleep(0.01)
    result = sql(world, attack.format(tmp=tmp_path))
    assert result.exit_code == 2, (attack, result.output)
    assert result.output.startswith("Error: "), result.output
    assert SECRET not in result.output and "root:" not in result.output
    after = _snapshot(tmp_path)
    assert after == before, sorted(set(after) ^ set(before))
    assert not any(p.name in ("x.csv", "x.sh", "y.csv", "z.csv") for p in tmp_path.rglob("*"))
    assert not os.path.exists("/tmp/x.sh")


def test_the_audit_queries_of_the_docs_still_work(world):
    for query in (
        "SELECT entity, count(*) FROM deployments GROUP BY 1",
        "SELECT log, entity, task, row_count FROM prediction_logs",
        "SELECT count(*) FROM predictions",
        'SELECT count(*) FROM "predictions__credit-predictions"',
        "SELECT run_id, families, failures FROM metric_runs",
        "SELECT table_name FROM information_schema.tables ORDER BY 1",
        "EXPLAIN SELECT count(*) FROM predictions",
    ):
        result = sql(world, query)
        assert result.exit_code == 0, (query, result.output)
    assert "30" in sql(world, "SELECT count(*) FROM predictions").output
