"""Fixtures and helpers for testing mlreport plugins, loaded by pytest automatically.

mlreport registers this module as a pytest plugin (the ``pytest11`` entry point), so a plugin
package's tests get the fixtures ``mlreport_warehouse``, ``mlreport_config`` and
``mlreport_plugins`` without a conftest, and import the helpers from here::

    from mlreport.testing import assert_metric, render_report, sync_twice

Each helper runs the real kernel (real DuckDB file, real sync engine, real renderers) and fails
with a message that says what was expected, so a plugin's tests check what users will get.
This module imports only the standard library and pytest at start-up: pytest loads it in every
session of an environment where mlreport is installed, so it must stay cheap and name nothing
that could clash (every fixture starts with ``mlreport_``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlreport.config import Config
    from mlreport.plugin_manager import Plugins
    from mlreport.sources import Source, SyncStats
    from mlreport.warehouse import Warehouse

WAREHOUSE_NAME = "mlreport.duckdb"


# -- config -----------------------------------------------------------------------------------


class ConfigBuilder:
    """Builds an ``mlreport.toml`` from Python values and parses it with the real config loader,
    so a plugin's options are validated exactly as a user's file would be."""

    def __init__(self, folder: Path, warehouse: str = WAREHOUSE_NAME) -> None:
        self.folder = Path(folder)
        self.tables: list[tuple[str, dict[str, Any]]] = [("warehouse", {"path": warehouse})]

    def source(self, name: str, type: str, **options: Any) -> ConfigBuilder:
        """Add a ``[[sources]]`` table (options are the source type's own keys)."""
        return self._add("[sources]", {"name": name, "type": type, **options})

    def entity(self, name: str, kind: str = "service", **attributes: Any) -> ConfigBuilder:
        """Declare an entity (a ``[[entities]]`` table)."""
        return self._add("[entities]", {"kind": kind, "name": name, **attributes})

    def report(self, type: str, formats: Sequence[str] | None = None, **keys: Any) -> ConfigBuilder:
        """Add a ``[[reports]]`` table."""
        extra = {"formats": list(formats)} if formats is not None else {}
        return self._add("[reports]", {"type": type, **extra, **keys})

    def policy(self, metric: str, **limits: Any) -> ConfigBuilder:
        """Add a policy, e.g. ``policy("dora.change_failure_rate", max=0.15)``."""
        return self._add("policies", {metric: limits})

    def table(self, name: str, **keys: Any) -> ConfigBuilder:
        """Any other table, e.g. ``table("metrics", window_days=30)``."""
        return self._add(name, keys)

    def toml(self) -> str:
        """The config file's text."""
        out: list[str] = []
        merged: dict[str, dict[str, Any]] = {}
        for name, keys in self.tables:
            if name.startswith("["):  # an array of tables: one block each
                out.append(f"[{name}]")
                out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in keys.items()]
                out.append("")
            else:
                merged.setdefault(name, {}).update(keys)
        head = []
        for name, keys in merged.items():
            head.append(f"[{name}]")
            head += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in keys.items()]
            head.append("")
        return "\n".join(head + out)

    def write(self, name: str = "mlreport.toml") -> Path:
        """Write the file into the builder's folder and return its path."""
        path = self.folder / name
        path.write_text(self.toml(), encoding="utf-8")
        return path

    def build(self) -> Config:
        """Write the file and load it as ``mlreport --config`` would."""
        from mlreport.config import load_config

        return load_config(self.write())

    def _add(self, name: str, keys: dict[str, Any]) -> ConfigBuilder:
        self.tables.append((name, keys))
        return self


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    """A TOML literal for the JSON-like values configs hold (a JSON string is a TOML string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} into a config")


def make_source(config: Config, name: str) -> Source:
    """The configured source ``name``, built (and its options validated) as ``sync`` would."""
    from mlreport.sources import build_source

    for index, src in enumerate(config.sources):
        if src.name == name:
            return build_source(src, config, index)
    known = ", ".join(s.name for s in config.sources) or "none"
    raise KeyError(f"no source named {name!r} in the config (configured: {known})")


# -- sync -------------------------------------------------------------------------------------


def sync(source: Source, warehouse: Warehouse) -> SyncStats:
    """Sync ``source`` once into ``warehouse`` from its stored cursor, as ``mlreport sync``
    does; errors propagate (``pytest.raises`` them)."""
    from mlreport.sources import sync_source

    return sync_source(warehouse, source)


def add_rows(warehouse: Warehouse, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Upsert ``rows`` (dicts of column values) into a canonical ``table`` on its primary key,
    as a source's rows would be stored: how a metric or report test sets up its data. Columns
    the rows leave out are NULL; a column the table lacks is an error."""
    import polars as pl

    key = warehouse.con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    if not key:
        raise ValueError(f"table {table!r} has no primary key: add_rows fills canonical tables")
    if not rows:
        return 0
    with warehouse.transaction():
        return warehouse.upsert(table, pl.DataFrame(list(rows)), tuple(key[0][0]))


@dataclass
class SyncTwice:
    """What :func:`sync_twice` saw: both syncs' statistics, and cursors and table contents
    after each."""

    first: SyncStats
    second: SyncStats
    cursors: list[dict[str, Any]] = field(default_factory=list)  # after the first, the second
    rows: list[dict[str, int]] = field(default_factory=list)  # table -> rows, after each


def sync_twice(source: Source, warehouse: Warehouse | None = None, reread: int = 0) -> SyncTwice:
    """Sync ``source`` twice with nothing changed upstream and check the second is incremental.

    Fails unless the first sync stored rows and left a cursor for every stream, the second sync
    re-read at most ``reread`` rows (an overlap a source re-reads on purpose, such as incidents
    still open) and every table holds the same rows afterwards (nothing duplicated, nothing
    lost). With no ``warehouse``, a fresh one in a temporary folder is used.
    """
    if warehouse is None:
        from mlreport.warehouse import Warehouse

        with (
            tempfile.TemporaryDirectory() as folder,
            Warehouse(Path(folder) / WAREHOUSE_NAME) as wh,
        ):
            return sync_twice(source, wh, reread)
    from mlreport.sources import sync_source

    tables = sorted({s.table for s in source.streams()})
    first = sync_source(warehouse, source)
    after_first = (_cursors(warehouse, source), _contents(warehouse, tables))
    if first.rows == 0:
        pytest.fail(f"source {source.name!r}: the first sync stored no rows, so it proves nothing")
    missing = [s for s, c in after_first[0].items() if c is None]
    if missing:
        pytest.fail(
            f"source {source.name!r}: stream(s) {', '.join(missing)} stored no cursor after the "
            "first sync; yield Checkpoint(cursor) so the next sync starts where this one ended"
        )
    source.reads = {}
    second = sync_source(warehouse, source)
    after_second = (_cursors(warehouse, source), _contents(warehouse, tables))
    if second.rows > reread:
        pytest.fail(
            f"source {source.name!r}: the second sync re-read {second.rows} rows with nothing "
            f"new upstream (allowed: {reread}); read only what is after the stored cursor"
        )
    for table in tables:
        before, after = after_first[1][table], after_second[1][table]
        if before != after:
            pytest.fail(
                f"source {source.name!r}: table {table} changed on the second sync "
                f"({len(before)} rows before, {len(after)} after); a re-read must upsert the "
                "same rows on the stream's key"
            )
    return SyncTwice(
        first,
        second,
        [after_first[0], after_second[0]],
        [{t: len(after_first[1][t]) for t in tables}, {t: len(after_second[1][t]) for t in tables}],
    )


def _cursors(warehouse: Warehouse, source: Source) -> dict[str, Any]:
    return {s.name: warehouse.get_cursor(source.name, s.name) for s in source.streams()}


def _contents(warehouse: Warehouse, tables: list[str]) -> dict[str, list[tuple]]:
    """Every row of each table except ``synced_at`` (which a re-read legitimately moves)."""
    from mlreport.sql import quote_identifier

    out = {}
    for table in tables:
        cols = [c for c in warehouse.columns(table) if c != "synced_at"]
        names = ", ".join(map(quote_identifier, cols))
        rows = warehouse.con.execute(f"SELECT {names} FROM {quote_identifier(table)}").fetchall()
        out[table] = sorted(rows, key=repr)
    return out


# -- metrics ----------------------------------------------------------------------------------


def metric_values(
    warehouse: Warehouse,
    config: Config,
    pattern: str = "*",
    since: Any = None,
    until: Any = None,
) -> list[dict[str, Any]]:
    """Compute the metrics matching ``pattern`` over ``[since, until)`` (the config's default
    window when omitted) and return them as ``metrics --format json`` prints them."""
    from mlreport.metrics import compute_metrics, default_window, to_records

    window = default_window(config, since, until)
    return to_records(compute_metrics(warehouse, config, [window], pattern))


def assert_metric(
    values: Any,
    metric: str,
    entity: str,
    value: float | None,
    rel: float = 1e-9,
    abs: float | None = None,
    dimensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check that exactly one row of ``values`` (records or a polars frame) has ``metric``,
    ``entity`` and the given ``dimensions`` (a subset match) and that its value is ``value``
    within ``rel``/``abs`` (``None``: the metric has no data). Returns the row."""
    rows = _records(values)
    wanted = dict(dimensions or {})
    matches = [
        r
        for r in rows
        if r["metric"] == metric
        and r["entity"] == entity
        and all(_dims(r).get(k) == v for k, v in wanted.items())
    ]
    where = f"{metric} for {entity}" + (f" with {wanted}" if wanted else "")
    if not matches:
        seen = sorted({(r["metric"], r["entity"]) for r in rows})[:20]
        pytest.fail(f"no value of {where}; the values hold {seen or 'no rows'}")
    if len(matches) > 1:
        dims = [_dims(r) for r in matches]
        pytest.fail(f"{len(matches)} values of {where} (dimensions {dims}); name the dimensions")
    row = matches[0]
    if value is None:
        if row["value"] is not None:
            pytest.fail(f"{where} is {row['value']!r}, expected no value (None)")
    elif row["value"] is None or row["value"] != pytest.approx(value, rel=rel, abs=abs):
        pytest.fail(f"{where} is {row['value']!r}, expected {value!r} (rel={rel}, abs={abs})")
    return row


def _records(values: Any) -> list[dict[str, Any]]:
    if hasattr(values, "to_dicts"):  # a polars frame, as compute_metrics returns
        return values.to_dicts()
    return list(values)


def _dims(row: Mapping[str, Any]) -> dict[str, Any]:
    dims = row.get("dimensions") or {}
    return json.loads(dims) if isinstance(dims, str) else dict(dims)


# -- reports ----------------------------------------------------------------------------------


def render_report(
    report_type: str,
    formats: Sequence[str],
    warehouse: Warehouse,
    config: Config,
    out_dir: Path,
    since: Any = None,
    until: Any = None,
    as_of: Any = None,
) -> dict[str, Path]:
    """Render one report in ``formats`` as ``mlreport report`` would, check every output is
    well-formed for its format (and listed with its sha256 in the manifest), and return the
    paths by format."""
    from mlreport.hashing import sha256_file
    from mlreport.metrics import default_window
    from mlreport.reporting import ReportContext
    from mlreport.reporting import render_report as render
    from mlreport.times import parse_time, utcnow

    as_of_dt = parse_time(as_of, "as_of") or utcnow()
    window = default_window(config, since, until, as_of_dt)
    ctx = ReportContext(warehouse, config, window, as_of_dt)
    outputs = render(ctx, report_type, list(formats), Path(out_dir))
    if ctx.errors:
        pytest.fail(f"report {report_type}: " + "; ".join(ctx.errors))
    missing = [f for f in formats if f not in outputs]
    if missing:
        pytest.fail(f"report {report_type}: no {', '.join(missing)} output was written")
    manifest_path = Path(out_dir) / f"{report_type}.manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for fmt, path in outputs.items():
        check_output(fmt, path)
        listed = manifest["outputs"].get(fmt, {}).get("sha256")
        if listed != sha256_file(path):
            pytest.fail(f"{manifest_path}: outputs.{fmt}.sha256 does not match {path.name}")
    return outputs


def check_output(fmt: str, path: Path) -> None:
    """Fail unless ``path`` is a well-formed ``fmt`` file: balanced HTML with no Jinja left,
    JSON with the manifest, a complete PDF, UTF-8 Markdown; other formats must be non-empty."""
    from mlreport.wellformed import problem

    found = problem(fmt, Path(path).read_bytes())
    if found:
        pytest.fail(f"{path}: {found}")


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def mlreport_warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, migrated warehouse file in the test's temporary folder, closed afterwards."""
    from mlreport.warehouse import Warehouse

    with Warehouse(tmp_path / WAREHOUSE_NAME) as wh:
        yield wh


@pytest.fixture
def mlreport_config(tmp_path: Path) -> ConfigBuilder:
    """A :class:`ConfigBuilder` writing into the test's temporary folder; its warehouse is the
    one ``mlreport_warehouse`` opens."""
    return ConfigBuilder(tmp_path)


@pytest.fixture
def mlreport_plugins() -> Iterator[Plugins]:
    """The plugin set, loaded afresh for this test and forgotten after it;
    ``mlreport_plugins.register_module(module)`` adds a plugin that is not installed."""
    from mlreport.plugin_manager import get_plugins, reset_plugins

    reset_plugins()
    yield get_plugins()
    reset_plugins()
