"""The built-in ``monitoring`` metric family: is each model's prediction log actually kept?

Per model entity with a prediction log and per window: days with logs, the window's days,
coverage, the longest gap, the labelled share, the label lag (when the log maps
``columns.label_timestamp``) and the age of the oldest logged row (retention actually held).
Definitions in docs/metrics-monitoring.md. One scan per log (``sql.day_groups``), plus one for
the label lag when it is mapped; both run on the log's engine through ``scan_connection``.
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl

from mlreport import hookimpl
from mlreport.engines import DEFAULT_ENGINE, engine_name, scan_connection
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins.monitoring import sql as ms
from mlreport.plugins.monitoring.days import DayGroup, WindowDays, boundaries, window_days
from mlreport.prediction_logs import PredictionLog, prediction_logs

log = logging.getLogger("mlreport.monitoring")
DAY_SECONDS = 86400


def _info(name: str, unit: str, description: str, better: bool | None, stats=()) -> MetricInfo:
    return MetricInfo(f"monitoring.{name}", unit, description, tuple(stats), better)


class MonitoringMetrics(MetricFamily):
    """Prediction-log coverage, labels and retention per model (see the module docstring)."""

    name = "monitoring"
    metrics = (
        _info("log_days", "days", "UTC days of the window with at least one prediction", True),
        _info("window_days", "days", "UTC days the window touches (partial days count)", None),
        _info("coverage", "ratio", "log_days ÷ window_days", True),
        _info("longest_gap_days", "days", "Longest run of days without predictions", False),
        _info("labelled_share", "ratio", "Rows whose label has arrived, of all rows", True),
        _info(
            "label_lag_hours",
            "hours",
            "Label time − prediction time (needs columns.label_timestamp)",
            False,
            ("p50", "p95", "max"),
        ),
        _info("oldest_row_age_days", "days", "Window end − the oldest logged row", None),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        by_entity: dict[str, list[PredictionLog]] = {}
        for g in prediction_logs(ctx.warehouse, ctx.entities):
            by_entity.setdefault(g.entity, []).append(g)
        rows: list[dict[str, Any]] = []
        details: list[dict[str, Any]] = []
        for entity, logs in sorted(by_entity.items()):
            rows += entity_rows(ctx, entity, logs, details)
        if ctx.detail_windows:
            ctx.publish("monitoring_logs", pl.DataFrame(details, schema=LOGS, orient="row"))
        return rows


TIME = pl.Datetime("us", "UTC")
LOGS = {
    "log": pl.String,
    "entity": pl.String,
    "window_start": TIME,
    "window_end": TIME,
    "rows": pl.Int64,
    "log_days": pl.Int64,
    "window_days": pl.Int64,
    "labelled": pl.Int64,
    "label_time": pl.Boolean,  # whether the log maps columns.label_timestamp
    "lagged": pl.Int64,
    "oldest": TIME,
}


@hookimpl
def register_metrics(register):
    register("monitoring", MonitoringMetrics)


def has_label_time(ctx: MetricContext, g: PredictionLog) -> bool:
    """Whether the log's synced view has the label time (``columns.label_timestamp`` mapped
    when it last synced)."""
    found = ctx.warehouse.con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? AND column_name = ?",
        [g.view, ms.LABEL_TS],
    ).fetchone()
    return bool(found and found[0])


def entity_rows(
    ctx: MetricContext, entity: str, logs: list[PredictionLog], details: list[dict]
) -> list[dict]:
    """Every metric row of one entity: the day groups of all its logs, merged. Appends each
    log's own figures for the detail windows to ``details``."""
    cuts = boundaries(ctx.windows)
    lagged = [g for g in logs if has_label_time(ctx, g)]
    groups: list[DayGroup] = []
    for g in logs:
        con = scan_connection(ctx, g)
        own = ms.day_groups(con, g.view, cuts, g in lagged, _name(g))
        groups += own
        for w in ctx.detail_windows:
            details.append(_detail(g, w, window_days(w, own, cuts), g in lagged))
    found = [(w, window_days(w, groups, cuts)) for w in ctx.windows]
    rows = []
    for w, days in found:
        rows += _coverage_rows(entity, w, days)
    rows += _lag_rows(ctx, entity, lagged, found)
    return rows


def _coverage_rows(entity: str, w: Window, d: WindowDays) -> list[dict]:
    values: list[tuple[str, float | None, int | None]] = [
        ("log_days", float(d.log_days), d.rows),
        ("window_days", float(d.window_days), d.rows),
        ("coverage", d.log_days / d.window_days, d.rows),
        ("longest_gap_days", float(d.longest_gap), d.rows),
    ]
    if d.rows:
        values.append(("labelled_share", d.labelled / d.rows, d.rows))
    if d.oldest is not None:
        age = (w.end - d.oldest).total_seconds() / DAY_SECONDS
        values.append(("oldest_row_age_days", age, d.rows_before_end))
    return [_row(entity, w, name, value, n) for name, value, n in values]


def _lag_rows(
    ctx: MetricContext,
    entity: str,
    lagged: list[PredictionLog],
    found: list[tuple[Window, WindowDays]],
) -> list[dict]:
    """Label-lag rows, or none (with a note in the log) when no log of the entity maps the
    label time, or its logs are on several engines (one quantile needs all rows in one scan)."""
    if not lagged:
        log.info(
            "monitoring: %s: no log maps columns.label_timestamp; label_lag_hours not written",
            entity,
        )
        return []
    engines = {engine_name(ctx.config, g) for g in lagged}
    if len(lagged) > 1 and engines != {DEFAULT_ENGINE}:
        log.warning(
            "monitoring: %s: label_lag_hours not written: its logs %s map label times on "
            "different scan engines, and a quantile needs their rows in one scan",
            entity,
            ", ".join(g.log for g in lagged),
        )
        return []
    wanted = [(w, d.lagged) for w, d in found if d.lagged]
    con = scan_connection(ctx, lagged[0])
    name = ", ".join(_name(g) for g in lagged)
    stats = ms.lag_stats(con, [g.view for g in lagged], wanted, name)
    rows = []
    for (w, n), values in zip(wanted, stats, strict=True):
        for stat, value in values.items():
            rows.append(_row(entity, w, "label_lag_hours", value, n, {"stat": stat}))
    return rows


def _detail(g: PredictionLog, w: Window, d: WindowDays, label_time: bool) -> dict[str, Any]:
    """One log's figures for a report (``details.monitoring_logs``)."""
    return {
        "log": g.log,
        "entity": g.entity,
        "window_start": w.start,
        "window_end": w.end,
        "rows": d.rows,
        "log_days": d.log_days,
        "window_days": d.window_days,
        "labelled": d.labelled,
        "label_time": label_time,
        "lagged": d.lagged,
        "oldest": d.oldest,
    }


def _row(entity, w: Window, name, value, n, dims=None) -> dict[str, Any]:
    units = {m.name: m.unit for m in MonitoringMetrics.metrics}
    metric = f"monitoring.{name}"
    return {
        "metric": metric,
        "entity": entity,
        "window_start": w.start,
        "window_end": w.end,
        "dimensions": dict(dims or {}),
        "value": value,
        "unit": units[metric],
        "n": n,
    }


def _name(g: PredictionLog) -> str:
    return f"log {g.log!r} ({g.view})"
