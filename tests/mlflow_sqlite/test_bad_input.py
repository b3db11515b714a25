"""Files that are not an MLflow database get an error naming the file and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlreport.connectors.mlflow.sqlite import SqliteBackend
from mlreport.sources import SourceError


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope" / "mlflow.db"
    with pytest.raises(SourceError, match=r"nope/mlflow.db: file not found.*sqlite:///"):
        SqliteBackend(path)


def test_directory(tmp_path: Path):
    with pytest.raises(SourceError, match="is a directory.*mlruns file layout is not supported"):
        SqliteBackend(tmp_path)


def test_text_file(tmp_path: Path):
    path = tmp_path / "mlflow.db"
    path.write_text("experiment_id,name\n1,credit\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"mlflow.db: not a sqlite database"):
        SqliteBackend(path)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "mlflow.db"
    path.touch()
    with pytest.raises(SourceError, match=r"mlflow.db: the file is empty"):
        SqliteBackend(path)


def test_sqlite_without_mlflow_tables(tmp_path: Path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (id INTEGER, total REAL)")
    with pytest.raises(SourceError, match=r"other.db: a sqlite database without MLflow's tables"):
        SqliteBackend(path)
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def test_sqlite_with_no_tables(tmp_path: Path):
    path = tmp_path / "blank.db"
    with sqlite3.connect(path) as con:  # a valid sqlite header, no tables left
        con.execute("CREATE TABLE t (x)")
        con.execute("DROP TABLE t")
    with pytest.raises(SourceError, match=r"blank.db: .*without MLflow's tables.*no tables at all"):
        SqliteBackend(path)


def _tracking_schema(con: sqlite3.Connection, version: str) -> None:
    """The tables this reader needs, as an older MLflow had them — minus runs.user_id."""
    con.executescript(
        f"""
        CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);
        INSERT INTO alembic_version VALUES ('{version}');
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT,
            artifact_location TEXT, lifecycle_stage TEXT, creation_time BIGINT,
            last_update_time BIGINT);
        CREATE TABLE experiment_tags (key TEXT, value TEXT, experiment_id INTEGER);
        CREATE TABLE runs (run_uuid TEXT, name TEXT, experiment_id INTEGER, status TEXT,
            start_time BIGINT, end_time BIGINT, lifecycle_stage TEXT, artifact_uri TEXT);
        CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
        CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
        CREATE TABLE metrics (key TEXT, value REAL, timestamp BIGINT, step BIGINT,
            is_nan BOOLEAN, run_uuid TEXT);
        CREATE TABLE latest_metrics (key TEXT, value REAL, timestamp BIGINT, step BIGINT,
            is_nan BOOLEAN, run_uuid TEXT);
        """
    )


def test_unknown_schema_names_the_alembic_version(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        _tracking_schema(con, "0a8213491aaa")
    with pytest.raises(SourceError) as err:
        SqliteBackend(path)
    message = str(err.value)
    assert "old.db" in message
    assert "alembic version 0a8213491aaa" in message
    assert "table runs lacks user_id" in message
    assert "mlflow db upgrade" in message


def test_tracking_only_schema_reads(tmp_path: Path):
    """A database with the tracking tables only (no registry, datasets or logged models)."""
    path = tmp_path / "tracking.db"
    with sqlite3.connect(path) as con:
        _tracking_schema(con, "x")
        con.executescript(
            """
            ALTER TABLE runs ADD COLUMN user_id TEXT;
            INSERT INTO experiments VALUES (0, 'Default', '/a/0', 'active', 5, 5);
            INSERT INTO runs VALUES ('r1', NULL, 0, 'FINISHED', NULL, 0, 'active', '', 'u');
            INSERT INTO tags VALUES ('mlflow.runName', 'from-tag', 'r1');
            INSERT INTO metrics VALUES ('m', 0, 7, 0, 1, 'r1');
            """
        )
    with SqliteBackend(path) as backend:
        (run,) = backend.runs(["0"])
        assert run["info"] == {
            "run_uuid": "r1",
            "run_id": "r1",
            "run_name": "from-tag",
            "experiment_id": "0",
            "user_id": "u",
            "status": "FINISHED",
            "lifecycle_stage": "active",
        }  # no start time, an end time of 0 and an empty artifact uri are left out
        assert run["inputs"] == {} and run["outputs"] == {}
        assert list(backend.metric_history("r1", "m")) == [
            {"key": "m", "value": "NaN", "timestamp": 7, "step": 0}
        ]
        assert list(backend.registered_models()) == []
        assert list(backend.model_versions("any")) == []
        assert list(backend.logged_models()) == []
        assert backend.alembic_version() == "x"


def test_corrupt_database_names_the_file(tmp_path: Path):
    path = tmp_path / "broken.db"
    with sqlite3.connect(path) as con:
        _tracking_schema(con, "x")
        con.execute("ALTER TABLE runs ADD COLUMN user_id TEXT")
        con.executemany(
            "INSERT INTO params VALUES (?, ?, 'r')", [(f"k{i}", "v" * 500) for i in range(500)]
        )
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 6] = b"\xff" * (4096 * 3)  # clobber pages after the schema page
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"broken.db: cannot read"):
        backend = SqliteBackend(path)
        list(backend.runs(["0"]))
        list(backend.metric_history("r", "k"))
        list(backend._all("SELECT count(*), max(length(value)) FROM params"))
