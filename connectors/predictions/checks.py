"""Reading a log through its view at sync time, so that a value a mapping cannot convert (a
text time that does not parse, a "0.7" class) fails here, naming the file, row and column, and
not later in every metric family.

Logs up to ``FULL_CHECK_BYTES`` are read whole (one DuckDB scan that converts every mapped
column); larger ones are sampled and the sync says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import duckdb

from mlreport.connectors.predictions import files as pf
from mlreport.sources import SourceError
from mlreport.sql import quote_identifier

log = logging.getLogger("mlreport.predictions")

FULL_CHECK_BYTES = 512 * 2**20  # about 10 s of scanning on the 2-core machine, at worst
SAMPLE_ROWS = 1000
# the view's columns that a config key maps, for messages
COLUMN_KEYS = {
    "ts": "columns.timestamp",
    "prediction": "columns.prediction",
    "score": "columns.score",
    "label": "columns.label",
    "model_version": "columns.model_version",
    "label_ts": "columns.label_timestamp",
}


def check_rows(
    con: duckdb.DuckDBPyConnection,
    source: object,
    sql: str,
    columns: tuple[tuple[str, str], ...],
    key: Callable[[str], str],
    filtered: bool,
) -> str:
    """Convert every mapped column of the view's rows (all of them when the files are small
    enough, else the first ``SAMPLE_ROWS``); return the scope for the 0/1 checks."""
    infos = getattr(source, "infos", [])
    size = sum(i.size for i in infos)
    whole = bool(infos) and size <= FULL_CHECK_BYTES and not _is_table(source)
    scope = f"({sql})" if whole else f"(SELECT * FROM ({sql}) LIMIT {SAMPLE_ROWS})"
    counts = ", ".join(f"count({quote_identifier(name)})" for name, _ in columns)
    try:
        con.execute(f"SELECT {counts} FROM {scope}").fetchall()
    except duckdb.Error as exc:
        where = locate(con, source, sql if whole else scope, columns, filtered) if whole else None
        raise SourceError(
            f"{key('columns')}: reading {'' if whole else 'the first rows of '}"
            f"{source.label}: {where or pf.short_error(exc)}"
        ) from None
    if not whole:
        log.info(
            "%s: %s is %s; checked its first %d rows only: a value further down that does "
            "not convert fails when metrics run",
            key("path"),
            source.label,
            "a table" if _is_table(source) else f"{size / 2**20:,.0f} MB",
            SAMPLE_ROWS,
        )
    return scope


def _is_table(source: object) -> bool:
    return getattr(source, "key", "") == "table"


def locate(
    con: duckdb.DuckDBPyConnection,
    source: object,
    sql: str,
    columns: tuple[tuple[str, str], ...],
    filtered: bool,
) -> str | None:
    """Which column, file and row hold the first value that does not convert, and why."""
    for name, _ in columns:
        column = quote_identifier(name)
        try:
            con.execute(f"SELECT count({column}) FROM ({sql})").fetchall()
        except duckdb.Error as exc:
            reason = pf.short_error(exc)
            break
    else:
        return None
    row = _first_failing_row(con, sql, column)
    what = COLUMN_KEYS.get(name, f"feature {name!r}")
    if filtered or row is None:
        at = f"row {row:,} read through the view (after `where`)" if row else "a row"
        return f"{at}: {what} does not convert: {reason}"
    path, in_file = _file_row(con, source.infos, row)
    line = f" (line {in_file + 1:,} with the header)" if pf.file_format(path) == "csv" else ""
    return f"{path}: row {in_file:,}{line}: {what} does not convert: {reason}"


def _first_failing_row(con: duckdb.DuckDBPyConnection, sql: str, column: str) -> int | None:
    """The 1-based position of the first row whose ``column`` fails, by bisection over
    ``LIMIT`` (the scan keeps the files' order); None if it cannot be pinned down."""

    def fails(n: int) -> bool:
        try:
            con.execute(f"SELECT count({column}) FROM (SELECT {column} FROM ({sql}) LIMIT {n})")
            return False
        except duckdb.Error:
            return True

    (total,) = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    lo, hi = 1, int(total)
    if hi < 1 or not fails(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _file_row(con: duckdb.DuckDBPyConnection, infos: list, row: int) -> tuple[object, int]:
    """The file and the 1-based data row within it of the view's ``row``-th row."""
    seen = 0
    for info in infos:
        relation = pf.scan_sql([info.path], pf.file_format(info.path))
        (n,) = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
        if row <= seen + n:
            return info.path, row - seen
        seen += n
    return infos[-1].path, row - seen
