"""The built-in ``drift`` metric family: each feature of a prediction log, current window
against the log's reference (DESIGN.md "drift"; definitions in ``docs/metrics-drift.md``).

The numbers come from :mod:`~mlreport.plugins.drift.numeric` and
:mod:`~mlreport.plugins.drift.categorical` (aggregate SQL in DuckDB, equal to numpy/scipy).
The reference profile (deciles, std) is computed once per log and reused for every window.
Logs without a reference produce no drift rows.
"""

from __future__ import annotations

from typing import Any

import duckdb

from mlreport import hookimpl
from mlreport.config import PolicyConfig
from mlreport.engines import scan_connection
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.drift import details, sql
from mlreport.plugins.drift.categorical import jensen_shannon, unseen_categories
from mlreport.plugins.drift.numeric import (
    NumericDrift,
    ReferenceProfile,
    numeric_drift,
    reference_profile,
)
from mlreport.plugins.drift.policies import failed_metrics, feature_policies
from mlreport.prediction_logs import PredictionLog, prediction_logs


class DriftMetrics(MetricFamily):
    """Feature drift per prediction log, window and feature."""

    name = "drift"
    metrics = (
        MetricInfo("drift.psi", "index", "Population stability index", higher_is_better=False),
        MetricInfo("drift.ks", "statistic", "Two-sample KS statistic", higher_is_better=False),
        MetricInfo("drift.ks_pvalue", "p-value", "KS asymptotic p-value", higher_is_better=True),
        MetricInfo(
            "drift.wasserstein",
            "reference std",
            "Wasserstein distance / reference std",
            higher_is_better=False,
        ),
        MetricInfo(
            "drift.jensen_shannon",
            "distance",
            "Jensen-Shannon distance (base 2)",
            higher_is_better=False,
        ),
        MetricInfo(
            "drift.unseen_categories",
            "categories",
            "Categories never seen in the reference",
            higher_is_better=False,
        ),
        MetricInfo(
            "drift.missing_share", "share", "Missing values in the window", higher_is_better=False
        ),
        MetricInfo(
            "drift.share", "share", "Share of features flagged by policy", higher_is_better=False
        ),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        published = details.Details(ctx.warehouse.con)
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            ref = log.reference()
            if ref is None or not log.features:
                continue
            con = published.con = scan_connection(ctx, log)
            policies = feature_policies(ctx.config, log.entity)
            published.add_policies(log, policies)
            with sql.scratch(con) as scratch:
                ref_values = scratch.usable(ref, log.numeric)
                profile = reference_profile(con, ref_values, log.numeric)
                for window in ctx.windows:
                    found, values = log_rows(
                        con, log, (ref, ref_values), window, profile, policies, scratch
                    )
                    rows += found
                    detailed = window in ctx.detail_windows
                    published.add_window(log, window, values, policies, histograms=detailed)
        if ctx.detail_windows:
            published.publish(ctx)
        return rows


def log_rows(
    con: duckdb.DuckDBPyConnection,
    log: PredictionLog,
    refs: tuple[sql.Relation, sql.Relation],
    window: Window,
    profile: dict[str, ReferenceProfile],
    policies: dict[str, PolicyConfig],
    scratch: sql.Scratch,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float | None]]]:
    """Every feature's rows for one window, then ``drift.share``; and each feature's values.
    ``refs`` is the reference relation and its numeric values (a copy in ``scratch`` when
    small enough)."""
    ref, ref_values = refs
    cur = log.window(window)
    total, usable = sql.column_counts(con, cur, log.numeric, log.categorical)
    values: dict[str, dict[str, float | None]] = {}
    numeric = {}
    if total and log.numeric:
        cur_values = scratch.usable(cur, log.numeric, rows=total)
        numeric = numeric_drift(con, ref_values, cur_values, log.numeric, profile)
        scratch.drop(cur_values)
    for f in log.numeric:
        values[f] = numeric_values(numeric.get(f))
    for f in log.categorical:
        values[f] = categorical_values(con, ref, cur, f, usable[f])
    rows = []
    for f, metrics in values.items():
        missing = None if total == 0 else 1 - usable[f] / total
        metrics["drift.missing_share"] = missing
        for metric, value in metrics.items():
            n = total if metric == "drift.missing_share" else usable[f]
            rows.append(_row(log, window, metric, {"feature": f}, value, n))
    rows.append(_row(log, window, "drift.share", {}, drift_share(values, policies), total))
    return rows, values


def numeric_values(d: NumericDrift | None) -> dict[str, float | None]:
    """A numeric feature's metrics; all None when a side has no usable value."""
    if d is None:
        return dict.fromkeys(("drift.psi", "drift.ks", "drift.ks_pvalue", "drift.wasserstein"))
    return {
        "drift.psi": d.psi,
        "drift.ks": d.ks.statistic,
        "drift.ks_pvalue": d.ks.pvalue,
        "drift.wasserstein": d.wasserstein,
    }


def categorical_values(
    con: duckdb.DuckDBPyConnection,
    ref: sql.Relation,
    cur: sql.Relation,
    feature: str,
    usable: int,
) -> dict[str, float | None]:
    """A categorical feature's metrics; None when the window has no usable value."""
    if usable == 0:
        return {"drift.jensen_shannon": None, "drift.unseen_categories": None}
    return {
        "drift.jensen_shannon": jensen_shannon(con, ref, cur, feature),
        "drift.unseen_categories": float(len(unseen_categories(con, ref, cur, feature))),
    }


def drift_share(
    values: dict[str, dict[str, float | None]], policies: dict[str, PolicyConfig]
) -> float | None:
    """Flagged features ÷ features with a value for at least one policy metric."""
    judged = flagged = 0
    for metrics in values.values():
        if not any(metrics.get(m) is not None for m in policies):
            continue
        judged += 1
        flagged += bool(failed_metrics(metrics, policies))
    return None if judged == 0 else flagged / judged


def _row(
    log: PredictionLog,
    window: Window,
    metric: str,
    dims: dict[str, str],
    value: float | None,
    n: int,
) -> dict[str, Any]:
    unit = next(m.unit for m in DriftMetrics.metrics if m.name == metric)
    return {
        "metric": metric,
        "entity": log.entity,
        "window_start": window.start,
        "window_end": window.end,
        "dimensions": dims,
        "value": value,
        "unit": unit,
        "n": n,
    }


@hookimpl
def register_metrics(register) -> None:
    register("drift", DriftMetrics)
