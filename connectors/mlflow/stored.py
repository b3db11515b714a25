"""What this source wrote to the warehouse before, read back in the row builders' shape (times
in epoch milliseconds): rows to write again marked deleted or rolled back, the git commits of
runs, and the registry state a sync without a cursor (``--full``) diffs against.

Every function takes the warehouse the sync writes to (None outside a sync: nothing stored)
and the source's name, as each table holds the rows of several sources."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from mlreport.connectors.mlflow.rows import (
    DEPLOYMENT_SCHEMA,
    EXPERIMENT_SCHEMA,
    RUN_SCHEMA,
    VERSION_SCHEMA,
    epoch_rows,
)
from mlreport.warehouse import Warehouse


def stored_rows(
    warehouse: Warehouse | None, source: str, table: str, key: str, ids: list[str]
) -> list[dict]:
    """Stored rows of this source, as the row builders make them (times in ms)."""
    if warehouse is None or not ids:
        return []
    schema = {
        "experiments": EXPERIMENT_SCHEMA,
        "runs": RUN_SCHEMA,
        "deployments": DEPLOYMENT_SCHEMA,
    }[table]
    times = [c for c, t in schema.items() if t == pl.Int64 and c not in ("step",)]
    cols = ", ".join(f'"{c}"' for c in schema)
    rel = warehouse.con.sql(
        f"SELECT {cols} FROM {table} WHERE source = ? AND {key} IN (SELECT unnest(?::VARCHAR[]))",
        params=[source, ids],
    )
    return list(epoch_rows(rel.pl(), times))


def deleted_versions(
    warehouse: Warehouse | None, source: str, gone: list[tuple[str, str]]
) -> list[dict]:
    """Versions deleted in MLflow keep their row, with status DELETED and no aliases."""
    if not gone or warehouse is None:
        return []
    out = []
    for name, number in gone:
        rel = warehouse.con.sql(
            f"SELECT {', '.join(VERSION_SCHEMA)} FROM model_versions "
            "WHERE source = ? AND name = ? AND version = ?",
            params=[source, name, number],
        )
        for row in epoch_rows(rel.pl(), ("created_at", "updated_at")):
            out.append(dict(row, status="DELETED", aliases=[]))
    return out


def stored_snapshot(warehouse: Warehouse | None, source: str) -> tuple[dict | None, int | None]:
    """The registry as last stored (for --full); None when nothing is stored yet."""
    if warehouse is None:
        return None, None
    models = warehouse.con.sql(
        "SELECT name, aliases, epoch_ms(synced_at) FROM registered_models WHERE source = ?",
        params=[source],
    ).fetchall()
    if not models:
        return None, None
    snap: dict[str, Any] = {
        name: {"aliases": json.loads(aliases or "{}"), "versions": {}}
        for name, aliases, _ in models
    }
    since = max(m[2] for m in models if m[2] is not None) if models else None
    versions = warehouse.con.sql(
        "SELECT name, version, tags, epoch_ms(created_at), epoch_ms(updated_at), status "
        "FROM model_versions WHERE source = ?",
        params=[source],
    ).fetchall()
    for name, version, tags, created, updated, status in versions:
        if name in snap and status != "DELETED":
            snap[name]["versions"][version] = {
                "tags": json.loads(tags or "{}"),
                "created": created,
                "updated": updated,
            }
    return snap, since


def stored_deployed(warehouse: Warehouse | None, source: str) -> dict:
    """{model: {environment: the id of its latest deployment}}, as last stored."""
    if warehouse is None:
        return {}
    rows = warehouse.con.sql(
        "SELECT entity, environment, arg_max(deployment_id, finished_at) FROM deployments "
        "WHERE source = ? GROUP BY ALL",
        params=[source],
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for entity, env, dep in rows:
        out.setdefault(entity, {})[env] = dep
    return out
