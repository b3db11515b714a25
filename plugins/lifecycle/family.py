"""The ``lifecycle`` metric family and its registration."""

from __future__ import annotations

from typing import Any

from mlreport import hookimpl
from mlreport.metrics import MetricContext, MetricFamily, MetricInfo
from mlreport.plugins.lifecycle import details
from mlreport.plugins.lifecycle.registry import facts
from mlreport.plugins.lifecycle.rows import STATS, compute_rows


class LifecycleMetrics(MetricFamily):
    """Model lifecycle per registered model: cadence, lead time, rollbacks, governance."""

    name = "lifecycle"
    metrics = (
        MetricInfo(
            "lifecycle.versions_created", "count", "Model versions registered in the window"
        ),
        MetricInfo(
            "lifecycle.days_since_promotion",
            "days",
            "Days from the last production alias move to the window end",
            higher_is_better=False,
        ),
        MetricInfo(
            "lifecycle.model_lead_time",
            "hours",
            "Training run start to the version's first production promotion",
            tuple(s for s, _ in STATS),
            higher_is_better=False,
        ),
        MetricInfo(
            "lifecycle.run_success_rate",
            "ratio",
            "FINISHED share of terminal runs in the model's experiments",
            higher_is_better=True,
        ),
        MetricInfo(
            "lifecycle.governed_share",
            "ratio",
            "Share of production versions with owner, description and approval tag",
            higher_is_better=True,
        ),
        MetricInfo(
            "lifecycle.promotions",
            "count",
            "Production alias moves to a newer (or first) version",
        ),
        MetricInfo(
            "lifecycle.rollbacks",
            "count",
            "Production alias moves back to an older version",
            higher_is_better=False,
        ),
    )

    def compute(self, ctx: MetricContext) -> list[dict[str, Any]]:
        if ctx.detail_windows:
            details.publish(ctx, facts(ctx))
        return compute_rows(ctx)


@hookimpl
def register_metrics(register):
    register("lifecycle", LifecycleMetrics)
