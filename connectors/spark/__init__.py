"""The Spark scan engine: ``engine = "spark"`` on a ``predictions`` source runs the log's heavy
scans on Apache Spark (a local session, a cluster, or Spark Connect) instead of the
warehouse's DuckDB. See docs/engines.md.

This package is the plugin module (``DEFAULT_PLUGINS``); it registers the engine. pyspark is
optional (``pip install 'mlreport[spark]'``) and imported only when a Spark session starts.

- ``translate``: DuckDB-dialect SQL to Spark SQL with sqlglot, parameters as literals;
- ``session``: a session from ``[sources.spark]``, with clear errors;
- ``engine``: the engine and the log's views in the session;
- ``inputs``: what a sync checks and records about a Spark log's input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlreport import hookimpl
from mlreport.connectors.spark.engine import make_spark_engine

__all__ = ["register_engines"]


@hookimpl
def register_engines(register: Callable[[str, Any], None]) -> None:
    register("spark", make_spark_engine)
