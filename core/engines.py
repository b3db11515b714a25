"""Where the heavy scans of a prediction log run: the engine seam.

Metric families reduce a log to small sufficient statistics with aggregate SQL written once,
in DuckDB's dialect. They run that SQL on a *scan connection*: the warehouse's own DuckDB
connection by default, or an engine a plugin registers (``register_engines``) when the log's
source says ``engine = "<name>"``. Only the small results come back; everything after the
scan (fairlearn on counts, PSI from bins, reports) is the same code whatever the engine.

A scan connection has the small part of DuckDB's connection API the families use:
``execute(sql, params)`` returning a result with ``fetchall``, ``fetchone``, ``fetchnumpy`` and
``arrow``, and ``cursor()`` for running queries from several threads. :class:`ArrowResult`
gives an engine that API over the Arrow table it fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from mlreport.metrics import MetricContext
from mlreport.prediction_logs import PredictionLog

DEFAULT_ENGINE = "duckdb"


class EngineError(ValueError):
    """A scan engine cannot run: not installed, unreachable, or the log does not fit it. The
    message names the source and config key and says what to do."""


class ScanResult(Protocol):
    def fetchall(self) -> list[tuple]: ...
    def fetchone(self) -> tuple | None: ...
    def fetchnumpy(self) -> dict[str, np.ndarray]: ...
    def arrow(self) -> pa.Table: ...


@runtime_checkable
class ScanEngine(Protocol):
    """What a metric family runs its aggregate SQL on (DuckDB dialect, ``?`` parameters)."""

    name: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> ScanResult: ...

    def cursor(self) -> ScanEngine: ...

    def close(self) -> None: ...

    def materializes(self) -> bool:
        """Whether copying a side into a scratch table is worth it (DuckDB yes, a cluster
        no: it would ship the rows to this machine)."""
        ...


@dataclass(frozen=True)
class ViewScan:
    """A source's view for an engine to define, when it is not a prediction log (the cost
    exports of a ``focus`` source): the view's name, its SQL in DuckDB's dialect reading its
    files with one ``read_parquet([...])``, and exactly those (fingerprinted) files."""

    source: str
    view: str
    sql: str
    files: tuple[str, ...]


EngineFactory = Callable[[PredictionLog | ViewScan, dict[str, Any], Any], ScanEngine]
"""``factory(target, source_options, warehouse)``: an engine reading ``target``, with its views
defined on it under their warehouse names: a log's ``view`` and ``reference_view``, or a
:class:`ViewScan`'s ``view`` over exactly its ``files``."""


class ArrowResult:
    """DuckDB's result API over a fetched Arrow table (column names as the query gave them)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._rows: list[tuple] | None = None
        self._next = 0

    def arrow(self) -> pa.Table:
        return self.table

    def fetchall(self) -> list[tuple]:
        rows = self._all()[self._next :]
        self._next = len(self._all())
        return rows

    def fetchone(self) -> tuple | None:
        rows = self._all()
        if self._next >= len(rows):
            return None
        self._next += 1
        return rows[self._next - 1]

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        out = {}
        for name, column in zip(self.table.column_names, self.table.columns, strict=True):
            values = column.to_numpy(zero_copy_only=False)
            out[name] = values
        return out

    def _all(self) -> list[tuple]:
        if self._rows is None:
            columns = [c.to_pylist() for c in self.table.columns]
            self._rows = list(zip(*columns, strict=True)) if columns else []
        return self._rows


def engine_name(config: Any, log: PredictionLog) -> str:
    """The engine a log's source asks for (``engine = "..."``), DuckDB when it names none or
    is no longer configured."""
    return source_engine(config, log.log)


def source_engine(config: Any, source: str) -> str:
    """The engine source ``source`` asks for, DuckDB when it names none or is not configured."""
    for src in getattr(config, "sources", []):
        if src.name == source:
            return str(src.options.get("engine") or DEFAULT_ENGINE)
    return DEFAULT_ENGINE


def scan_connection(ctx: MetricContext, log: PredictionLog) -> Any:
    """What to run ``log``'s scans on: the warehouse connection, or the engine its source
    names (made once per metrics run and kept on the context)."""
    name = engine_name(ctx.config, log)
    if name == DEFAULT_ENGINE:
        return ctx.warehouse.con
    key = ("scan_engine", log.log)
    if key not in ctx.cache:
        options = ctx.config.source(log.log).options
        ctx.cache[key] = make_engine(name, log, options, ctx.warehouse)
    return ctx.cache[key]


def view_connection(ctx: MetricContext, scan: ViewScan) -> Any:
    """What to run scans of ``scan.view`` on: the warehouse connection, or the engine its
    source names with the view defined there (made once per metrics run, kept on the context)."""
    name = source_engine(ctx.config, scan.source)
    if name == DEFAULT_ENGINE:
        return ctx.warehouse.con
    key = ("scan_engine", scan.source)
    if key not in ctx.cache:
        options = ctx.config.source(scan.source).options
        ctx.cache[key] = make_engine(name, scan, options, ctx.warehouse)
    return ctx.cache[key]


def make_engine(
    name: str, log: PredictionLog | ViewScan, options: dict[str, Any], warehouse: Any
) -> Any:
    """The registered engine ``name`` for ``log`` or a view scan (a PluginError names the
    known ones)."""
    from mlreport.plugin_manager import get_plugins

    factory: EngineFactory = get_plugins().engines().get(name)
    return factory(log, options, warehouse)


def materializes(con: Any) -> bool:
    """Whether ``con`` is a local engine where scratch copies pay (DuckDB's connection is)."""
    check = getattr(con, "materializes", None)
    return True if check is None else bool(check())
