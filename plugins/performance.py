"""The built-in ``performance`` metric family: model quality per prediction log, window and model
version, equal to scikit-learn on the labelled rows (definitions in docs/metrics-performance.md).

The SQL and the arithmetic live in ``performance_sql``; this module walks the logs, maps buckets
back to windows and versions to dimensions, and adds the degradation against the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from mlreport import hookimpl
from mlreport.engines import scan_connection
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins import performance_details
from mlreport.plugins import performance_sql as ps
from mlreport.plugins.prediction_counts import label_counts
from mlreport.prediction_logs import PredictionLog, Relation, prediction_logs
from mlreport.sources import source_options

MISSING_VERSION = "(missing)"
CLASSIFICATION = ps.THRESHOLD_METRICS + ps.SCORE_METRICS

# One (window bucket, version) of one relation: metric short name -> (value, n).
Values = dict[str, tuple[float | None, int]]


def _info(name: str, unit: str, description: str, better: bool | None) -> MetricInfo:
    return MetricInfo(f"performance.{name}", unit, description, higher_is_better=better)


class PerformanceMetrics(MetricFamily):
    """Classification and regression quality over the labelled rows of each prediction log."""

    name = "performance"
    metrics = (
        _info("accuracy", "ratio", "Share of labelled predictions that are right", True),
        _info("precision", "ratio", "Predicted positives that are positive (0 if none)", True),
        _info("recall", "ratio", "Positives predicted positive (0 if none)", True),
        _info("f1", "ratio", "Harmonic mean of precision and recall", True),
        _info("roc_auc", "ratio", "Area under the ROC curve of the score (exact)", True),
        _info("log_loss", "nats", "Mean cross-entropy of the score", False),
        _info("brier", "score", "Mean squared error of the score", False),
        _info("mae", "label", "Mean absolute error", False),
        _info("rmse", "label", "Root mean squared error", False),
        _info("r2", "ratio", "Coefficient of determination", True),
        _info("mape", "ratio", "Mean absolute percentage error, as a fraction", False),
        _info("labelled_share", "ratio", "Rows whose label has arrived, of all rows", True),
        _info("excluded_rows", "count", "Labelled rows without a usable prediction", False),
        _info(
            "excluded_scores",
            "count",
            "Labelled rows whose score is NaN, ±inf or not in [0, 1]",
            False,
        ),
        _info("degradation", "ratio", "(current − reference) ÷ reference, per metric", None),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        logs = prediction_logs(ctx.warehouse, ctx.entities)
        for log in logs:
            rows += log_rows(ctx, log)
        if ctx.detail_windows:
            performance_details.publish(ctx, logs)
        return rows


@hookimpl
def register_metrics(register):
    register("performance", PerformanceMetrics)


# -- one log -------------------------------------------------------------------------------


def log_rows(ctx: MetricContext, log: PredictionLog) -> list[dict[str, Any]]:
    """Every metric row of ``log`` for the context's windows: one scan set per run of
    contiguous windows (the threshold counts shared with the fairness family)."""
    con, windows = scan_connection(ctx, log), ctx.windows
    scored = has_score(ctx, log)
    reference = _reference_values(con, log, scored)
    rows = []
    for layer in ps.window_layers(windows):
        run = [windows[i] for i in layer]
        relation = log.window(Window(run[0].start, run[-1].end))
        counts = None
        if log.task != "regression":
            counts = ps.counts_from_rows(label_counts(ctx, log, run), _name(log))
        for (w, version), values in measure(con, log, relation, run, counts, scored).items():
            if reference is not None:
                values = {**values, **_degradation(log, values, reference)}
            rows += _rows(log, run[w], version, values)
    return rows


def measure(
    con: duckdb.DuckDBPyConnection,
    log: PredictionLog,
    relation: Relation,
    windows: Sequence[Window] | None,
    counts: dict[tuple[int, Any], ps.Counts] | None = None,
    scored: bool = True,
) -> dict[tuple[int, Any], Values]:
    """Values per (bucket, version or ALL). Per-version entries are left out of a bucket whose
    rows all lack a version (the all-versions entry says everything). Classification takes
    already-scanned threshold ``counts`` when given."""
    name = _name(log)
    if log.task == "regression":
        found = _regression(ps.regression_stats(con, relation, windows, name))
    else:
        if counts is None:
            counts = ps.threshold_counts(con, relation, windows, name)
        found = _classification(con, relation, windows, name, counts, scored)
    versioned = {w for (w, v) in found if v is not ps.ALL and v is not None}
    return {k: v for k, v in found.items() if k[1] is ps.ALL or k[0] in versioned}


def _classification(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    windows: Sequence[Window] | None,
    name: str,
    counts: dict[tuple[int, Any], ps.Counts],
    scored: bool = True,
) -> dict[tuple[int, Any], Values]:
    versions: dict[int, set[Any]] = {}
    for w, v in counts:
        if v is not ps.ALL:
            versions.setdefault(w, set()).add(v)
    # Group scores per version only when some window holds several (the usual single-version
    # window takes its per-version values from the all-versions pass).
    by_version = any(len(vs) > 1 for vs in versions.values())
    if scored:
        scores = ps.score_stats(con, relation, windows, by_version, name)
    else:  # no score column: every score is missing, known from the counts without a scan
        scores = _unscored(counts, by_version)
    out = {}
    for (w, v), c in counts.items():
        values: Values = {
            "labelled_share": (c.labelled / c.rows, c.rows),
            "excluded_rows": (float(c.labelled - c.used), c.labelled),
        }
        if c.used:
            values |= {m: (x, c.used) for m, x in ps.threshold_metrics(c).items()}
        s = scores.get((w, v if by_version else ps.ALL))
        if s is not None:
            values["excluded_scores"] = (float(s.excluded), c.labelled)
            values |= {m: (x, s.n) for m, x in ps.score_metrics(s).items()}
        out[(w, v)] = values
    return out


def has_score(ctx: MetricContext, log: PredictionLog) -> bool:
    """False when the log's source maps no ``columns.score`` (its view's score is all NULL),
    so the score scan can be skipped; True when unknown (the source left the config)."""
    options = source_options(ctx.config, "predictions").get(log.log)
    columns = getattr(options, "columns", None)
    return columns is None or getattr(columns, "score", "") is not None


def _unscored(
    counts: dict[tuple[int, Any], ps.Counts], by_version: bool
) -> dict[tuple[int, Any], ps.ScoreStats]:
    """What ``score_stats`` returns for a log whose scores are all NULL: no usable score and
    none excluded, for each (bucket, version) and (bucket, ALL) with a labelled row (the
    keys its scan of labelled rows would produce)."""
    out = {}
    for (w, v), c in counts.items():
        if c.labelled and (by_version or v is ps.ALL):
            out[(w, v)] = ps.ScoreStats(0, 0, 0, 0.0, 0.0, 0)
    return out


def _name(log: PredictionLog) -> str:
    return f"log {log.log!r} ({log.view})"


def _regression(stats: dict[tuple[int, Any], ps.RegressionStats]) -> dict[tuple[int, Any], Values]:
    out = {}
    for key, s in stats.items():
        values: Values = {
            "labelled_share": (s.labelled / s.rows, s.rows),
            "excluded_rows": (float(s.excluded), s.labelled),
        }
        values |= {m: (x, s.n) for m, x in ps.regression_metrics(s).items()}
        out[key] = values
    return out


# -- degradation ---------------------------------------------------------------------------


def _reference_values(
    con: duckdb.DuckDBPyConnection, log: PredictionLog, scored: bool = True
) -> Values | None:
    """All-versions values over the whole reference, or None when the log has none."""
    relation = log.reference()
    if relation is None:
        return None
    found = measure(con, log, relation, None, scored=scored)
    return found.get((0, ps.ALL), {})


def _degradation(log: PredictionLog, values: Values, reference: Values) -> Values:
    """``degradation:<metric>`` = (current − reference) ÷ reference for every quality metric
    present now; None when either is missing or the reference is 0. Every version is compared
    with the reference of all versions together (a new version has no reference of its own)."""
    out: Values = {}
    names = ps.REGRESSION_METRICS if log.task == "regression" else CLASSIFICATION
    for metric in names:
        if metric not in values:
            continue
        current, n = values[metric]
        base = reference.get(metric, (None, 0))[0]
        change = None if current is None or not base else (current - base) / base
        out[f"degradation:{metric}"] = (change, n)
    return out


# -- rows ----------------------------------------------------------------------------------


def _rows(log: PredictionLog, window: Window, version: Any, values: Values) -> list[dict[str, Any]]:
    dims: dict[str, Any] = {}
    if version is not ps.ALL:
        dims["model_version"] = MISSING_VERSION if version is None else version
    units = {m.name: m.unit for m in PerformanceMetrics.metrics}
    rows = []
    for key, (value, n) in values.items():
        metric, _, of = key.partition(":")
        name = f"performance.{metric}"
        rows.append(
            {
                "metric": name,
                "entity": log.entity,
                "window_start": window.start,
                "window_end": window.end,
                "dimensions": {**dims, "metric": of} if of else dict(dims),
                "value": value,
                "unit": units[name],
                "n": n,
            }
        )
    return rows
