"""Detail rows the ``performance`` family publishes for reports, per log and detail window:
row counts, binary confusion counts and reliability (calibration) bins, each one aggregate
query over the log's relation. Only counts and sums come back to Python.

Tables (schema ``details``, documented in docs/metrics-performance.md):
``performance_log_counts``, ``performance_confusion``, ``performance_calibration`` and
``performance_query_errors`` (a query that failed: files moved, a bad mapping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import polars as pl

from mlreport.engines import EngineError, scan_connection
from mlreport.metrics import MetricContext, Window
from mlreport.prediction_logs import PredictionLog, Relation

CALIBRATION_BINS = 10
TIME = pl.Datetime("us", "UTC")
KEY = {"log": pl.String, "entity": pl.String, "window_start": TIME, "window_end": TIME}


def _from(rel: Relation) -> tuple[str, list[Any]]:
    return f"({rel[0]})", list(rel[1])


def row_counts(con: duckdb.DuckDBPyConnection, rel: Relation) -> dict[str, int]:
    """Rows in the relation and how many of them carry a label."""
    src, params = _from(rel)
    rows, labelled = con.execute(
        f"SELECT count(*), count(label) FROM {src} AS t", params
    ).fetchall()[0]
    return {"rows": int(rows), "labelled": int(labelled)}


def confusion(con: duckdb.DuckDBPyConnection, rel: Relation) -> dict[str, int]:
    """Binary confusion counts over labelled rows (label and prediction 0/1); rows with any
    other label or prediction value are counted as ``other``, not guessed at."""
    src, params = _from(rel)
    sql = f"""SELECT
        count(*) FILTER (WHERE label = 0 AND prediction = 0),
        count(*) FILTER (WHERE label = 0 AND prediction = 1),
        count(*) FILTER (WHERE label = 1 AND prediction = 0),
        count(*) FILTER (WHERE label = 1 AND prediction = 1),
        count(*) FILTER (WHERE label IS NOT NULL)
        FROM {src} AS t"""
    tn, fp, fn, tp, labelled = (int(v) for v in con.execute(sql, params).fetchone())
    return {
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
        "labelled": labelled,
        "other": labelled - (tn + fp + fn + tp),
    }


def calibration_edges(n_bins: int = CALIBRATION_BINS) -> list[float]:
    """The bin edges ``sklearn.calibration.calibration_curve(strategy="uniform")`` uses."""
    return [float(x) for x in np.linspace(0.0, 1.0, n_bins + 1)]


def calibration(
    con: duckdb.DuckDBPyConnection, rel: Relation, n_bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """Reliability bins over labelled rows with a score in [0, 1].

    As scikit-learn: a score's bin is the number of inner edges strictly below it
    (``searchsorted(edges[1:-1], score)``); per non-empty bin, ``mean_score`` is
    ``prob_pred`` and ``fraction_positive`` is ``prob_true``. Rows whose score is missing, not
    finite or outside [0, 1] are left out and counted (scikit-learn would refuse them).
    Scores are summed as decimals: a parallel float sum can differ in its last bit from run
    to run, and the report must be byte-identical.
    """
    edges = calibration_edges(n_bins)
    src, params = _from(rel)
    sql = f"""WITH s AS (
        SELECT CAST(score AS DOUBLE) AS p, CAST(label AS DOUBLE) AS y FROM {src} AS t
        WHERE label IS NOT NULL
    )
    SELECT len(list_filter(?::DOUBLE[], lambda x: x < p)) AS bin, count(*),
           sum(CAST(p AS DECIMAL(38, 18))), sum(y)
    FROM s WHERE isfinite(p) AND p >= 0 AND p <= 1 GROUP BY bin ORDER BY bin"""
    rows = con.execute(sql, [*params, edges[1:-1]]).fetchall()
    (excluded,) = con.execute(
        f"SELECT count(*) FROM (SELECT CAST(score AS DOUBLE) AS p FROM {src} AS t "
        "WHERE label IS NOT NULL) WHERE p IS NULL OR NOT isfinite(p) OR p < 0 OR p > 1",
        params,
    ).fetchall()[0]
    by_bin = {int(b): (int(n), float(sp), float(sy)) for b, n, sp, sy in rows}
    bins = []
    for i in range(n_bins):
        n, sp, sy = by_bin.get(i, (0, 0.0, 0.0))
        bins.append(
            {
                "lo": edges[i],
                "hi": edges[i + 1],
                "count": n,
                "mean_score": sp / n if n else None,
                "fraction_positive": sy / n if n else None,
            }
        )
    return {"bins": bins, "n": sum(b["count"] for b in bins), "excluded": int(excluded)}


def publish(ctx: MetricContext, logs: list[PredictionLog]) -> None:
    """Counts, confusion and calibration of every log for each detail window."""
    tables: dict[str, list[dict[str, Any]]] = {
        "counts": [],
        "confusion": [],
        "calibration": [],
        "errors": [],
    }
    for log in logs:
        con = scan_connection(ctx, log)
        for window in ctx.detail_windows:
            key = {
                "log": log.log,
                "entity": log.entity,
                "window_start": window.start,
                "window_end": window.end,
            }
            _details(con, log, window, key, tables)
    ctx.publish("performance_log_counts", _frame(tables["counts"], COUNTS))
    ctx.publish("performance_confusion", _frame(tables["confusion"], CONFUSION))
    ctx.publish("performance_calibration", _frame(tables["calibration"], CALIBRATION))
    ctx.publish("performance_query_errors", _frame(tables["errors"], ERRORS))


def _details(con, log: PredictionLog, window: Window, key: dict, tables: dict) -> None:
    rel = log.window(window)

    def attempt(what: str, query: Callable[[], Any]) -> Any:
        try:
            return query()
        except (duckdb.Error, EngineError) as exc:
            tables["errors"].append({**key, "query": what, "error": str(exc).splitlines()[0]})
            return None

    counts = attempt("row counts", lambda: row_counts(con, rel))
    if counts is not None:
        tables["counts"].append({**key, **counts})
    if log.task != "classification":
        return
    matrix = attempt("confusion matrix", lambda: confusion(con, rel))
    if matrix is not None:
        tables["confusion"].append({**key, **matrix})
    cal = attempt("calibration", lambda: calibration(con, rel))
    if cal is not None:
        for i, b in enumerate(cal["bins"]):
            tables["calibration"].append({**key, "bin": i, **b, "excluded": cal["excluded"]})


COUNTS = {**KEY, "rows": pl.Int64, "labelled": pl.Int64}
CONFUSION = {**KEY, **dict.fromkeys(("tn", "fp", "fn", "tp", "labelled", "other"), pl.Int64)}
CALIBRATION = {
    **KEY,
    "bin": pl.Int64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "count": pl.Int64,
    "mean_score": pl.Float64,
    "fraction_positive": pl.Float64,
    "excluded": pl.Int64,
}
ERRORS = {**KEY, "query": pl.String, "error": pl.String}


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
