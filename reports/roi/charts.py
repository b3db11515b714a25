"""The ``roi`` report's charts, drawn from its section data (``roi_chart`` in templates)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from mlreport.reports.charts.money import RunningSpec, StackSpec, running_totals, stacked_bars
from mlreport.reports.charts.trend import Point, Series, TrendSpec, trend_chart


def _short(label: str) -> str:
    """``Mar 2026`` -> ``Mar 26``: month labels fit under a bar."""
    return f"{label[:3]} {label[-2:]}"


def monthly_cost(data: dict[str, Any], subject: str) -> Markup:
    """Cost by month, stacked by service category, in one currency."""
    cur = data["currency"]
    return stacked_bars(
        StackSpec(
            label=f"Monthly cost by service category in {cur}, {subject}",
            currency=cur,
            x_labels=[_short(m["label"]) for m in data["months"]],
            categories=list(data["categories"]),
            values=[dict(m["by_category"]) for m in data["months"]],
        )
    )


def per_1k(data: dict[str, Any], subject: str) -> Markup:
    """Cost per 1,000 predictions by month, in one currency."""
    cur = data["currency"]
    return trend_chart(
        TrendSpec(
            label=f"Cost per 1,000 predictions in {cur} by month, {subject}",
            unit=cur,
            series=[Series(cur, [Point(_short(m["label"]), m["value"]) for m in data["months"]])],
        )
    )


def value_vs_cost(data: dict[str, Any], subject: str) -> Markup:
    """Cumulative value against cumulative cost, the payback month marked."""
    cur = data["currency"] or ""
    months = data["months"]
    payback = data["payback_month"]
    return running_totals(
        RunningSpec(
            label=f"Cumulative value and cost{' in ' + cur if cur else ''}, {subject}",
            currency=cur,
            x_labels=[_short(m["label"]) for m in months],
            value=[m["cumulative_value"] for m in months],
            cost=[m["cumulative_tco"] for m in months],
            payback=int(payback) - 1 if payback else None,
        )
    )


CHARTS = {"monthly_cost": monthly_cost, "per_1k": per_1k, "value_vs_cost": value_vs_cost}


def roi_chart(kind: str, data: dict[str, Any], subject: str) -> Markup:
    """``roi_chart("monthly_cost", data, entity)`` in templates: one SVG."""
    return CHARTS[kind](data, subject)
