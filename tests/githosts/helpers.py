"""Building a github/gitlab source over a FakeHost and syncing it into a real warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlreport.config import Config, parse_config, validate_options
from mlreport.plugin_manager import get_plugins
from mlreport.sources import Source, SyncStats, sync_source
from mlreport.warehouse import Warehouse
from tests.githosts.fakehost import FakeHost

NAME = "host"


def write_config(root: Path, type_: str, **options: Any) -> Config:
    lines = ["[[sources]]", f'name = "{NAME}"', f'type = "{type_}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    path = root / "mlreport.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return parse_config(path.read_text(encoding="utf-8"), path, root)


def make_source(config: Config, host: FakeHost, waits: list | None = None, clock=None) -> Source:
    src = config.sources[0]
    cls = get_plugins().sources().get(src.type)
    options = validate_options(cls.Options, src.options, config, ("sources", 0))
    source = cls(src.name, options, config)
    source._transport = host.transport
    source._sleep = waits.append if waits is not None else (lambda s: None)
    if clock is not None:
        source._clock = clock
    return source


def sync(warehouse: Warehouse, config: Config, host: FakeHost, **kw: Any) -> SyncStats:
    full = kw.pop("full", False)
    return sync_source(warehouse, make_source(config, host, **kw), full=full)


def rows(warehouse: Warehouse, sql: str, params: list | None = None) -> list[tuple]:
    return warehouse.con.execute(sql, params or []).fetchall()


def cursors(warehouse: Warehouse) -> dict[str, Any]:
    return {
        stream: json.loads(cursor)
        for stream, cursor in warehouse.con.execute(
            "SELECT stream, cursor FROM _sync_state WHERE source = ?", [NAME]
        ).fetchall()
    }
