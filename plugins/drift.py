"""The built-in ``drift`` metric family: each feature of a prediction log, current window
against the log's reference (DESIGN.md "drift"; definitions in ``docs/metrics-drift.md``).

The numbers come from ``drift_sql`` (aggregate SQL in DuckDB, equal to numpy/scipy). The
reference profile (deciles, std) is computed once per log and reused for every window.
Logs without a reference produce no drift rows.
"""

from __future__ import annotations

from typing import Any

import duckdb

from mlreport import hookimpl
from mlreport.config import Config, PolicyConfig
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins import drift_sql
from mlreport.plugins.prediction_logs import PredictionLog, prediction_logs

# Per-feature metrics a policy can flag a feature by.
FEATURE_METRICS = (
    "drift.psi",
    "drift.ks",
    "drift.ks_pvalue",
    "drift.wasserstein",
    "drift.jensen_shannon",
    "drift.unseen_categories",
    "drift.missing_share",
)
# Used when no policy names a per-feature drift metric (for this log's entity).
DEFAULT_POLICIES = {
    "drift.psi": PolicyConfig(max=0.2),
    "drift.jensen_shannon": PolicyConfig(max=0.1),
}


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
        con = ctx.warehouse.con
        rows: list[dict[str, Any]] = []
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            ref = log.reference()
            if ref is None or not log.features:
                continue
            policies = feature_policies(ctx.config, log.entity)
            with drift_sql.scratch(con) as scratch:
                ref_values = scratch.usable(ref, log.numeric)
                profile = drift_sql.reference_profile(con, ref_values, log.numeric)
                for window in ctx.windows:
                    rows += log_rows(
                        con, log, (ref, ref_values), window, profile, policies, scratch
                    )
        return rows


def feature_policies(config: Config, entity: str) -> dict[str, PolicyConfig]:
    """The per-feature drift policies that apply to ``entity``; the defaults if none do."""
    found = {
        metric: p
        for metric, p in config.policies.items()
        if metric in FEATURE_METRICS and p.stat is None and p.entity in (None, entity)
    }
    return found or dict(DEFAULT_POLICIES)


def violates(policy: PolicyConfig, value: float | None) -> bool:
    """Outside [min, max]; no value (no data) never flags, as in policy checks."""
    if value is None:
        return False
    return (policy.min is not None and value < policy.min) or (
        policy.max is not None and value > policy.max
    )


def log_rows(
    con: duckdb.DuckDBPyConnection,
    log: PredictionLog,
    refs: tuple[drift_sql.Relation, drift_sql.Relation],
    window: Window,
    profile: dict[str, drift_sql.ReferenceProfile],
    policies: dict[str, PolicyConfig],
    scratch: drift_sql.Scratch,
) -> list[dict[str, Any]]:
    """Every feature's rows for one window, then ``drift.share``. ``refs`` is the reference
    relation and its numeric values (a copy in ``scratch`` when small enough)."""
    ref, ref_values = refs
    cur = log.window(window)
    total, usable = drift_sql.column_counts(con, cur, log.numeric, log.categorical)
    values: dict[str, dict[str, float | None]] = {}
    numeric = {}
    if total and log.numeric:
        cur_values = scratch.usable(cur, log.numeric, rows=total)
        numeric = drift_sql.numeric_drift(con, ref_values, cur_values, log.numeric, profile)
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
    return rows


def numeric_values(d: drift_sql.NumericDrift | None) -> dict[str, float | None]:
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
    ref: drift_sql.Relation,
    cur: drift_sql.Relation,
    feature: str,
    usable: int,
) -> dict[str, float | None]:
    if usable == 0:
        return {"drift.jensen_shannon": None, "drift.unseen_categories": None}
    return {
        "drift.jensen_shannon": drift_sql.jensen_shannon(con, ref, cur, feature),
        "drift.unseen_categories": float(len(drift_sql.unseen_categories(con, ref, cur, feature))),
    }


def drift_share(
    values: dict[str, dict[str, float | None]], policies: dict[str, PolicyConfig]
) -> float | None:
    """Flagged features ÷ features with a value for at least one policy metric."""
    judged = flagged = 0
    for metrics in values.values():
        checked = [(m, metrics[m]) for m in policies if metrics.get(m) is not None]
        if not checked:
            continue
        judged += 1
        flagged += any(violates(policies[m], v) for m, v in checked)
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
