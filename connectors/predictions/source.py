"""The built-in ``predictions`` source: a prediction log exposed as a warehouse view, not copied.

Each sync fingerprints the log's files (an unchanged size and mtime reuse the stored sha256),
checks that they share one schema, binds every column mapping and the ``where`` filter in a
scratch DuckDB connection (so a bad expression is reported with its config key and DuckDB's
message before anything in the warehouse changes), and then yields the view
``predictions__<name>`` over exactly the fingerprinted files, the optional reference view, the
``prediction_logs`` row and the rebuilt canonical ``predictions`` view, all committed with the
cursor at one checkpoint. See docs/sources-predictions.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mlreport.connectors.predictions import files as pf
from mlreport.connectors.predictions.options import CANONICAL, SHAP_PREFIX, PredictionsOptions
from mlreport.sources import Checkpoint, Rows, Source, SourceError, Stream, View

log = logging.getLogger("mlreport.predictions")

DOUBLES = ("prediction", "score", "label")
SAMPLE_ROWS = 1000  # rows read at sync time to catch values a mapping cannot convert
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


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogInput:
    """Where a view reads from: a table-function over exactly the fingerprinted files."""

    key: str  # the config key, for messages
    relation: str
    infos: list[pf.FileInfo]
    label: str  # the files or table, for messages
    schema: tuple[tuple[str, str], ...]  # the relation's columns (with hive partition keys)


@dataclass(frozen=True)
class MappedView:
    sql: str
    columns: tuple[tuple[str, str], ...]  # what the view's DESCRIBE says


# -- the source -------------------------------------------------------------------------------


class PredictionsSource(Source):
    """A prediction log as a view; see the module docstring."""

    Options = PredictionsOptions
    entity_kind = "model"

    @property
    def opts(self) -> PredictionsOptions:
        return self.options  # type: ignore[return-value]

    @property
    def view_name(self) -> str:
        return f"predictions__{self.name}"

    @property
    def reference_view_name(self) -> str:
        return f"predictions_reference__{self.name}"

    def streams(self) -> list[Stream]:
        return [Stream("logs", "prediction_logs", ("log",), "entity")]

    def check(self) -> str:
        if self.opts.database is not None:
            return f"table {self.opts.table!r} of {self.opts.database}"
        return f"{len(pf.expand(self.opts.paths(), self._key('path')))} file(s)"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | View | Checkpoint]:
        known = pf.load_cursor(cursor)
        con = scratch_connection()
        try:
            main = self._input(con, known)
            view = self._mapped(con, main)
            row_count = self._row_count(con, main, view)
            ref_input = self._reference_input(con, known)
            ref_view = self._reference(con, ref_input, view)
            canonical = self._canonical_sql(con)
        finally:
            con.close()
        yield View(self.view_name, view.sql)
        if ref_view is not None:
            yield View(self.reference_view_name, ref_view)
        yield Rows(self._log_row(main, ref_input, row_count))
        yield View("predictions", canonical)
        infos = main.infos + (ref_input.infos if ref_input else [])
        yield Checkpoint(pf.make_cursor(infos))

    # -- inputs --------------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"source {self.name!r}: {key}"

    def _skey(self, source: LogInput, key: str) -> str:
        """The config key, inside ``reference.path`` when mapping the reference files."""
        if source.key == "reference.path" and key != source.key:
            key = f"reference.path: {key}"
        return self._key(key)

    def _input(self, con: duckdb.DuckDBPyConnection, known: dict[str, Any]) -> LogInput:
        if self.opts.database is not None and self.opts.table is not None:
            return self._table_input(con, known, self.opts.database, self.opts.table)
        return self._files_input(con, known, self.opts.paths(), "path")

    def _files_input(
        self, con: duckdb.DuckDBPyConnection, known: dict[str, Any], paths: list[Path], key: str
    ) -> LogInput:
        files = pf.expand(paths, self._key(key))
        infos = [
            pf.fingerprint(p, known, lambda q: pf.file_schema(con, q), self.count) for p in files
        ]
        self.count("files", len(infos))
        pf.check_same_schema(infos, self._key(key))
        relation = pf.scan_sql(files, pf.file_format(files[0]))
        label = str(files[0]) if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
        schema = pf.describe(con, relation, f"{self._key(key)}: {label}")
        return LogInput(key, relation, infos, label, schema)

    def _table_input(
        self, con: duckdb.DuckDBPyConnection, known: dict[str, Any], database: Path, table: str
    ) -> LogInput:
        if not database.is_file():
            what = "is not a file" if database.exists() else "does not exist"
            raise SourceError(f"{self._key('database')}: {database} {what}")
        relation = pf.table_sql(database, table)
        label = f"table {table!r} of {database}"
        info = pf.fingerprint(database, known, lambda _: (), self.count)
        self.count("files", 1)
        # Describe the table every time (cheap; the cursor's schema is for files).
        schema = pf.describe(con, relation, self._key("table") + f": {label}")
        info = pf.FileInfo(info.path, info.size, info.mtime_ns, info.sha256, schema)
        return LogInput("table", relation, [info], label, schema)

    def _reference_input(
        self, con: duckdb.DuckDBPyConnection, known: dict[str, Any]
    ) -> LogInput | None:
        ref = self.opts.reference
        if ref is None or ref.path is None:
            return None
        return self._files_input(con, known, ref.paths(), "reference.path")

    # -- mapping -------------------------------------------------------------------------------

    def _mapped(self, con: duckdb.DuckDBPyConnection, source: LogInput) -> MappedView:
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
        selects += self._feature_columns(source)
        selects += self._shap_columns(source)
        sql = "SELECT\n  " + ",\n  ".join(selects) + f"\nFROM {source.relation}"
        if where is not None:
            sql += f"\nWHERE (\n{where}\n)"
        columns = self._describe_view(con, source, sql)
        self._check_sample(con, source, sql)
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
        return f"CAST((\n{expr}\n) AS {target}) AS {name}"

    def _timestamp(self, con: duckdb.DuckDBPyConnection, source: LogInput) -> str:
        expr = self.opts.columns.timestamp
        kind = self._expression_type(con, source, "timestamp")
        if kind == "TIMESTAMP WITH TIME ZONE":
            return f"(\n{expr}\n) AS ts"
        if kind in NAIVE_TIME_TYPES:  # times without a zone are UTC
            return f"timezone('UTC', CAST((\n{expr}\n) AS TIMESTAMP)) AS ts"
        if kind == "VARCHAR":
            return f"CAST((\n{expr}\n) AS TIMESTAMPTZ) AS ts"
        raise SourceError(
            f"{self._skey(source, 'columns.timestamp')} = {expr!r}: is {kind} in "
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
            out.append(f"CAST({quote(found[0])} AS {target}) AS {quote(name)}")
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
            out.append(f"CAST({quote(found[0])} AS DOUBLE) AS {quote(SHAP_PREFIX + feature)}")
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

    def _check_sample(self, con: duckdb.DuckDBPyConnection, source: LogInput, sql: str) -> None:
        """Read the first rows through the view: values a mapping cannot convert (a text time
        that does not parse, a 0.7 "class") fail here, at sync, not in every metric later."""
        sample = f"(SELECT * FROM ({sql}) LIMIT {SAMPLE_ROWS})"
        try:
            con.execute(f"SELECT * FROM {sample}").fetchall()
            bad = []
            if self.opts.task == "classification":
                bad = con.execute(
                    f"SELECT which, value FROM (SELECT 'prediction' AS which, prediction AS value "
                    f"FROM {sample} UNION ALL SELECT 'label', label FROM {sample}) "
                    "WHERE value NOT IN (0, 1) ORDER BY which DESC LIMIT 1"
                ).fetchall()
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._skey(source, 'columns')}: reading the first rows of {source.label}: "
                f"{pf.short_error(exc)}"
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

    def _row_count(self, con: duckdb.DuckDBPyConnection, source: LogInput, view: MappedView) -> int:
        try:
            (n,) = con.execute(f"SELECT count(*) FROM ({view.sql})").fetchall()[0]
        except duckdb.Error as exc:
            raise SourceError(
                f"{self._key(source.key)}: cannot count the rows of {source.label}: "
                f"{pf.short_error(exc)}"
            ) from None
        return int(n)

    # -- reference -----------------------------------------------------------------------------

    def _reference(
        self, con: duckdb.DuckDBPyConnection, ref_input: LogInput | None, view: MappedView
    ) -> str | None:
        ref = self.opts.reference
        if ref is None:
            return None
        if ref_input is None:
            assert ref.since is not None and ref.until is not None
            return (
                f"SELECT * FROM {quote(self.view_name)} WHERE ts >= "
                f"TIMESTAMPTZ {pf.literal(ref.since.isoformat())} AND ts < "
                f"TIMESTAMPTZ {pf.literal(ref.until.isoformat())}"
            )
        mapped = self._mapped(con, ref_input)
        if mapped.columns != view.columns:
            raise SourceError(
                f"{self._key('reference.path')}: mapped, {ref_input.label} gives other columns "
                f"than the log: {pf.schema_difference(view.columns, mapped.columns)}"
            )
        return mapped.sql

    # -- rows and the canonical view ---------------------------------------------------------------

    def _log_row(self, main: LogInput, ref: LogInput | None, row_count: int) -> pl.DataFrame:
        opts = self.opts
        reference = opts.reference
        kind = None if reference is None else ("files" if ref is not None else "window")
        shap = {}
        if opts.explain is not None and opts.explain.shap_prefix is not None:
            shap = {f: SHAP_PREFIX + f for f in opts.explained()}
        row = {
            "log": self.name,
            "entity": opts.entity,
            "task": opts.task,
            "view_name": self.view_name,
            "reference_view": None if reference is None else self.reference_view_name,
            "reference_kind": kind,
            "reference_since": reference.since if reference else None,
            "reference_until": reference.until if reference else None,
            "numeric_features": list(opts.features.numeric),
            "categorical_features": list(opts.features.categorical),
            "sensitive_features": list(opts.features.sensitive),
            "intersections": json.dumps(opts.features.intersections),
            "shap_columns": json.dumps(shap, sort_keys=True),
            "files": json.dumps([i.manifest() for i in main.infos]),
            "reference_files": json.dumps([i.manifest() for i in ref.infos]) if ref else None,
            "row_count": row_count,
        }
        return pl.DataFrame([row], schema=LOG_ROW_SCHEMA)

    def _canonical_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        """Every log's canonical columns: this one plus every other stored log whose view still
        binds (tried on the scratch connection: a log whose files are gone or changed shape is
        left out with a warning instead of failing this sync)."""
        views = [self.view_name]
        if self.warehouse is not None:
            rows = self.warehouse.con.execute(
                "SELECT p.log, p.view_name, v.sql FROM prediction_logs p "
                "LEFT JOIN duckdb_views() v ON v.view_name = p.view_name "
                "AND v.schema_name = 'main' AND NOT v.internal WHERE p.log <> ? ORDER BY p.log",
                [self.name],
            ).fetchall()
            views += [view for other, view, sql in rows if _still_binds(con, other, view, sql)]
        columns = ", ".join(CANONICAL)
        return " UNION ALL BY NAME ".join(
            f"SELECT {columns} FROM {quote(v)}" for v in sorted(views)
        )


def _still_binds(con: duckdb.DuckDBPyConnection, log_name: str, view: str, sql: str | None) -> bool:
    """Whether another log's stored view still reads its files (re-created on ``con``)."""
    if sql is None:
        log.warning("prediction log %s: no view %s; left out of predictions", log_name, view)
        return False
    try:
        con.execute(sql)
        con.execute(f"DESCRIBE SELECT * FROM {quote(view)}").fetchall()
    except duckdb.Error as exc:
        log.warning(
            "prediction log %s: its view no longer reads (%s); left out of predictions "
            "until it syncs again",
            log_name,
            pf.short_error(exc),
        )
        return False
    return True


LOG_ROW_SCHEMA = {
    "log": pl.String,
    "entity": pl.String,
    "task": pl.String,
    "view_name": pl.String,
    "reference_view": pl.String,
    "reference_kind": pl.String,
    "reference_since": pl.Datetime("us", "UTC"),
    "reference_until": pl.Datetime("us", "UTC"),
    "numeric_features": pl.List(pl.String),
    "categorical_features": pl.List(pl.String),
    "sensitive_features": pl.List(pl.String),
    "intersections": pl.String,
    "shap_columns": pl.String,
    "files": pl.String,
    "reference_files": pl.String,
    "row_count": pl.Int64,
}


def quote(name: str) -> str:
    """A DuckDB identifier: double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


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
