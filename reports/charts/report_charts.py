"""Charts drawn straight from report data (the template helpers of the delivery report)."""

from __future__ import annotations

from markupsafe import Markup

from mlreport.reports.charts.histogram import HistogramSpec, Marker, histogram_chart
from mlreport.reports.charts.svg import (
    _no_data,
)
from mlreport.reports.charts.trend import Band, Point, Series, TrendSpec, trend_chart


def week_label(iso_start: str) -> str:
    """``2026-04-06T00:00:00Z`` -> ``6 Apr``."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{int(iso_start[8:10])} {months[int(iso_start[5:7]) - 1]}"


def _bands(segments: list[dict]) -> list[Band]:
    return [Band(s["lo"], s["hi"], s["band"].capitalize(), s["tone"]) for s in segments]


def trend_svg(trend: dict, subject: str) -> Markup:
    """The trend chart of one metric of the delivery report's per-entity data."""
    policy = trend.get("policy")
    stat = " (median)" if trend.get("stat") == "p50" else ""
    spec = TrendSpec(
        label=f"{trend['label']}{stat} per week, {subject}",
        unit=trend["unit"],
        series=[
            Series(
                s["environment"] or "",
                [Point(week_label(p["start"]), p["value"], p["small_sample"]) for p in s["points"]],
            )
            for s in trend["series"]
        ],
        bands=_bands(trend.get("bands", [])),
        policy=(policy["kind"], policy["value"]) if policy else None,
    )
    if not spec.series:
        return _no_data(400, 70, spec.label, "No production deployments")
    return trend_chart(spec)


def lead_time_svg(dist: dict, subject: str) -> Markup:
    """The lead-time histogram with median and p90 marked and the grading bands below."""
    markers = [
        Marker(name, dist[key])
        for name, key in (("median", "p50"), ("p90", "p90"))
        if dist.get(key) is not None
    ]
    spec = HistogramSpec(
        label=f"Lead time for changes, {subject}",
        unit="hours",
        bins=[(b["lo"], b["hi"], b["label"], b["count"]) for b in dist["bins"]],
        markers=markers,
        bands=_bands(dist.get("bands", [])),
    )
    return histogram_chart(spec)
