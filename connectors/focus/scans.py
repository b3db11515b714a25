"""A ``focus`` source's view for a scan engine other than DuckDB (``engine = "spark"``): its
DuckDB SQL written afresh from the files the last sync fingerprinted (paths from
``cost_exports.files``, column types from the sync's cursor), so the engine reads exactly those
files. Only Parquet files: a CSV export cannot be read by Spark with DuckDB's types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlreport.connectors.focus.layout import data_format
from mlreport.connectors.focus.options import FocusOptions
from mlreport.connectors.focus.views import view_sql
from mlreport.engines import EngineError, ViewScan


def view_scan(warehouse: Any, source: str, opts: FocusOptions) -> ViewScan | None:
    """The :class:`ViewScan` of source ``source`` as the last sync left it; None before its
    first sync (it has no rows in ``cost_rows`` then, on any engine)."""
    rows = warehouse.con.execute(
        "SELECT e.view_name, e.files, s.cursor FROM cost_exports e LEFT JOIN _sync_state s "
        "ON s.source = e.export AND s.stream = 'exports' WHERE e.export = ?",
        [source],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    if row[2] is None:
        raise EngineError(f"source {source!r} has not been synced; run `mlreport sync {source}`")
    view, files, cursor = row[0], json.loads(row[1]), json.loads(row[2])
    known = cursor.get("files", {})
    listed = []
    for f in files:
        path = str(f["path"])
        if path not in known or known[path]["sha256"] != f["sha256"]:
            raise EngineError(
                f"source {source!r}: {path} is not the file the last sync checked; "
                f"run `mlreport sync {source}`"
            )
        listed.append((Path(path), tuple((n, t) for n, t in known[path]["schema"])))
    return ViewScan(source, view, spark_sql(source, opts, listed), tuple(str(p) for p, _ in listed))


def spark_sql(source: str, opts: FocusOptions, files: list[tuple[Path, Any]]) -> str:
    """The view's DuckDB SQL over ``files``, refusing CSV (engine spark reads Parquet only)."""
    for path, _ in files:
        if data_format(path) != "parquet":
            raise EngineError(
                f"sources.{source}.engine: engine {opts.engine!r} reads Parquet exports; "
                f"{path} is CSV (export Parquet, or use the default engine)"
            )
    return view_sql(source, opts, files)


def check_on_engine(source: str, opts: FocusOptions, files: list[tuple[Path, Any]]) -> None:
    """What a sync checks before storing: the view is written for the engine and defined
    there over exactly ``files`` (an unreachable engine, a CSV file or a view Spark cannot
    read fails the sync)."""
    from mlreport.connectors.spark.scans import make_scan_engine

    paths = tuple(str(p) for p, _ in files)
    scan = ViewScan(source, f"costs__{source}", spark_sql(source, opts, files), paths)
    make_scan_engine(scan, {"spark": opts.spark.model_dump() if opts.spark else {}})
