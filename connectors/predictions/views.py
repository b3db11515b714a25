"""The SQL of a ``predictions`` source's views, bound and checked before the warehouse changes.

``ViewBuilder`` writes the view ``predictions__<name>`` over a ``LogInput`` (every column
mapping and the ``where`` filter bound in a scratch DuckDB connection, types checked, the first
rows read) and the optional reference view; ``canonical_sql`` writes the ``predictions`` view
over every log whose view still binds. Errors name the config key and carry DuckDB's message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import duckdb

from mlreport.connectors.predictions import files as pf
from mlreport.connectors.predictions.checks import check_rows
from mlreport.connectors.predictions.options import (
    CANONICAL,
    LABEL_TS,
    SHAP_PREFIX,
    PredictionsOptions,
)
from mlreport.sources import SourceError
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse

log = logging.getLogger("mlreport.predictions")

DOUBLES = ("prediction", "score", "label")
NUMERIC_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "BOOLEAN",
    '"NULL"',
}
NAIVE_TIME_TYPES = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}


@dataclass(frozen=True)
class LogInput:
    """Where a view reads from: a table-function over exactly the fingerprinted files."""

    key: str  # the config key, for messages
    relation: str
    infos: list[pf.FileInfo]
    label: str  # the files or table, for messages
    schema: tuple[tuple[str, str], ...]  # the relation's columns (with hive partition keys)
    # what the manifest records, when not the files' own entries (a catalog table's version)
    manifest: list[dict] | None = None


@dataclass(frozen=True)
class MappedView:
    """A view's SQL and its columns (a reference's mapped files must give the same)."""

    sql: str
    columns: tuple[tuple[str, str], ...]  # what the view's DESCRIBE says


def config_key(source: str, key: str) -> str:
    """How messages name a config key of the source ``source``."""
    return f"source {source!r}: {key}"


class ViewBuilder:
    """The SQL of one source's views; every method binds on the scratch connection it is given."""

    def __init__(self, name: str, opts: PredictionsOptions) -> None:
        self.name = name
        self.opts = opts

    def _key(self, key: str) -> str:
        return config_key(self.name, key)

    def _skey(self, source: LogInput, key: str) -> str:
        """The config key, inside ``reference.path`` when mapping the reference files."""
        if source.key == "reference.path" and key != source.key:
            key = f"reference.path: {key}"
        return self._key(key)

    def mapped(self, con: duckdb.DuckDBPyConnection, source: LogInput) -> MappedView:
        """The view over ``source``: every mapping bound and typed, features checked."""
        where = self.opts.where
        if where is not None:
            self._bind(
                con,
                source,
                "where",
                f"SELECT 1 AS v FROM {source.relation} WHERE (\n{where}\n)",
                where,
            )
        ts = self._timestamp(con, source)  # checked in the order of the config sketch
        mapped = {n: self._mapped_column(con, source, n, "DOUBLE") for n in DOUBLES}
        selects = [
            f"CAST({pf.literal(self.name)} AS VARCHAR) AS log",
            f"CAST({pf.literal(self.opts.entity)} AS VARCHAR) AS entity",
            self._mapped_column(con, source, "model_version", "VARCHAR"),
            ts,
            *mapped.values(),
        ]
        if self.opts.columns.label_timestamp is not None:  # only when mapped: see docs
            selects.append(self._timestamp(con, source, "label_timestamp", LABEL_TS))
        selects += self._feature_columns(source)
        selects += self._shap_columns(source)
        sql = "SELECT\n  " + ",\n  ".join(selects) + f"\nFROM {source.relation}"
        if where is not None:
            sql += f"\nWHERE (\n{where}\n)"
        columns = self._describe_view(con, source, sql)
        self._check_rows(con, source, sql, columns)
        return MappedView(sql, columns)

    def _bind(
        self, con: duckdb.DuckDBPyConnection, source: LogInput, key: str, sql: str, expr: str
    ) -> list[tuple[str, str]]:
        """Bind ``sql`` (one statement, one column) without reading rows; errors name the key."""
        if not single_expression(con, expr):
            raise SourceError(
                f"{self._skey(source, key)} = {expr!r}: not one SQL expression (it closes the "
                "expression and goes on with more query)"
            )
        try:
            rows = con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._skey(source, key)} = {expr!r}: {pf.short_error(exc)} "
                f"(reading {source.label})"
            ) from None
        if len(rows) != 1:
            raise SourceError(f"{self._skey(source, key)} = {expr!r}: not one SQL expression")
        return [(str(r[0]), str(r[1])) for r in rows]

    def _expression_type(self, con: duckdb.DuckDBPyConnection, source: LogInput, name: str) -> str:
        expr = getattr(self.opts.columns, name)
        sql = f"SELECT (\n{expr}\n) AS v FROM {source.relation}"
        return self._bind(con, source, f"columns.{name}", sql, expr)[0][1]

    def _mapped_column(
        self, con: duckdb.DuckDBPyConnection, source: LogInput, name: str, target: str
    ) -> str:
        expr = getattr(self.opts.columns, name)
        if expr is None:
            return f"CAST(NULL AS {target}) AS {name}"
        kind = self._expression_type(con, source, name)
        if target == "DOUBLE" and not is_numeric(kind):
            hint = {
                "label": "the label must be a number or boolean (1 = positive class); map it, "
                "e.g. \"CAST(outcome = 'yes' AS INTEGER)\"",
                "prediction": "the prediction must be a number or boolean",
                "score": "the score must be a number",
            }[name]
            raise SourceError(
                f"{self._skey(source, f'columns.{name}')} = {expr!r}: is {kind} in "
                f"{source.label}; {hint}"
            )
        wrapped = f"(\n{expr}\n)"
        return f"{cast(wrapped, kind, target)} AS {name}"

    def _timestamp(
        self,
        con: duckdb.DuckDBPyConnection,
        source: LogInput,
        name: str = "timestamp",
        alias: str = "ts",
    ) -> str:
        """A mapped time as ``TIMESTAMPTZ``: kept, read as UTC when it has no zone, or parsed."""
        expr = getattr(self.opts.columns, name)
        kind = self._expression_type(con, source, name)
        if kind == "TIMESTAMP WITH TIME ZONE":
            return f"(\n{expr}\n) AS {alias}"
        if kind in NAIVE_TIME_TYPES:  # times without a zone are UTC
            return f"timezone('UTC', CAST((\n{expr}\n) AS TIMESTAMP)) AS {alias}"
        if kind == "VARCHAR":
            return f"CAST((\n{expr}\n) AS TIMESTAMPTZ) AS {alias}"
        raise SourceError(
            f"{self._skey(source, f'columns.{name}')} = {expr!r}: is {kind} in "
            f'{source.label}, not a time; map it to one, e.g. "to_timestamp(epoch_seconds)"'
        )

    def _feature_columns(self, source: LogInput) -> list[str]:
        feats = self.opts.features
        types = {n.lower(): (n, t) for n, t in source.schema}
        out = []
        numeric = {n.lower() for n in feats.numeric}
        for name in feats.all():
            kind = "numeric" if name.lower() in numeric else self._feature_kind(name)
            found = types.get(name.lower())
            if found is None:
                raise SourceError(
                    f"{self._skey(source, f'features.{kind}')}: no column {name!r} in "
                    f"{source.label} "
                    f"(columns: {', '.join(n for n, _ in source.schema)})"
                )
            if kind == "numeric" and not is_numeric(found[1]):
                raise SourceError(
                    f"{self._skey(source, 'features.numeric')}: column {name!r} is {found[1]} in "
                    f"{source.label}, not a number; list it under features.categorical"
                )
            target = "DOUBLE" if kind == "numeric" else "VARCHAR"
            column, alias = quote_identifier(found[0]), quote_identifier(name)
            out.append(f"{cast(column, found[1], target)} AS {alias}")
        return out

    def _feature_kind(self, name: str) -> str:
        low = name.lower()
        if low in {n.lower() for n in self.opts.features.categorical}:
            return "categorical"
        return "sensitive"

    def _shap_columns(self, source: LogInput) -> list[str]:
        explain = self.opts.explain
        if explain is None or explain.shap_prefix is None:
            return []
        types = {n.lower(): (n, t) for n, t in source.schema}
        out = []
        for feature in self.opts.explained():
            column = explain.shap_prefix + feature
            found = types.get(column.lower())
            if found is None:
                raise SourceError(
                    f"{self._skey(source, 'explain.shap_prefix')}: no column {column!r} with "
                    f"the SHAP values of {feature!r} in {source.label}"
                )
            if not is_numeric(found[1]):
                raise SourceError(
                    f"{self._skey(source, 'explain.shap_prefix')}: column {column!r} is "
                    f"{found[1]} in {source.label}, not a number"
                )
            column, alias = quote_identifier(found[0]), quote_identifier(SHAP_PREFIX + feature)
            out.append(f"CAST({column} AS DOUBLE) AS {alias}")
        return out

    def _describe_view(
        self, con: duckdb.DuckDBPyConnection, source: LogInput, sql: str
    ) -> tuple[tuple[str, str], ...]:
        try:
            if len(con.extract_statements(sql)) != 1:
                raise SourceError(
                    f"{self._skey(source, 'columns')}: a mapping or `where` ends the query "
                    "and starts another; each must be one SQL expression"
                )
            rows = con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._skey(source, source.key)}: cannot map {source.label}: "
                f"{pf.short_error(exc)}"
            ) from None
        return tuple((str(r[0]), str(r[1])) for r in rows)

    def _check_rows(
        self,
        con: duckdb.DuckDBPyConnection,
        source: LogInput,
        sql: str,
        columns: tuple[tuple[str, str], ...],
    ) -> None:
        """Read the rows through the view (see :mod:`.checks`), then check that a
        classification's prediction and label are 0 or 1."""
        scope = check_rows(
            con, source, sql, columns, lambda k: self._skey(source, k), self.opts.where is not None
        )
        if self.opts.task != "classification":
            return
        try:
            bad = con.execute(
                f"SELECT which, value FROM (SELECT 'prediction' AS which, prediction AS value "
                f"FROM {scope} UNION ALL SELECT 'label', label FROM {scope}) "
                "WHERE value NOT IN (0, 1) ORDER BY which DESC LIMIT 1"
            ).fetchall()
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._skey(source, 'columns')}: reading {source.label}: {pf.short_error(exc)}"
            ) from None
        if bad:
            which, value = bad[0]
            expr = getattr(self.opts.columns, which)
            raise SourceError(
                f"{self._skey(source, f'columns.{which}')} = {expr!r}: gives {value!r} in "
                f"{source.label}; "
                f"for classification the {which} must be 0 or 1 (e.g. "
                '"CAST(p_default >= 0.5 AS INTEGER)")'
            )

    def row_count(self, con: duckdb.DuckDBPyConnection, source: LogInput, view: MappedView) -> int:
        """The rows the view reads, for the ``prediction_logs`` row."""
        try:
            (n,) = con.execute(f"SELECT count(*) FROM ({view.sql})").fetchall()[0]
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._key(source.key)}: cannot count the rows of {source.label}: "
                f"{pf.short_error(exc)}"
            ) from None
        return int(n)

    def reference(
        self,
        con: duckdb.DuckDBPyConnection,
        ref_input: LogInput | None,
        view: MappedView,
        view_name: str,
    ) -> str | None:
        """The reference view's SQL: a window of ``view_name``, or the reference files mapped as
        the log is (and giving its columns); None without a reference."""
        ref = self.opts.reference
        if ref is None:
            return None
        if ref_input is None:
            assert ref.since is not None and ref.until is not None
            return (
                f"SELECT * FROM {quote_identifier(view_name)} WHERE ts >= "
                f"TIMESTAMPTZ {pf.literal(ref.since.isoformat())} AND ts < "
                f"TIMESTAMPTZ {pf.literal(ref.until.isoformat())}"
            )
        mapped = self.mapped(con, ref_input)
        if mapped.columns != view.columns:
            raise SourceError(
                f"{self._key('reference.path')}: mapped, {ref_input.label} gives other columns "
                f"than the log: {pf.schema_difference(view.columns, mapped.columns)}"
            )
        return mapped.sql


def canonical_sql(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse | None, log_name: str, view_name: str
) -> str:
    """Every log's canonical columns: this one plus every other stored log whose view still
    binds (tried on the scratch connection: a log whose files are gone or changed shape is
    left out with a warning instead of failing this sync)."""
    views = [view_name]
    if warehouse is not None:
        rows = warehouse.con.execute(
            "SELECT p.log, p.view_name, v.sql FROM prediction_logs p "
            "LEFT JOIN duckdb_views() v ON v.view_name = p.view_name "
            "AND v.schema_name = 'main' AND NOT v.internal WHERE p.log <> ? ORDER BY p.log",
            [log_name],
        ).fetchall()
        views += [view for other, view, sql in rows if _still_binds(con, other, view, sql)]
    columns = ", ".join(CANONICAL)
    return " UNION ALL BY NAME ".join(
        f"SELECT {columns} FROM {quote_identifier(v)}" for v in sorted(views)
    )


def _still_binds(con: duckdb.DuckDBPyConnection, log_name: str, view: str, sql: str | None) -> bool:
    """Whether another log's stored view still reads its files (re-created on ``con``)."""
    if sql is None:
        log.warning("prediction log %s: no view %s; left out of predictions", log_name, view)
        return False
    try:
        con.execute(sql)
        con.execute(f"DESCRIBE SELECT * FROM {quote_identifier(view)}").fetchall()
    except duckdb.Error as exc:
        log.warning(
            "prediction log %s: its view no longer reads (%s); left out of predictions "
            "until it syncs again",
            log_name,
            pf.short_error(exc),
        )
        return False
    return True


def cast(expr: str, kind: str, target: str) -> str:
    """``CAST(expr AS target)``; a BOOLEAN goes through INTEGER on its way to DOUBLE: DuckDB
    2.0 pushes a BOOLEAN-to-DOUBLE cast into its CSV reader, which then fails on "true"
    under an aggregate (seen with ``count(label)``)."""
    if kind == "BOOLEAN" and target == "DOUBLE":
        return f"CAST(CAST({expr} AS INTEGER) AS DOUBLE)"
    return f"CAST({expr} AS {target})"


def single_expression(con: duckdb.DuckDBPyConnection, expr: str) -> bool:
    """False when ``expr`` closes our parenthesis and adds clauses or statements (so a mapping
    can only ever be one expression of the view); parse errors are left to the binder, whose
    message is clearer."""
    sql = f"SELECT (\n{expr}\n)"
    try:
        if len(con.extract_statements(sql)) != 1:
            return False
    except duckdb.Error:
        return True
    (text,) = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(text)
    statements = tree.get("statements") or []
    if tree.get("error") or len(statements) != 1:
        return False
    node = statements[0].get("node") or {}
    return (
        node.get("type") == "SELECT_NODE"
        and len(node.get("select_list") or []) == 1
        and not (node["select_list"][0].get("alias") or "")
        and (node.get("from_table") or {}).get("type") == "EMPTY"
        and all(not node.get(k) for k in ("where_clause", "modifiers", "group_expressions"))
        and all(not node.get(k) for k in ("having", "qualify", "sample"))
        and not (node.get("cte_map") or {}).get("map")
    )


def is_numeric(kind: str) -> bool:
    return kind in NUMERIC_TYPES or kind.startswith("DECIMAL")


def scratch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory connection for binding and checking: a failed statement there never
    aborts the warehouse transaction, and it holds nothing to leak."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con
