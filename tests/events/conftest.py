"""A tiny world for events-source tests: files in a temp folder, a config, a real warehouse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlreport.config import load_config
from mlreport.pipeline import sync_all
from mlreport.sources import SyncStats
from mlreport.warehouse import Warehouse

DEPLOY_HEADER = (
    "deployment_id,entity,environment,version,commit_sha,model_version,"
    "started_at,finished_at,status,kind,trigger"
)
INCIDENT_HEADER = (
    "incident_id,entity,environment,severity,detected_at,resolved_at,cause_deployment_id,title"
)


@dataclass
class EventsWorld:
    root: Path
    source: str = "log"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "wh.duckdb"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def append(self, name: str, content: str) -> Path:
        path = self.root / name
        with path.open("a", encoding="utf-8") as fh:
            fh.write(content)
        return path

    def config(self, **options: Any) -> Path:
        """mlreport.toml with one events source; option values are paths or lists of them."""
        lines = [
            "[warehouse]",
            'path = "wh.duckdb"',
            "",
            "[[sources]]",
            f'name = "{self.source}"',
            'type = "events"',
        ]
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
        path = self.root / "mlreport.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def sync(self, full: bool = False) -> SyncStats:
        config = load_config(self.root / "mlreport.toml")
        with Warehouse(config.warehouse.path) as wh:
            return sync_all(wh, config, full=full, fail_fast=True)[0]

    def rows(self, table: str) -> list[dict[str, Any]]:
        key = "deployment_id" if table == "deployments" else "incident_id"
        if not self.warehouse_path.exists():
            return []
        with Warehouse(self.warehouse_path, read_only=True) as wh:
            frame = wh.query(f"SELECT * EXCLUDE (synced_at) FROM {table} ORDER BY source, {key}")
        return frame.to_dicts()

    def snapshot(self) -> dict[str, Any]:
        """Both tables (without synced_at) and every cursor, read in one go."""
        return warehouse_snapshot(self.warehouse_path, read_only=True)

    def by_id(self, table: str) -> dict[str, dict[str, Any]]:
        key = "deployment_id" if table == "deployments" else "incident_id"
        return {r[key]: r for r in self.rows(table)}

    def cursors(self) -> dict[str, Any]:
        with Warehouse(self.warehouse_path, read_only=True) as wh:
            rows = wh.con.execute("SELECT stream, cursor FROM _sync_state ORDER BY 1").fetchall()
        return {stream: json.loads(cursor) for stream, cursor in rows}


@pytest.fixture
def world(tmp_path: Path) -> EventsWorld:
    return EventsWorld(tmp_path)


def csv_text(header: str, *rows: str, eol: str = "\n") -> str:
    return eol.join([header, *rows]) + eol


def deploy_csv(*rows: str) -> str:
    return csv_text(DEPLOY_HEADER, *rows)


def incident_csv(*rows: str) -> str:
    return csv_text(INCIDENT_HEADER, *rows)


def deploy_row(i: int | str, status: str = "success", **over: str) -> str:
    """One deployments CSV row; keyword arguments replace columns."""
    values = {
        "deployment_id": f"d{i}",
        "entity": "credit-risk",
        "environment": "production",
        "version": "1.0",
        "commit_sha": "abc1234",
        "model_version": "",
        "started_at": "2026-01-01T10:00:00Z",
        "finished_at": "2026-01-01T10:05:00Z",
        "status": status,
        "kind": "",
        "trigger": "automated",
    }
    values.update(over)
    return ",".join(values[c] for c in DEPLOY_HEADER.split(","))


def warehouse_snapshot(path: Path, read_only: bool) -> dict[str, Any]:
    """deployments and incidents (without synced_at) and every cursor, in key order.

    Open read-write after a killed sync: that replays the WAL the killed process left.
    """
    with Warehouse(path, read_only=read_only) as wh:
        return {
            "deployments": wh.query(
                "SELECT * EXCLUDE (synced_at) FROM deployments ORDER BY source, deployment_id"
            ).rows(),
            "incidents": wh.query(
                "SELECT * EXCLUDE (synced_at) FROM incidents ORDER BY source, incident_id"
            ).rows(),
            "cursors": wh.con.execute(
                "SELECT source, stream, cursor FROM _sync_state ORDER BY source, stream"
            ).fetchall(),
        }
