"""The Spark scan engine: a prediction log's aggregate SQL, written for DuckDB, run on Spark.

The log's views are defined in the Spark session under the names they have in the warehouse
(``predictions__<name>`` and its reference view), from the very SQL the warehouse's views hold
(the column mappings and ``where`` the sync bound and checked), with only their input swapped:
the fingerprinted Parquet files, or the catalog table, read by Spark. Every query then goes
through :func:`~mlreport.connectors.spark.translate.to_spark` and only its small result comes
back, as Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from mlreport.connectors.predictions.options import SparkOptions
from mlreport.connectors.spark.session import describe, first_line, get_session
from mlreport.connectors.spark.translate import TranslationError, to_spark
from mlreport.engines import ArrowResult, EngineError, ViewScan
from mlreport.prediction_logs import PredictionLog
from mlreport.warehouse import Warehouse


class SparkEngine:
    """Runs DuckDB-dialect SQL on a Spark session; see the module docstring."""

    name = "spark"

    def __init__(self, session: Any, label: str) -> None:
        self.session = session
        self.label = label  # names the log and the connection in errors

    def execute(self, sql: str, params: Sequence[Any] = ()) -> ArrowResult:
        try:
            text = to_spark(sql, params)
        except TranslationError as exc:
            raise EngineError(f"{self.label}: cannot write the query for Spark: {exc}") from None
        return ArrowResult(self.run(text))

    def run(self, spark_sql: str) -> Any:
        """Spark SQL text in, an Arrow table out."""
        try:
            return self.session.sql(spark_sql).toArrow()
        except Exception as exc:  # pyspark's errors have no common base across modes
            raise EngineError(f"{self.label}: Spark: {first_line(exc)}") from None

    def cursor(self) -> SparkEngine:
        return self  # a Spark session takes queries from several threads

    def close(self) -> None:
        """Nothing to close: the session outlives the cursor (see ``session.stop_all``)."""

    def materializes(self) -> bool:
        return False


def spark_options(options: dict[str, Any]) -> SparkOptions:
    return SparkOptions.model_validate(options.get("spark") or {})


def make_spark_engine(
    log: PredictionLog | ViewScan, options: dict[str, Any], warehouse: Warehouse
) -> SparkEngine:
    """The engine for ``log``, its views defined in the session (see the module docstring);
    for a :class:`ViewScan` (cost exports), see :mod:`~mlreport.connectors.spark.scans`."""
    if isinstance(log, ViewScan):
        from mlreport.connectors.spark.scans import make_scan_engine

        return make_scan_engine(log, options)
    key = f"source {log.log!r}: spark"
    opts = spark_options(options)
    session = get_session(opts, key)
    engine = SparkEngine(session, f"log {log.log!r} on {describe(opts)}")
    table = options.get("table")
    main_input = table_input(session, table) if table else files_input(session, log.files)
    define_view(engine, log.view, view_sql(warehouse, log.view), main_input)
    if log.reference_view is not None:
        ref_input = None
        if log.reference_kind == "files":
            ref_input = files_input(session, log.reference_files)
        define_view(engine, log.reference_view, view_sql(warehouse, log.reference_view), ref_input)
    return engine


def view_sql(warehouse: Warehouse, view: str) -> str:
    """The stored SQL of a warehouse view (what the sync bound and checked)."""
    row = warehouse.con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND NOT internal",
        [view],
    ).fetchone()
    if row is None:
        raise EngineError(f"view {view!r} is not in the warehouse; run `mlreport sync` first")
    return row[0]


def define_view(engine: SparkEngine, name: str, duckdb_sql: str, source: str | None) -> None:
    """``CREATE OR REPLACE TEMP VIEW name`` in Spark from a warehouse view's DuckDB SQL, its
    input (the FROM of the outermost SELECT) replaced by the Spark temp view ``source``."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    query = tree.expression if isinstance(tree, exp.Create) else tree
    if source is not None:
        select = query if isinstance(query, exp.Select) else query.find(exp.Select)
        select.set("from_", exp.From(this=exp.to_table(source, quoted=True)))
    try:
        text = to_spark(query.sql("duckdb"))
    except TranslationError as exc:
        raise EngineError(f"{engine.label}: cannot write view {name!r} for Spark: {exc}") from None
    ident = exp.to_identifier(name, quoted=True).sql("spark")
    engine.run(f"CREATE OR REPLACE TEMP VIEW {ident} AS {text}")


def files_input(session: Any, files: Sequence[dict[str, Any]], merge: bool = False) -> str:
    """A temp view over exactly the fingerprinted files (the manifest's paths); ``merge``
    takes the union of their columns (as DuckDB's ``union_by_name``)."""
    paths = [str(f["path"]) for f in files]
    if not paths:
        raise EngineError("the log has no files recorded; run `mlreport sync` first")
    name = f"mlreport_input_{abs(hash((tuple(paths), merge))):x}"
    try:
        reader = session.read.option("mergeSchema", "true") if merge else session.read
        reader.parquet(*[_uri(p) for p in paths]).createOrReplaceTempView(name)
    except Exception as exc:  # noqa: BLE001 - pyspark's errors have no common base
        raise EngineError(f"Spark cannot read {paths[0]}: {first_line(exc)}") from None
    return name


def _uri(path: str) -> str:
    """A local path as a ``file:`` URI, unescaped as Hadoop reads it (Spark would take a bare
    path as on its default file system, HDFS on a cluster)."""
    if "://" in path:
        return path
    # Not Path.as_uri(): Hadoop does not decode its percent escapes, so a hive-style folder
    # (`BILLING_PERIOD=2026-01`) would become a path that does not exist.
    return "file://" + Path(path).absolute().as_posix()


def table_input(session: Any, table: str) -> str:
    name = f"mlreport_input_{abs(hash(table)):x}"
    try:
        session.table(table).createOrReplaceTempView(name)
    except Exception as exc:  # noqa: BLE001 - pyspark's errors have no common base
        raise EngineError(f"Spark cannot read table {table!r}: {first_line(exc)}") from None
    return name
