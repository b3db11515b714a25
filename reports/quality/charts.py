"""Inline-SVG charts of the ``quality`` report: calibration, drift histograms, disparity, SHAP.

Same rules as :mod:`mlreport.reports.charts`: deterministic bytes, every drawn string escaped,
and meaning that survives greyscale print — reference bars are hollow and current bars solid,
small groups hollow, policy lines dashed and labelled, values written next to bars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from mlreport.reports.charts.numbers import _f, format_value, ticks
from mlreport.reports.charts.report_charts import week_label
from mlreport.reports.charts.svg import (
    AXIS,
    GRID,
    INK,
    MUTED,
    NAME_LIMIT,
    POLICY,
    SERIES,
    _no_data,
    _text,
    clip,
)
from mlreport.reports.charts.svg import _svg as svg_root
from mlreport.reports.charts.trend import Point, Series, TrendSpec, trend_chart, y_axis

SOLID = SERIES[0]
SECOND = "#1f2933"
BAND_FILL = "#52606d"


def _svg(width: int, height: int, label: str, desc: str, body: list[str]) -> Markup:
    """The chart root with 12-unit type, so a chart printed at half the A4 text width still
    reads at about 7 pt."""
    return svg_root(width, height, label, desc, body, font_size=12)


def pct(value: float | None) -> str:
    return format_value(value, "ratio")


def _grid_x(left: float, width: float, top: float, bottom: float, x_of, vals, label) -> list:
    out = []
    for v in vals:
        x = x_of(v)
        out.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(top)}" y2="{_f(bottom)}" stroke="{GRID}"/>'
        )
        out.append(_text(x, bottom + 13, label(v), text_anchor="middle", fill=MUTED))
    return out


# -- performance trend ------------------------------------------------------------------------


def performance_trend_svg(trend: dict[str, Any], subject: str) -> Markup:
    """A weekly performance metric with its policy as a dashed, labelled line."""
    policy = trend.get("policy")
    points = [
        Point(week_label(p["start"]), p["value"], bool(p.get("small_sample")))
        for p in trend["points"]
    ]
    spec = TrendSpec(
        label=f"{trend['label']} per week, {subject}",
        unit=trend.get("unit"),
        series=[Series(trend["label"], points)],
        policy=(policy["kind"], policy["value"]) if policy else None,
    )
    return trend_chart(spec, width=420, height=190)


# -- calibration ------------------------------------------------------------------------------


def calibration_svg(cal: dict[str, Any], subject: str, width: int = 420) -> Markup:
    """Observed positive rate against mean score per bin, the diagonal as the ideal, and the
    rows per bin as a strip of bars underneath."""
    label = f"Calibration curve, {subject}"
    bins = [b for b in cal["bins"] if b["count"]]
    if not bins:
        return _no_data(width, 70, label, "No labelled rows with a score in this window")
    left, top, size, strip = 48, 14, 230, 44
    height = top + size + 30 + strip + 8

    def x_of(v: float) -> float:
        return left + v * size

    def y_of(v: float) -> float:
        return top + size - v * size

    body: list[str] = []
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<line x1="{left}" x2="{left + size}" y1="{_f(y_of(t))}" '
            f'y2="{_f(y_of(t))}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y_of(t) + 3.5, pct(t), text_anchor="end", fill=MUTED))
    body += _grid_x(left, size, top, top + size, x_of, (0.0, 0.25, 0.5, 0.75, 1.0), pct)
    body.append(
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="{AXIS}"/>'
    )
    body.append(
        f'<line x1="{_f(x_of(0))}" y1="{_f(y_of(0))}" x2="{_f(x_of(1))}" '
        f'y2="{_f(y_of(1))}" stroke="{MUTED}" stroke-width="1.2" '
        'stroke-dasharray="4 3"/>'
    )
    pts = [(x_of(b["mean_score"]), y_of(b["fraction_positive"])) for b in bins]
    body.append(
        '<polyline points="'
        + " ".join(f"{_f(x)},{_f(y)}" for x, y in pts)
        + f'" fill="none" stroke="{SOLID}" stroke-width="2"/>'
    )
    for x, y in pts:
        body.append(
            f'<rect x="{_f(x - 3.2)}" y="{_f(y - 3.2)}" width="6.4" height="6.4" '
            f'fill="{SOLID}" stroke="#ffffff" stroke-width="0.8"/>'
        )
    body.append(
        _text(left + size / 2, top + size + 27, "mean score in bin", text_anchor="middle", fill=INK)
    )
    body.append(
        _text(
            12,
            top + size / 2,
            "observed positive rate",
            text_anchor="middle",
            fill=INK,
            transform=f"rotate(-90 12 {_f(top + size / 2)})",
        )
    )
    body += _count_strip(cal["bins"], x_of, top + size + 36, strip)
    legend_x = left + size + 16
    body.append(
        f'<line x1="{legend_x}" x2="{legend_x + 18}" y1="{top + 8}" y2="{top + 8}" '
        f'stroke="{SOLID}" stroke-width="2"/>'
    )
    body.append(
        f'<rect x="{legend_x + 5.8}" y="{top + 4.8}" width="6.4" height="6.4" fill="{SOLID}"/>'
    )
    body.append(_text(legend_x + 24, top + 11.5, "model", fill=INK))
    body.append(
        f'<line x1="{legend_x}" x2="{legend_x + 18}" y1="{top + 26}" y2="{top + 26}" '
        f'stroke="{MUTED}" stroke-width="1.2" stroke-dasharray="4 3"/>'
    )
    body.append(_text(legend_x + 24, top + 29.5, "ideal", fill=INK))
    body.append(
        _text(legend_x, top + size + 36 + strip / 2, "rows per bin", fill=MUTED, font_size=11)
    )
    desc = "; ".join(
        f"scores {pct(b['lo'])}–{pct(b['hi'])}: mean score {pct(b['mean_score'])}, "
        f"observed {pct(b['fraction_positive'])}, {b['count']:,} rows"
        for b in bins
    )
    return _svg(width, height, label, desc, body)


def _count_strip(bins: list[dict], x_of: Callable, y: float, h: float) -> list[str]:
    top = max(b["count"] for b in bins) or 1
    out = []
    for b in bins:
        x1, x2 = x_of(b["lo"]), x_of(b["hi"])
        bh = b["count"] / top * (h - 12)
        if b["count"]:
            out.append(
                f'<rect x="{_f(x1 + 1.5)}" y="{_f(y + h - bh)}" width="{_f(x2 - x1 - 3)}" '
                f'height="{_f(bh)}" fill="{BAND_FILL}" fill-opacity="0.55"/>'
            )
    out.append(
        f'<line x1="{_f(x_of(0))}" x2="{_f(x_of(1))}" y1="{_f(y + h)}" y2="{_f(y + h)}" '
        f'stroke="{AXIS}"/>'
    )
    peak = max(bins, key=lambda b: b["count"])
    out.append(
        _text(
            (x_of(peak["lo"]) + x_of(peak["hi"])) / 2,
            y + h - (h - 12) - 3,
            f"{peak['count']:,}",
            text_anchor="middle",
            fill=MUTED,
            font_size=10.5,
        )
    )
    return out


# -- drift histograms -------------------------------------------------------------------------


def _legend_ref_cur(x: float, y: float) -> list[str]:
    return [
        f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="11" height="9" fill="#ffffff" '
        f'stroke="{INK}" stroke-width="1.2"/>',
        _text(x + 15, y, "reference (outline)", fill=INK),
        f'<rect x="{_f(x + 132)}" y="{_f(y - 8)}" width="11" height="9" fill="{SOLID}"/>',
        _text(x + 147, y, "current (solid)", fill=INK),
    ]


def drift_histogram_svg(hist: dict[str, Any], feature: str, subject: str) -> Markup:
    """Reference against current: numeric features as paired columns over equal-width bins,
    categorical features as paired rows per category."""
    label = f"Distribution of {feature}, reference vs current, {subject}"
    if not hist or not hist.get("bins") or not all(hist["totals"]):
        return _no_data(420, 70, label, "No values on one side to compare")
    if hist["kind"] == "categorical":
        return _categorical_bars(hist, label)
    return _numeric_columns(hist, label)


def _share_axis(bins: list[dict]) -> list[float]:
    top = max(max(b["reference_share"] or 0, b["current_share"] or 0) for b in bins)
    return ticks(max(top, 0.01) * 1.05)


def _numeric_columns(hist: dict[str, Any], label: str, width: int = 420) -> Markup:
    bins = hist["bins"]
    left, right, top, bottom = 44, 10, 24, 30
    height = 210
    pw, ph = width - left - right, height - top - bottom
    y_ticks = _share_axis(bins)
    y_max = y_ticks[-1]

    def y_of(v: float) -> float:
        return top + ph - v / y_max * ph

    bw = pw / len(bins)
    body = _legend_ref_cur(left, 12)
    for t in y_ticks:
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_f(y_of(t))}" y2="{_f(y_of(t))}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y_of(t) + 3.5, pct(t), text_anchor="end", fill=MUTED))
    for i, b in enumerate(bins):
        x = left + i * bw
        half = (bw - 4) / 2
        for k, key in enumerate(("reference_share", "current_share")):
            v = b[key] or 0.0
            if v <= 0:
                continue
            y = y_of(v)
            style = (
                f'fill="#ffffff" stroke="{INK}" stroke-width="1.1"' if k == 0 else f'fill="{SOLID}"'
            )
            body.append(
                f'<rect x="{_f(x + 2 + k * half)}" y="{_f(y)}" width="{_f(half)}" '
                f'height="{_f(top + ph - y)}" {style}/>'
            )
    body.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{AXIS}"/>'
    )
    if len(bins) == 1:
        body.append(
            _text(
                left + pw / 2,
                top + ph + 14,
                f"all values = {bins[0]['label']}",
                text_anchor="middle",
                fill=MUTED,
            )
        )
    else:
        step = max(1, len(bins) // 4)
        for i in range(0, len(bins) + 1, step):
            v = bins[i]["lo"] if i < len(bins) else bins[-1]["hi"]
            body.append(
                _text(left + i * bw, top + ph + 14, f"{v:.3g}", text_anchor="middle", fill=MUTED)
            )
    body.append(
        _text(
            left + pw,
            top + ph + 27,
            "value (equal-width bins)",
            text_anchor="end",
            fill=MUTED,
            font_size=10.5,
        )
    )
    desc = "; ".join(
        f"{b['lo']:.4g} to {b['hi']:.4g}: reference {pct(b['reference_share'])}, "
        f"current {pct(b['current_share'])}"
        for b in bins
    )
    return _svg(width, height, label, desc, body)


def _categorical_bars(hist: dict[str, Any], label: str, width: int = 420) -> Markup:
    bins = hist["bins"]
    left, right, top = 110, 52, 24
    row = 22
    pw = width - left - right
    height = top + row * len(bins) + 26
    x_ticks = _share_axis(bins)
    x_max = x_ticks[-1]

    def x_of(v: float) -> float:
        return left + v / x_max * pw

    body = _legend_ref_cur(8, 12)
    bottom = top + row * len(bins)
    body += _grid_x(left, pw, top, bottom, x_of, x_ticks, pct)
    for i, b in enumerate(bins):
        y = top + i * row
        name = b["category"] + (f" ({b['categories']})" if b["pooled"] else "")
        body.append(_text(left - 6, y + row / 2 + 3.5, clip(name, 17), text_anchor="end", fill=INK))
        for k, key in enumerate(("reference_share", "current_share")):
            v = b[key] or 0.0
            style = (
                f'fill="#ffffff" stroke="{INK}" stroke-width="1.1"' if k == 0 else f'fill="{SOLID}"'
            )
            by = y + 3 + k * 8
            body.append(
                f'<rect x="{left}" y="{_f(by)}" width="{_f(max(x_of(v) - left, 0.5))}" '
                f'height="7.5" {style}/>'
            )
        body.append(
            _text(
                x_of(max(b["reference_share"] or 0, b["current_share"] or 0)) + 4,
                y + row / 2 + 3.5,
                pct(b["current_share"]),
                fill=INK,
                font_size=11,
            )
        )
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="{AXIS}"/>')
    desc = "; ".join(
        f"{clip(b['category'], NAME_LIMIT)}: reference {pct(b['reference_share'])}, "
        f"current {pct(b['current_share'])}"
        for b in bins
    )
    return _svg(width, height, label, desc, body)


# -- disparity --------------------------------------------------------------------------------


def disparity_svg(fair: dict[str, Any], subject: str, width: int = 680) -> Markup:
    """Selection rate and true positive rate per group, each against its parity band (shaded,
    dashed edge, labelled). Small groups are hollow; groups below the band say so."""
    label = f"Disparity by {fair['feature']}, {subject}"
    panels = [p for p in fair["disparity"] if any(g["value"] is not None for g in p["groups"])]
    if not panels:
        return _no_data(width, 70, label, "No group rates to compare")
    groups = panels[0]["groups"]
    name_w, right, row = 150, 130, 24
    pw = width - name_w - right
    block = 30 + row * len(groups) + 34  # title and band label, rows, axis and spacing
    body: list[str] = []
    for k, p in enumerate(panels):
        top = k * block + 30
        for i, g in enumerate(groups):
            y = top + i * row + row / 2 + 4
            text = clip(g["group"], 22) + (" (small)" if g["small"] else "")
            body.append(_text(name_w - 8, y, text, text_anchor="end", fill=INK))
        body += _disparity_panel(p, name_w, pw, top, row, top + row * len(groups))
    height = block * len(panels) - 8
    desc = "; ".join(
        f"{p['label']}: "
        + ", ".join(f"{clip(g['group'], NAME_LIMIT)} {pct(g['value'])}" for g in p["groups"])
        + (f"; parity band {pct(p['band']['lo'])}–{pct(p['band']['hi'])}" if p["band"] else "")
        for p in panels
    )
    return _svg(width, height, label, desc, body)


def _disparity_panel(p: dict, x0: float, pw: float, top: float, row: float, bottom: float):
    values = [g["value"] for g in p["groups"] if g["value"] is not None]
    axis, labels = y_axis("ratio", max(values + [p["band"]["hi"] if p["band"] else 0.0]))
    x_max = axis[-1]

    def x_of(v: float) -> float:
        return x0 + min(max(v, 0.0), x_max) / x_max * pw

    out = [_text(x0, top - 20, p["label"], fill=INK, font_weight="700")]
    band = p["band"]
    if band:
        x1, x2 = x_of(band["lo"]), x_of(band["hi"])
        out.append(
            f'<rect x="{_f(x1)}" y="{_f(top)}" width="{_f(max(x2 - x1, 1))}" '
            f'height="{_f(bottom - top)}" fill="{BAND_FILL}" fill-opacity="0.13"/>'
        )
        out.append(
            f'<line x1="{_f(x1)}" x2="{_f(x1)}" y1="{_f(top - 4)}" y2="{_f(bottom)}" '
            f'stroke="{POLICY}" stroke-width="1.2" stroke-dasharray="4 2"/>'
        )
        out.append(
            _text(
                x1 - 3,
                top - 6,
                f"parity band ≥ {pct(band['lo'])}",
                text_anchor="end" if x1 - x0 > 90 else "start",
                fill=POLICY,
                font_size=10.5,
            )
        )
    out += _grid_x(x0, pw, top, bottom, x_of, axis, dict(zip(axis, labels, strict=True)).get)
    for i, g in enumerate(p["groups"]):
        y = top + i * row + 5
        v = g["value"]
        if v is None:
            out.append(_text(x0 + 4, y + 10, "no data", fill=MUTED, font_size=11))
            continue
        style = (
            f'fill="#ffffff" stroke="{SOLID}" stroke-width="1.3"'
            if g["small"]
            else f'fill="{SOLID}"'
        )
        out.append(
            f'<rect x="{_f(x0)}" y="{_f(y)}" width="{_f(max(x_of(v) - x0, 0.8))}" '
            f'height="{row - 10}" {style}/>'
        )
        text = pct(v) + (" below band" if g["outside"] else "")
        out.append(
            _text(
                x_of(v) + 4,
                y + 10,
                text,
                fill=POLICY if g["outside"] else INK,
                font_size=11,
                font_weight="700" if g["outside"] else "400",
            )
        )
    out.append(
        f'<line x1="{_f(x0)}" x2="{_f(x0)}" y1="{_f(top)}" y2="{_f(bottom)}" stroke="{AXIS}"/>'
    )
    return out


# -- SHAP -------------------------------------------------------------------------------------


def shap_svg(items: list[dict[str, Any]], subject: str, width: int = 680) -> Markup:
    """Mean |SHAP| per feature, largest first, each bar labelled with its value."""
    label = f"Feature importance (mean |SHAP|), {subject}"
    shown = [i for i in items if i["value"] is not None]
    if not shown:
        return _no_data(width, 70, label, "No SHAP values")
    name_w, top, row, right = 170, 8, 20, 70
    pw = width - name_w - right
    bottom = top + row * len(shown)
    x_ticks = ticks(max(i["value"] for i in shown) or 1.0)
    x_max = x_ticks[-1]

    def x_of(v: float) -> float:
        return name_w + v / x_max * pw

    body = _grid_x(name_w, pw, top, bottom, x_of, x_ticks, lambda v: f"{v:.3g}")
    for k, item in enumerate(shown):
        y = top + k * row
        body.append(
            _text(
                name_w - 6,
                y + row / 2 + 3.5,
                clip(item["feature"], 26),
                text_anchor="end",
                fill=INK,
            )
        )
        bar = max(x_of(item["value"]) - name_w, 0.8)
        body.append(
            f'<rect x="{name_w}" y="{_f(y + 3)}" width="{_f(bar)}" '
            f'height="{row - 6}" fill="{SECOND}" fill-opacity="0.8"/>'
        )
        body.append(
            _text(
                x_of(item["value"]) + 4,
                y + row / 2 + 3.5,
                f"{item['value']:.3g}",
                fill=INK,
                font_size=11,
            )
        )
    body.append(f'<line x1="{name_w}" x2="{name_w}" y1="{top}" y2="{bottom}" stroke="{AXIS}"/>')
    desc = "; ".join(f"{clip(i['feature'], NAME_LIMIT)}: {i['value']:.4g}" for i in shown)
    return _svg(width, bottom + 22, label, desc, body)


CHARTS: dict[str, Callable[..., Markup]] = {
    "trend": performance_trend_svg,
    "calibration": calibration_svg,
    "drift": drift_histogram_svg,
    "disparity": disparity_svg,
    "shap": shap_svg,
}
