"""Migration 013 on a warehouse made at the previous schema, with rows in it: every row kept,
model_events keyed by alias or tag (the microsecond nudges of old syncs taken off where the key
now tells events apart), deployments checked for a strategy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from mlreport.warehouse import Warehouse, _migrations

T = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)  # a whole millisecond
US = timedelta(microseconds=1)


def _old_warehouse(path: Path) -> None:
    """A warehouse at schema 12 (every migration before 013), with rows."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMPTZ)"
    )
    for version, name, sql in _migrations():
        if version < 13:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, ?, now())", [version, name])
    events = [
        # two aliases set on version 1 in one sync: the second was nudged by 1 µs
        ("m", "1", "alias_set", T, {"alias": "champion", "previous_version": None}),
        ("m", "1", "alias_set", T + US, {"alias": "challenger", "previous_version": None}),
        ("m", "1", "version_created", T, {"timestamp": "creation_timestamp"}),
        ("m", "1", "tag_changed", T, {"tag": "approved", "old": None, "new": "true"}),
        ("m", "1", "tag_changed", T + US, {"tag": "owner", "old": None, "new": "ann"}),
        # a lone event whose time has sub-millisecond digits of its own: left as it is
        ("n", "2", "alias_removed", T + 5 * US, {"alias": "champion", "new_version": None}),
    ]
    for name, version, event, at, detail in events:
        con.execute(
            "INSERT INTO model_events VALUES ('mlflow', ?, ?, ?, ?, 'sync_time', ?, ?)",
            [name, version, event, at, json.dumps(detail), T],
        )
    con.execute(
        "INSERT INTO deployments VALUES ('ev', 'd1', 'm', 'production', '1.0', 'abc', '1', ?, ?, "
        "'success', 'rollback', 'manual', ?)",
        [T, T, T],
    )
    con.execute(
        "INSERT INTO model_versions VALUES ('mlflow', 'm', '1', 'r1', 'runs:/r1/model', 'READY', "
        "NULL, '{}', ['champion'], ?, ?, ?)",
        [T, T, T],
    )
    con.close()


def test_upgrade_keeps_every_row_and_keys_events(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _old_warehouse(path)
    with Warehouse(path) as wh:
        assert wh.schema_version() >= 13
        events = wh.con.execute(
            'SELECT name, version, event, key, "at" FROM model_events ORDER BY name, event, key'
        ).fetchall()
        assert events == [
            ("m", "1", "alias_set", "challenger", T),  # the nudge is gone: the key differs
            ("m", "1", "alias_set", "champion", T),
            ("m", "1", "tag_changed", "approved", T),
            ("m", "1", "tag_changed", "owner", T),
            ("m", "1", "version_created", "", T),
            ("n", "2", "alias_removed", "champion", T + 5 * US),
        ]
        details = wh.con.execute("SELECT detail FROM model_events").fetchall()
        assert len(details) == 6 and all(json.loads(d) for (d,) in details)
        # the key is in the primary key now: the same moment, another alias, is a new row
        wh.con.execute(
            'INSERT INTO model_events (source, name, version, event, key, "at") '
            "VALUES ('mlflow', 'm', '1', 'alias_set', 'production', ?)",
            [T],
        )
        with pytest.raises(duckdb.ConstraintException):
            wh.con.execute(
                'INSERT INTO model_events (source, name, version, event, key, "at") '
                "VALUES ('mlflow', 'm', '1', 'alias_set', 'champion', ?)",
                [T],
            )
        # deployments: the row kept, strategy unknown, checked like status and kind
        assert wh.con.execute(
            "SELECT deployment_id, kind, trigger, started_at, strategy FROM deployments"
        ).fetchall() == [("d1", "rollback", "manual", T, None)]
        wh.con.execute("UPDATE deployments SET strategy = 'canary'")
        with pytest.raises(duckdb.ConstraintException, match="strategy"):
            wh.con.execute("UPDATE deployments SET strategy = 'big_bang'")
        with pytest.raises(duckdb.ConstraintException):
            wh.con.execute("UPDATE deployments SET kind = 'sideways'")
        # model_versions: the new columns, not yet known
        assert wh.con.execute(
            "SELECT version, aliases, model_id, artifacts_present FROM model_versions"
        ).fetchall() == [("1", ["champion"], None, None)]
        assert wh.con.execute("SELECT count(*) FROM logged_models").fetchall() == [(0,)]
        assert wh.con.execute("SELECT count(*) FROM run_inputs").fetchall() == [(0,)]


def test_upgrade_of_an_empty_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMPTZ)"
    )
    for version, name, sql in _migrations():
        if version < 13:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, ?, now())", [version, name])
    con.close()
    with Warehouse(path) as wh:
        assert "key" in wh.columns("model_events") and "strategy" in wh.columns("deployments")
