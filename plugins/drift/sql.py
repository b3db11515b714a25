"""How the drift core reads relations: identifier quoting, usable values, row counts, and a
scratch database so repeated passes read memory instead of the log's Parquet view.

Relations are code-supplied SQL, never user values: a table or view name (``name`` or
``schema.name``, quoted here), a subquery (text starting with ``(``, ``SELECT``, ``WITH`` or
``FROM``), or a ``(sql, params)`` pair whose ``?`` parameters carry the values (window bounds,
entity names). The column name is always quoted as a DuckDB identifier.

Value rules (see docs/metrics-drift.md): NULL is missing; for numeric columns NaN and
±infinity are missing too. Missing values are left out of every distribution and counted by
:func:`column_counts`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from mlreport.engines import materializes
from mlreport.sql import quote_identifier

Relation = str | tuple[str, Sequence[Any]]
_SUBQUERY = re.compile(r"^\s*(\(|select\b|with\b|from\b)", re.IGNORECASE)


def relation_sql(rel: Relation) -> tuple[str, list[Any]]:
    """The FROM-clause text and parameters for a table name, subquery or (sql, params) pair."""
    sql, params = (rel[0], list(rel[1])) if isinstance(rel, tuple) else (rel, [])
    if _SUBQUERY.match(sql):
        return f"({sql})", params
    if params:
        raise ValueError(f"parameters given for a table name, not a subquery: {sql!r}")
    return ".".join(quote_identifier(part) for part in sql.split(".")), params


def usable_value(column: str) -> str:
    """The column as DOUBLE, with NaN and ±inf made NULL."""
    x = f"CAST({quote_identifier(column)} AS DOUBLE)"
    return f"CASE WHEN isfinite({x}) THEN {x} END"


def usable_columns(rel: Relation, columns: Sequence[str]) -> tuple[str, list[Any]]:
    """A subquery with the usable value of each column as ``c0, c1, …`` (NULL if missing)."""
    src, params = relation_sql(rel)
    cols = ", ".join(f"{usable_value(c)} AS c{i}" for i, c in enumerate(columns)) or "1 AS c"
    return f"(SELECT {cols} FROM {src})", params


def sides(ref: Relation, cur: Relation, column: str, numeric: bool) -> tuple[str, list[Any]]:
    """CTEs ``r`` and ``c`` holding the usable values ``v`` of each side, and their params."""
    col = quote_identifier(column)
    parts, params = [], []
    for alias, rel in (("r", ref), ("c", cur)):
        src, p = relation_sql(rel)
        if numeric:
            body = f"SELECT v FROM (SELECT CAST({col} AS DOUBLE) AS v FROM {src}) WHERE isfinite(v)"
        else:
            body = f"SELECT {col} AS v FROM {src} WHERE {col} IS NOT NULL"
        parts.append(f"{alias} AS ({body})")
        params += p
    return "WITH " + ", ".join(parts), params


def column_counts(
    con: duckdb.DuckDBPyConnection,
    rel: Relation,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> tuple[int, dict[str, int]]:
    """Rows of ``rel`` and usable values per column (numeric: finite; categorical: not NULL),
    from one scan. Missing share = 1 − usable ÷ rows."""
    src, params = relation_sql(rel)
    cols = [f"count({usable_value(c)})" for c in numeric]
    cols += [f"count({quote_identifier(c)})" for c in categorical]
    row = con.execute(f"SELECT {', '.join(['count(*)', *cols])} FROM {src}", params).fetchone()
    return row[0], dict(zip([*numeric, *categorical], row[1:], strict=True))


MATERIALIZE_MAX = 60_000_000  # values (rows × columns) a side may copy into memory


class Scratch:
    """An in-memory database attached for one log's drift passes. Every pass over a side
    reads its columns again; reading them from memory instead of through the log's view (a
    Parquet scan with a time filter) halves the cost of each pass."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        self.con, self.name, self.tables = con, name, 0
        # On a distributed engine a copy would ship the rows here: every pass reads the log.
        self.local = materializes(con)

    def usable(self, rel: Relation, columns: Sequence[str], rows: int | None = None) -> Relation:
        """A table of the usable values of ``columns`` (same names; NaN and ±inf as NULL),
        or ``rel`` itself when there are no columns or more than MATERIALIZE_MAX values
        (``rows`` when known; else the copy stops one row past the limit and is dropped)."""
        if not columns or not self.local:
            return rel
        limit = MATERIALIZE_MAX // len(columns)
        if rows is not None and rows > limit:
            return rel
        src, params = relation_sql(rel)
        self.tables += 1
        table = f"{self.name}.t{self.tables}"
        cols = ", ".join(f"{usable_value(c)} AS {quote_identifier(c)}" for c in columns)
        cap = "" if rows is not None else f" LIMIT {limit + 1}"
        self.con.execute(f"CREATE TABLE {table} AS SELECT {cols} FROM {src}{cap}", params)
        if rows is None and self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > limit:
            self.drop(table)
            return rel
        return table

    def drop(self, rel: Relation) -> None:
        if isinstance(rel, str) and rel.startswith(f"{self.name}."):
            self.con.execute(f"DROP TABLE {rel}")


@contextmanager
def scratch(con: duckdb.DuckDBPyConnection) -> Iterator[Scratch]:
    """A :class:`Scratch` database, detached (and freed) on exit."""
    name = f"mlreport_drift_{uuid.uuid4().hex[:12]}"
    if not materializes(con):
        yield Scratch(con, name)
        return
    con.execute(f"ATTACH ':memory:' AS {name}")
    try:
        yield Scratch(con, name)
    finally:
        con.execute(f"DETACH {name}")
