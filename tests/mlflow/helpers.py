"""Building an mlflow source and syncing it into a real warehouse, for these tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlreport.config import Config, parse_config, validate_options
from mlreport.connectors.mlflow.source import MlflowSource
from mlreport.sources import SyncStats, sync_source
from mlreport.warehouse import Warehouse

NAME = "mlflow"


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_config(root: Path, **options: Any) -> Config:
    """An mlreport.toml with one mlflow source (values may hold ``${VAR}``), parsed."""
    lines = ["[[sources]]", f'name = "{NAME}"', 'type = "mlflow"']
    lines += [f"{k} = {toml_value(v)}" for k, v in options.items()]
    path = root / "mlreport.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return parse_config(path.read_text(encoding="utf-8"), path, root)


def make_source(config: Config, transport: Any = None) -> MlflowSource:
    src = config.sources[0]
    options = validate_options(MlflowSource.Options, src.options, config, ("sources", 0))
    source = MlflowSource(src.name, options, config)
    source._transport = transport
    source._sleep = lambda seconds: None  # retries in tests do not wait
    return source


def sync(warehouse: Warehouse, config: Config, transport: Any = None, full: bool = False):
    """One sync with a fresh source (as `mlreport sync` builds one per run)."""
    source = make_source(config, transport)
    stats: SyncStats = sync_source(warehouse, source, full=full)
    return stats


def table(warehouse: Warehouse, sql: str, params: list | None = None) -> list[tuple]:
    return warehouse.con.execute(sql, params or []).fetchall()
