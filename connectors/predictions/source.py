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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mlreport.connectors import objstore
from mlreport.connectors.predictions import files as pf
from mlreport.connectors.predictions.options import SHAP_PREFIX, PredictionsOptions, SparkOptions
from mlreport.connectors.predictions.views import (
    LogInput,
    ViewBuilder,
    canonical_sql,
    config_key,
    scratch_connection,
)
from mlreport.sources import Checkpoint, Rows, Source, SourceError, Stream, View


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
        if self.opts.engine != "duckdb":
            return self._checked_on_engine()
        if self.opts.database is not None:
            return f"table {self.opts.table!r} of {self.opts.database}"
        paths = self._local(self.opts.paths(), "path")
        return f"{len(pf.expand(paths, self._key('path')))} file(s)"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | View | Checkpoint]:
        known = pf.load_cursor(cursor)
        views = ViewBuilder(self.name, self.opts)
        con = scratch_connection()
        try:
            main = self._input(con, known)
            view = views.mapped(con, main)
            row_count = views.row_count(con, main, view)
            ref_input = self._reference_input(con, known)
            ref_view = views.reference(con, ref_input, view, self.view_name)
            canonical = canonical_sql(con, self.warehouse, self.name, self.view_name)
            if self.opts.engine != "duckdb":  # before anything is stored
                counted = self._engine_check(main, view, ref_input, ref_view)
                row_count = row_count if counted is None else counted
        finally:
            con.close()
        yield View(self.view_name, view.sql)
        if ref_view is not None:
            yield View(self.reference_view_name, ref_view)
        row = self._log_row(main, ref_input, row_count)
        if not self._stored(row):  # a sync with nothing new reports 0 rows
            yield Rows(row)
        yield View("predictions", canonical)
        infos = main.infos + (ref_input.infos if ref_input else [])
        yield Checkpoint(pf.make_cursor(infos))

    # -- inputs --------------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return config_key(self.name, key)

    def _input(self, con: duckdb.DuckDBPyConnection, known: dict[str, Any]) -> LogInput:
        if self.opts.engine != "duckdb" and self.opts.table is not None:
            return self._catalog_input()
        if self.opts.database is not None and self.opts.table is not None:
            return self._table_input(con, known, self.opts.database, self.opts.table)
        return self._files_input(con, known, self.opts.paths(), "path")

    def _local(self, paths: list[Path | str], key: str) -> list[Path]:
        """Local paths, with object storage URLs mirrored first (docs/sources-object-storage.md)."""
        root = objstore.mirror_root(self.config.warehouse.path)
        store = objstore.settings(self.opts, self.config, self._key)
        return objstore.localize(paths, root, self._key(key), self.count, settings=store)

    def _manifest(self, infos: list[pf.FileInfo]) -> list[dict[str, Any]]:
        """The files' manifest entries; mirrored objects also name their URL and ETag."""
        root = objstore.mirror_root(self.config.warehouse.path)
        return objstore.annotate([i.manifest() for i in infos], root)

    def _files_input(
        self,
        con: duckdb.DuckDBPyConnection,
        known: dict[str, Any],
        paths: list[Path | str],
        key: str,
    ) -> LogInput:
        files = pf.expand(self._local(paths, key), self._key(key))
        if self.opts.engine != "duckdb" and pf.file_format(files[0]) != "parquet":
            raise SourceError(
                f"{self._key(key)}: engine {self.opts.engine!r} reads Parquet files; "
                f"{files[0]} is CSV (convert it, or use the default engine)"
            )
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

    # -- a scan engine other than DuckDB (docs/engines.md) -------------------------------------

    def _spark(self) -> Any:
        if self.opts.engine != "spark":
            raise SourceError(
                f"{self._key('engine')}: unknown engine {self.opts.engine!r} (known: duckdb, spark)"
            )
        from mlreport.connectors.spark import inputs

        return inputs

    def _catalog_input(self) -> LogInput:
        """A catalog table read by Spark: its columns from the catalog, its manifest entry
        (version or snapshot, files); the warehouse view reads an empty relation of its shape."""
        inputs = self._spark()
        table = self.opts.table
        assert table is not None
        engine = inputs.engine_for(self.opts.spark or SparkOptions(), self._key("spark"))
        schema = inputs.table_schema(engine, table, self._key("table"))
        manifest = inputs.table_manifest(engine, table)
        self.count("files", len(manifest["files"]))
        info = pf.FileInfo(Path(manifest["path"]), manifest["bytes"], 0, "", schema)
        relation = inputs.empty_relation(schema)
        label = f"table {table!r} on Spark"
        return LogInput("table", relation, [info], label, schema, [manifest])

    def _engine_check(
        self, main: LogInput, view: Any, ref: LogInput | None, ref_sql: str | None
    ) -> int | None:
        """The log's views, translated, read on Spark with the warehouse's columns; the row
        count of a catalog table (its warehouse view is empty)."""
        inputs = self._spark()
        key = self._key("spark")
        engine = inputs.engine_for(self.opts.spark or SparkOptions(), key)
        table = self.opts.table
        if table is not None:
            source = inputs.spark_table(engine, table)
        else:
            source = inputs.spark_relation(engine, [str(i.path) for i in main.infos])
        inputs.check_view(engine, self.view_name, view.sql, source, view.columns, key)
        if ref_sql is not None:
            ref_source = None
            if ref is not None:
                ref_source = inputs.spark_relation(engine, [str(i.path) for i in ref.infos])
            inputs.check_view(
                engine, self.reference_view_name, ref_sql, ref_source, view.columns, key
            )
        return inputs.count_rows(engine, self.view_name) if table is not None else None

    def _checked_on_engine(self) -> str:
        """``mlreport doctor``: the connection and the log's schema, as a sync checks them."""
        con = scratch_connection()
        try:
            views = ViewBuilder(self.name, self.opts)
            main = self._input(con, {})
            view = views.mapped(con, main)
            ref_input = self._reference_input(con, {})
            ref_view = views.reference(con, ref_input, view, self.view_name)
            self._engine_check(main, view, ref_input, ref_view)
        finally:
            con.close()
        what = main.label if self.opts.table is not None else f"{len(main.infos)} file(s)"
        return f"{what}; reads on {self.opts.engine} with the warehouse's columns"

    # -- the prediction_logs row -------------------------------------------------------------

    def _stored(self, row: pl.DataFrame) -> bool:
        """Whether the warehouse already holds exactly this ``prediction_logs`` row."""
        if self.warehouse is None:
            return False
        stored = self.warehouse.query(
            f"SELECT {', '.join(LOG_ROW_SCHEMA)} FROM prediction_logs WHERE log = ?", [self.name]
        )
        if stored.height != 1:
            return False
        return stored.cast(LOG_ROW_SCHEMA).to_dicts() == row.to_dicts()

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
            "files": json.dumps(main.manifest or self._manifest(main.infos)),
            "reference_files": json.dumps(self._manifest(ref.infos)) if ref else None,
            "row_count": row_count,
        }
        return pl.DataFrame([row], schema=LOG_ROW_SCHEMA)


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
