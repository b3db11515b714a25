"""A source's view on Spark when it is not a prediction log: the cost exports of a ``focus``
source with ``engine = "spark"`` (see docs/engines.md, "Cost exports on Spark").

The view's SQL is the one the source writes for DuckDB; sqlglot reads it, its one
``read_parquet([...])`` scan is replaced by a Spark temp view over exactly the fingerprinted
files (their columns merged, as ``union_by_name`` does), and the rest is translated as every
query is (:mod:`~mlreport.connectors.spark.translate`).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from mlreport.connectors.predictions.options import SparkOptions
from mlreport.connectors.spark.engine import SparkEngine, files_input
from mlreport.connectors.spark.session import describe, get_session
from mlreport.connectors.spark.translate import TranslationError, to_spark
from mlreport.engines import EngineError, ViewScan


def make_scan_engine(scan: ViewScan, options: dict[str, Any]) -> SparkEngine:
    """An engine with ``scan.view`` defined in the session."""
    key = f"source {scan.source!r}: spark"
    opts = SparkOptions.model_validate(options.get("spark") or {})
    engine = SparkEngine(get_session(opts, key), f"source {scan.source!r} on {describe(opts)}")
    define_scan_view(engine, scan)
    return engine


def define_scan_view(engine: SparkEngine, scan: ViewScan) -> None:
    """``CREATE OR REPLACE TEMP VIEW`` ``scan.view`` in Spark over exactly ``scan.files``."""
    source = files_input(engine.session, [{"path": p} for p in scan.files], merge=True)
    try:
        text = spark_view_sql(scan.sql, source)
    except TranslationError as exc:
        message = f"{engine.label}: cannot write view {scan.view!r} for Spark: {exc}"
        raise EngineError(message) from None
    ident = exp.to_identifier(scan.view, quoted=True).sql("spark")
    engine.run(f"CREATE OR REPLACE TEMP VIEW {ident} AS {text}")


def spark_view_sql(duckdb_sql: str, source: str) -> str:
    """The view's Spark SQL, each ``read_parquet(...)`` replaced by the temp view ``source``."""
    try:
        tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"sqlglot cannot read the view: {exc}") from None
    scans = [t for t in tree.find_all(exp.Table) if isinstance(t.this, exp.ReadParquet)]
    if not scans:
        raise TranslationError("the view reads no Parquet files (engine spark reads Parquet only)")
    for table in scans:
        table.replace(exp.to_table(source, quoted=True))
    if tree.find(exp.ReadCSV) is not None or "read_csv" in tree.sql("duckdb").lower():
        raise TranslationError("the view reads CSV files; engine spark reads Parquet only")
    return to_spark(tree.sql("duckdb"))
