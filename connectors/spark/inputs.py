"""What a sync checks and records about an ``engine = "spark"`` log.

- A catalog table's columns, as DuckDB types, so the warehouse view's column mappings bind
  against the same shapes Spark will read (the view itself is empty in the warehouse: the rows
  stay where Spark reads them).
- The table's manifest entry: its name, the snapshot or version where the catalog has one
  (Delta's ``DESCRIBE HISTORY``, Iceberg's ``snapshots``), and its files with sizes and
  modification times where they are local.
- That the log's view, translated for Spark, reads there and gives the columns it gives in the
  warehouse (a schema mismatch fails the sync, naming the columns, before anything is stored).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlparse

from mlreport.connectors.predictions.options import SparkOptions
from mlreport.connectors.spark.engine import SparkEngine, define_view, files_input, table_input
from mlreport.connectors.spark.session import describe, first_line, get_session
from mlreport.engines import EngineError
from mlreport.sql import quote_identifier

SIMPLE_TYPES = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
    "void": '"NULL"',
}


def engine_for(opts: SparkOptions, key: str) -> SparkEngine:
    return SparkEngine(get_session(opts, key), f"{key} ({describe(opts)})")


def duckdb_type(spark_type: str) -> str:
    """DuckDB's name for a Spark column type (``simpleString`` form)."""
    low = spark_type.lower()
    if low in SIMPLE_TYPES:
        return SIMPLE_TYPES[low]
    if low.startswith("decimal(") or low.startswith("varchar(") or low.startswith("char("):
        return "VARCHAR" if "char" in low else low.upper()
    return "VARCHAR" if low.startswith(("array", "map", "struct")) else low.upper()


def table_schema(engine: SparkEngine, table: str, key: str) -> tuple[tuple[str, str], ...]:
    """The catalog table's columns as (name, DuckDB type)."""
    try:
        schema = engine.session.table(table).schema
    except Exception as exc:  # noqa: BLE001 - pyspark's errors have no common base
        raise EngineError(f"{key}: Spark cannot read table {table!r}: {first_line(exc)}") from None
    return tuple((f.name, duckdb_type(f.dataType.simpleString())) for f in schema.fields)


def empty_relation(schema: tuple[tuple[str, str], ...]) -> str:
    """A DuckDB relation with ``schema``'s columns and no rows (what the warehouse view of a
    catalog table reads: the rows stay in the catalog)."""
    cols = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(n)}" for n, t in schema)
    return f"(SELECT {cols} LIMIT 0)"


def table_manifest(engine: SparkEngine, table: str) -> dict[str, Any]:
    """The manifest entry of a catalog table: name, snapshot or version, files."""
    entry: dict[str, Any] = {"path": f"spark-table:{table}", "table": table}
    version = _delta_version(engine, table)
    if version is not None:
        entry["delta_version"] = version
    snapshot = _iceberg_snapshot(engine, table)
    if snapshot is not None:
        entry["iceberg_snapshot"] = snapshot
    try:
        files = sorted(engine.session.table(table).inputFiles())
    except Exception:  # noqa: BLE001 - a source without a file listing (a JDBC table)
        files = []
    entry["files"] = [_file_entry(f) for f in files]
    entry["bytes"] = sum(f.get("bytes", 0) for f in entry["files"])
    return entry


def _delta_version(engine: SparkEngine, table: str) -> int | None:
    try:
        rows = engine.session.sql(f"DESCRIBE HISTORY {table} LIMIT 1").collect()
    except Exception:  # noqa: BLE001 - not a Delta table, or no Delta in the session
        return None
    return int(rows[0]["version"]) if rows else None


def _iceberg_snapshot(engine: SparkEngine, table: str) -> int | None:
    try:
        rows = engine.session.sql(
            f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at DESC LIMIT 1"
        ).collect()
    except Exception:  # noqa: BLE001 - not an Iceberg table
        return None
    return int(rows[0][0]) if rows else None


def _file_entry(uri: str) -> dict[str, Any]:
    url = urlparse(uri)
    entry: dict[str, Any] = {"path": uri}
    if url.scheme in ("", "file"):
        try:
            stat = os.stat(unquote(url.path))
        except OSError:
            return entry
        entry["bytes"], entry["mtime_ns"] = stat.st_size, stat.st_mtime_ns
    return entry


def check_view(
    engine: SparkEngine,
    name: str,
    duckdb_sql: str,
    source: str | None,
    columns: tuple[tuple[str, str], ...],
    key: str,
) -> None:
    """Define the view in Spark and check it gives the warehouse view's columns and types."""
    define_view(engine, name, duckdb_sql, source)
    try:
        fields = engine.session.table(f"`{name}`").schema.fields
    except Exception as exc:  # noqa: BLE001
        raise EngineError(f"{key}: Spark cannot read the view: {first_line(exc)}") from None
    got = [(f.name, duckdb_type(f.dataType.simpleString())) for f in fields]
    want = [(n, t) for n, t in columns]
    if [n.lower() for n, _ in got] != [n.lower() for n, _ in want] or [
        _family(t) for _, t in got
    ] != [_family(t) for _, t in want]:
        diff = [
            f"{n}: {t} in the warehouse, {dict(got).get(n, 'missing')} on Spark"
            for n, t in want
            if _family(dict(got).get(n, "")) != _family(t)
        ]
        raise EngineError(
            f"{key}: the log's columns read differently on Spark than in DuckDB: "
            f"{'; '.join(diff) or 'other columns'}; map them to the same types"
        )


def _family(kind: str) -> str:
    """Types that compare equal across the engines (Spark has no unsigned or huge ints)."""
    kind = kind.upper()
    if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") or kind.startswith("U"):
        return "INTEGER"  # Spark reads Parquet's unsigned ints as wider signed ones
    if kind.startswith("DECIMAL"):
        return "DECIMAL"
    return kind


def spark_relation(engine: SparkEngine, files: list[str]) -> str:
    """A Spark temp view over exactly the fingerprinted files."""
    return files_input(engine.session, [{"path": f} for f in files])


def spark_table(engine: SparkEngine, table: str) -> str:
    return table_input(engine.session, table)


def count_rows(engine: SparkEngine, view: str) -> int:
    (n,) = engine.run(f"SELECT count(*) FROM `{view}`").to_pylist()[0].values()
    return int(n)
