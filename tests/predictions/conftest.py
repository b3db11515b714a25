"""A small world for predictions-source tests: log files in a temp folder, a config, a real
DuckDB warehouse, and syncs through the kernel's ``sync_all``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from mlreport.config import Config, parse_config, validate_options
from mlreport.connectors.predictions.source import PredictionsSource
from mlreport.sources import SyncStats, sync_source
from mlreport.warehouse import Warehouse

START = datetime(2026, 1, 1, tzinfo=UTC)


def log_frame(n: int = 20, start: datetime = START, seed: int = 0) -> pl.DataFrame:
    """A deterministic credit-style log: one row per hour from ``start``."""
    rows = []
    for i in range(n):
        score = ((i * 37 + seed * 11) % 100) / 100
        rows.append(
            {
                "ts": start + timedelta(hours=i),
                "p_default": score,
                "defaulted": (i + seed) % 3 == 0,
                "model_version": f"v{1 + i % 2}",
                "income": 1000.0 + 10 * i,
                "debt_ratio": i % 7,
                "region": ["north", "south", "east"][i % 3],
                "sex": ["F", "M"][i % 2],
                "age_band": ["18-25", "26-40", "41+"][i % 3],
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col("ts").dt.cast_time_unit("us"))


BASE_OPTIONS: dict[str, Any] = {
    "entity": "credit-risk",
    "task": "classification",
    "columns": {
        "timestamp": "ts",
        "prediction": "CAST(p_default >= 0.5 AS INTEGER)",
        "score": "p_default",
        "label": "defaulted",
        "model_version": "model_version",
    },
    "features": {
        "numeric": ["income", "debt_ratio"],
        "categorical": ["region"],
        "sensitive": ["sex", "age_band"],
        "intersections": [["sex", "age_band"]],
    },
}


def build(config: Config) -> list[PredictionsSource]:
    """The config's sources, built without loading every plugin (imports are slow here)."""
    out = []
    for i, src in enumerate(config.sources):
        cls = PredictionsSource
        options = validate_options(cls.Options, src.options, config, ("sources", i))
        out.append(cls(src.name, options, config))
    return out


@dataclass
class World:
    root: Path
    name: str = "credit-predictions"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "wh.duckdb"

    def parquet(self, rel: str, frame: pl.DataFrame) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)
        return path

    def csv(self, rel: str, frame: pl.DataFrame) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(path)
        return path

    def sync(self, full: bool = False, **options: Any) -> SyncStats:
        """Sync one predictions source with BASE_OPTIONS updated by ``options``."""
        return self.sync_many([{**BASE_OPTIONS, **options}], full=full)[0]

    def sync_many(self, sources: list[dict[str, Any]], full: bool = False) -> list[SyncStats]:
        entries = []
        for i, opts in enumerate(sources):
            entry = {"name": opts.pop("name", self.name if i == 0 else f"log{i}")}
            entry["type"] = "predictions"
            entry.update(opts)
            entries.append(entry)
        config = parse_config(json_to_toml(entries), None, self.root)
        with Warehouse(self.warehouse_path) as wh:
            return [sync_source(wh, source, full=full) for source in build(config)]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with Warehouse(self.warehouse_path, read_only=True) as wh:
            return wh.con.execute(sql, params or []).fetchall()

    def describe(self, view: str) -> list[tuple[str, str]]:
        rows = self.query(f'DESCRIBE SELECT * FROM "{view}"')
        return [(r[0], r[1]) for r in rows]

    def log_row(self, name: str | None = None) -> dict[str, Any]:
        with Warehouse(self.warehouse_path, read_only=True) as wh:
            frame = wh.query(
                "SELECT * EXCLUDE (synced_at) FROM prediction_logs WHERE log = ?",
                [name or self.name],
            )
        return frame.to_dicts()[0]

    def snapshot(self) -> dict[str, Any]:
        """Everything a failed sync must leave alone: rows, view definitions, cursors."""
        with Warehouse(self.warehouse_path, read_only=True) as wh:
            return {
                "logs": wh.query(
                    "SELECT * EXCLUDE (synced_at) FROM prediction_logs ORDER BY log"
                ).rows(),
                "views": wh.con.execute(
                    "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
                    "ORDER BY view_name"
                ).fetchall(),
                "cursors": wh.con.execute(
                    "SELECT source, stream, cursor FROM _sync_state ORDER BY 1, 2"
                ).fetchall(),
                "entities": wh.con.execute("SELECT name, kind FROM entities ORDER BY 1").fetchall(),
            }


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def json_to_toml(sources: list[dict[str, Any]]) -> str:
    """``[[sources]]`` tables with inline tables for nested options (TOML strings via JSON
    escaping, which TOML basic strings accept)."""
    lines = []
    for src in sources:
        lines.append("[[sources]]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in src.items()]
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)
