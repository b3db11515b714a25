"""The built-in ``fairness`` metric family: fairlearn's group metrics and summaries for every
sensitive feature (and configured intersections) of every prediction log, per window.

The counts come from the scan the ``performance`` family shares
(:mod:`mlreport.plugins.prediction_counts`: one DuckDB scan per log and run of windows);
:mod:`mlreport.plugins.fairness_counts` turns them into fairlearn's values, and this module
maps logs and windows onto it and its rows onto ``metric_values``.
"""

from __future__ import annotations

import math
from typing import Any

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo, Window
from mlreport.plugins import performance_sql as ps
from mlreport.plugins.fairness_counts import (
    GROUP_METRICS,
    MISSING,
    SUMMARY_METRICS,
    FairnessSpec,
    rows_from_scan,
)
from mlreport.plugins.prediction_counts import label_counts
from mlreport.prediction_logs import PredictionLog, prediction_logs
from mlreport.sql import quote_identifier

UNITS = {"count": "rows", "excluded_rows": "rows"}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "tpr": True,
    "precision": True,
    "fpr": False,
    "fnr": False,
    "demographic_parity_ratio": True,
    "equalized_odds_ratio": True,
    "demographic_parity_difference": False,
    "equalized_odds_difference": False,
    "equal_opportunity_difference": False,
}


def _info(metric: str, description: str) -> MetricInfo:
    return MetricInfo(
        f"fairness.{metric}",
        UNITS.get(metric, "ratio"),
        description,
        higher_is_better=HIGHER_IS_BETTER.get(metric),
    )


class FairnessMetrics(MetricFamily):
    """Group fairness per sensitive feature, equal to fairlearn on the raw rows."""

    name = "fairness"
    metrics = (
        *(_info(m, f"fairlearn {m} per group of a sensitive feature") for m in GROUP_METRICS),
        *(_info(m, f"fairlearn {m} (between groups, worst case)") for m in SUMMARY_METRICS),
        _info("excluded_rows", "Rows left out for a missing label or prediction"),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for log in prediction_logs(ctx.warehouse, ctx.entities):
            if log.task != "classification" or not log.sensitive:
                continue
            for layer in ps.window_layers(ctx.windows):
                run = [ctx.windows[i] for i in layer]
                scan = label_counts(ctx, log, run)
                for w, window in enumerate(run):
                    rows += window_rows(ctx, log, window, [r for r in scan if r[0] == w])
        return rows


def log_spec(log: PredictionLog, min_group_size: int) -> FairnessSpec:
    """What to measure for one log: each sensitive feature alone, then the intersections."""
    groupings = [(f,) for f in log.sensitive] + [tuple(i) for i in log.intersections]
    return FairnessSpec(
        relation=quote_identifier(log.view),
        features={f: quote_identifier(f) for f in log.sensitive},
        groupings=groupings,
        min_group_size=min_group_size,
    )


def finest(scan: list[tuple]) -> list[tuple]:
    """Shared-scan rows ``(w, version, label, prediction, *groups, n)`` in the core's finest
    form ``(*groups, label, prediction, n)``: groups as text, NaN labels missing."""
    return [
        (
            *(MISSING if g is None else str(g) for g in r[4:-1]),
            _present(r[2]),
            _present(r[3]),
            r[-1],
        )
        for r in scan
    ]


def _present(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def window_rows(
    ctx: MetricContext, log: PredictionLog, window: Window, scan: list[tuple]
) -> list[dict[str, Any]]:
    spec = log_spec(log, ctx.config.metrics.min_group_size)
    out = []
    for r in rows_from_scan(spec, tuple(log.sensitive), finest(scan)):
        dims: dict[str, Any] = {"feature": r["feature"]}
        if r["group"] is not None:
            dims["group"] = r["group"]
        if r["small"]:
            dims["small"] = True
        out.append(
            {
                "metric": f"fairness.{r['metric']}",
                "entity": log.entity,
                "window_start": window.start,
                "window_end": window.end,
                "dimensions": dims,
                "value": None if math.isnan(r["value"]) else r["value"],
                "unit": UNITS.get(r["metric"], "ratio"),
                "n": r["n"],
            }
        )
    return out


@hookimpl
def register_metrics(register) -> None:
    register("fairness", FairnessMetrics)
