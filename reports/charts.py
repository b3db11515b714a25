"""Small, deterministic inline-SVG charts for reports.

Hand-rolled rather than matplotlib: a trend line and a histogram need ~300 lines, render the
same bytes for the same data (no ids, no dates, fixed number formatting), inherit the report's
typography, and stay crisp in print. Every string drawn comes through ``escape``; the functions
return :class:`markupsafe.Markup` so templates insert them without ``|safe``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from mlreport.metrics import iso

FONT = "Inter, 'Helvetica Neue', 'Liberation Sans', Arial, 'DejaVu Sans', sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"
POLICY = "#b42318"
SERIES = ("#2357c6", "#7c3aed", "#0e7490", "#b45309")
TONES = {
    "best": "#0e6b3f",
    "good": "#3f9142",
    "fair": "#b7791f",
    "poor": "#c53030",
    "none": "#7b8794",
}

# Lead-time bins (hours), chosen so the DORA 2023 boundaries (1 day, 1 week, 1 month) are edges.
LEAD_TIME_BINS: tuple[tuple[float, float | None, str], ...] = (
    (0, 1, "< 1 h"),
    (1, 4, "1–4 h"),
    (4, 24, "4–24 h"),
    (24, 72, "1–3 d"),
    (72, 168, "3–7 d"),
    (168, 336, "1–2 wk"),
    (336, 720, "2–4 wk"),
    (720, None, "> 30 d"),
)


def finite(value: Any) -> float | None:
    """A number a report can show: None for missing, NaN and infinity."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def week_points(weeks: Sequence[Any], by_week: dict[Any, dict], small: int) -> list[dict]:
    """The points of one weekly trend: each week's value and ``n`` (None where the metric
    has no row), flagged as a small sample when ``0 < n < small``."""
    points = []
    for w in weeks:
        r = by_week.get(w.start)
        n = r["n"] if r else None
        points.append(
            {
                "start": iso(w.start),
                "end": iso(w.end),
                "value": finite(r["value"]) if r else None,
                "n": n,
                "small_sample": n is not None and 0 < n < small,
            }
        )
    return points


# -- numbers and units ------------------------------------------------------------------------


def _trim(text: str) -> str:
    return text[:-2] if text.endswith(".0") else text


def format_value(value: float | None, unit: str | None) -> str:
    """A value as a reader wants it: durations in min/h/d, ratios in %, rates per week."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if unit == "hours":
        if value < 1:
            return f"{value * 60:.0f} min"
        if value < 48:
            return _trim(f"{value:.1f}") + " h"
        return _trim(f"{value / 24:.1f}") + " d"
    if unit == "ratio":
        return _trim(f"{value * 100:.1f}") + "%"
    if unit == "deploys/week":
        return (f"{value:.2f}" if 0 < value < 0.1 else _trim(f"{value:.1f}")) + " / week"
    if unit == "count":
        return f"{value:,.0f}"
    text = f"{value:.3g}"
    return f"{text} {unit}" if unit else text


_ACRONYMS = {"dora", "sre", "slo", "sla", "ml"}


def table_label(name: str | None) -> str:
    """A band table's display name: ``dora-2023`` -> ``DORA 2023``."""
    words = [w for w in re.split(r"[-_\s]+", name or "") if w]
    return " ".join(w.upper() if w.lower() in _ACRONYMS else w.capitalize() for w in words)


def band_label(band: str | None, table: str | None) -> str:
    """What a badge says: the band and the table that graded it, e.g. ``High · DORA 2023``."""
    if not band:
        return "Not graded"
    label = band[:1].upper() + band[1:]
    return f"{label} · {table_label(table)}" if table else label


def axis_scale(unit: str | None, top: float) -> tuple[float, str]:
    """Factor and suffix for axis ticks: hours become minutes below two, days above 72."""
    if unit == "hours":
        if top >= 72:
            return 1 / 24, " d"
        return (1.0, " h") if top >= 2 else (60.0, " min")
    if unit == "ratio":
        return 100.0, "%"
    if unit == "deploys/week":
        return 1.0, "/wk"
    return 1.0, ""


def nice_step(span: float, count: int = 4) -> float:
    """A 1-2-2.5-5 step giving about ``count`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * mag + 1e-12:
            return mult * mag
    return 10 * mag


def ticks(top: float, count: int = 4) -> list[float]:
    step = nice_step(top, count)
    n = max(1, math.ceil(top / step - 1e-9))
    return [round(i * step, 10) for i in range(n + 1)]


def tick_label(value: float, factor: float, suffix: str) -> str:
    scaled = value * factor
    text = f"{scaled:.2f}".rstrip("0").rstrip(".") if scaled % 1 else f"{scaled:.0f}"
    return text + suffix


def _f(x: float) -> str:
    """Coordinates with one decimal: stable bytes, no float noise."""
    return _trim(f"{x:.1f}")


# -- SVG building blocks ----------------------------------------------------------------------


def _text(x: float, y: float, content: str, **attrs: str | float) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{_f(x)}" y="{_f(y)}"{extra}>{escape(content)}</text>'


def _svg(width: int, height: int, label: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'class="chart" font-family="{escape(FONT)}" font-size="10.5" fill="{INK}">'
        f"<title>{escape(label)}</title><desc>{escape(desc)}</desc>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _no_data(width: int, height: int, label: str, message: str) -> Markup:
    body = [
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="4" '
        f'fill="#f8f9fb" stroke="{GRID}"/>',
        _text(width / 2, height / 2 + 4, message, text_anchor="middle", fill=MUTED),
    ]
    return _svg(width, height, label, message, body)


# -- trend chart ------------------------------------------------------------------------------


@dataclass
class Point:
    label: str  # x label, e.g. "6 Apr"
    value: float | None
    small: bool = False  # drawn hollow: the sample behind it is small


@dataclass
class Series:
    name: str
    points: list[Point]


@dataclass
class Band:
    """A horizontal band of a grading table, in data units (``hi`` None: unbounded)."""

    lo: float
    hi: float | None
    name: str
    tone: str


@dataclass
class TrendSpec:
    label: str  # accessible name, e.g. "Deployment frequency per week, credit-risk"
    unit: str | None
    series: list[Series]
    bands: list[Band] = field(default_factory=list)
    policy: tuple[str, float] | None = None  # ("max" | "min", value)


def y_axis(unit: str | None, top: float) -> tuple[list[float], list[str]]:
    """Ticks (data units) and their labels, nice in the unit the reader sees."""
    if top <= 0:
        top = 0.1 if unit == "ratio" else 1.0
    factor, suffix = axis_scale(unit, top)
    shown = ticks(top * factor * 1.04)
    if unit == "ratio" and shown[-1] > 100:
        shown = ticks(100.0)
    return [t / factor for t in shown], [tick_label(t, 1.0, suffix) for t in shown]


def trend_chart(spec: TrendSpec, width: int = 400, height: int = 190) -> Markup:
    """Weekly values as a line with points; bands shaded, the policy as a dashed line."""
    values = [p.value for s in spec.series for p in s.points if p.value is not None]
    if not values:
        return _no_data(width, 70, spec.label, "No data in this window")
    legend = len(spec.series) > 1
    left, right, top, bottom = 46, 54, 24 if legend else 12, 24
    pw, ph = width - left - right, height - top - bottom
    hi = max(values)
    off_scale = False
    if spec.policy:  # keep the data readable: a far-away policy is named, not drawn
        off_scale = hi > 0 and spec.policy[1] > hi * 3
        hi = hi if off_scale else max(hi, spec.policy[1])
    if spec.unit == "ratio":
        hi = min(hi * 1.1, 1.0)
    y_ticks, y_labels = y_axis(spec.unit, hi)
    y_max = y_ticks[-1]

    def y_of(v: float) -> float:
        return top + ph - (min(max(v, 0.0), y_max) / y_max) * ph

    n = max(len(s.points) for s in spec.series)
    step = pw / max(n - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * step if n > 1 else pw / 2)

    body: list[str] = []
    body += _band_shading(spec.bands, y_of, y_max, left, pw)
    for t, label in zip(y_ticks, y_labels, strict=True):
        y = y_of(t)
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y + 3.5, label, text_anchor="end", fill=MUTED))
    body.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{AXIS}"/>'
    )
    every = max(1, math.ceil(n / 7))
    for i, p in enumerate(spec.series[0].points):
        if i % every == 0:
            body.append(_text(x_of(i), top + ph + 15, p.label, text_anchor="middle", fill=MUTED))
    if spec.policy and off_scale:
        kind, value = spec.policy
        sign = "≤" if kind == "max" else "≥"
        body.append(
            _text(
                left + pw - 2,
                top + 10,
                f"policy {sign} {format_value(value, spec.unit)} (off scale)",
                text_anchor="end",
                fill=POLICY,
                font_size=9,
            )
        )
    elif spec.policy:
        body += _policy_line(spec.policy, spec.unit, y_of, left, pw)
    for k, s in enumerate(spec.series):
        body += _series_marks(s, SERIES[k % len(SERIES)], x_of, y_of)
    if legend:
        for k, s in enumerate(spec.series):
            colour = SERIES[k % len(SERIES)]
            x = left + k * 100
            body.append(f'<rect x="{x}" y="3" width="9" height="9" rx="2" fill="{colour}"/>')
            body.append(_text(x + 13, 11, s.name, fill=INK))
    return _svg(width, height, spec.label, _describe(spec), body)


def _band_shading(bands: list[Band], y_of, y_max: float, left: float, pw: float) -> list[str]:
    out = []
    for b in bands:
        lo, hi = max(b.lo, 0.0), min(b.hi if b.hi is not None else y_max, y_max)
        if hi <= lo:
            continue
        y1, y2 = y_of(hi), y_of(lo)
        colour = TONES.get(b.tone, TONES["none"])
        out.append(
            f'<rect x="{left}" y="{_f(y1)}" width="{_f(pw)}" height="{_f(y2 - y1)}" '
            f'fill="{colour}" fill-opacity="0.07"/>'
        )
        if y2 - y1 >= 12.5:
            out.append(_text(left + pw + 5, (y1 + y2) / 2 + 3.5, b.name, fill=colour, font_size=9))
    return out


def _policy_line(policy, unit, y_of, left: float, pw: float) -> list[str]:
    kind, value = policy
    y = y_of(value)
    sign = "≤" if kind == "max" else "≥"
    return [
        f'<line x1="{left}" x2="{left + pw}" y1="{_f(y)}" y2="{_f(y)}" stroke="{POLICY}" '
        'stroke-width="1.2" stroke-dasharray="5 3"/>',
        _text(
            left + pw - 2,
            y - 4,
            f"policy {sign} {format_value(value, unit)}",
            text_anchor="end",
            fill=POLICY,
            font_size=9,
        ),
    ]


def _series_marks(s: Series, colour: str, x_of, y_of) -> list[str]:
    out, run = [], []
    for i, p in enumerate(s.points + [Point("", None)]):
        if p.value is None:
            if len(run) > 1:
                pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in run)
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                    'stroke-width="1.8" stroke-linejoin="round"/>'
                )
            run = []
            continue
        run.append((x_of(i), y_of(p.value)))
    for i, p in enumerate(s.points):
        if p.value is None:
            continue
        fill = "#ffffff" if p.small else colour
        out.append(
            f'<circle cx="{_f(x_of(i))}" cy="{_f(y_of(p.value))}" r="2.8" fill="{fill}" '
            f'stroke="{colour}" stroke-width="1.4"/>'
        )
    return out


def _describe(spec: TrendSpec) -> str:
    parts = []
    for s in spec.series:
        vals = ", ".join(f"{p.label}: {format_value(p.value, spec.unit)}" for p in s.points)
        parts.append(f"{s.name}: {vals}" if len(spec.series) > 1 else vals)
    return "; ".join(parts)


# -- histogram --------------------------------------------------------------------------------


@dataclass
class Marker:
    name: str  # "median", "p90"
    value: float


@dataclass
class HistogramSpec:
    label: str
    unit: str | None
    bins: list[tuple[float, float | None, str, int]]  # lo, hi, label, count
    markers: list[Marker] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


def bin_counts(
    values: Sequence[float], bins: Sequence[tuple[float, float | None, str]] = LEAD_TIME_BINS
) -> list[int]:
    """Counts per half-open bin ``[lo, hi)``; values below the first bin count in it."""
    counts = [0] * len(bins)
    for v in values:
        for i, (_, hi, _) in enumerate(bins):
            if hi is None or v < hi:
                counts[i] += 1
                break
    return counts


def histogram_chart(spec: HistogramSpec, width: int = 860, height: int = 220) -> Markup:
    """Counts per bin as bars, with quantile markers and the grading bands as a strip below."""
    if not any(b[3] for b in spec.bins):
        return _no_data(width, 70, spec.label, "No changes with a lead time in this window")
    strip = 18 if spec.bands else 0
    left, right, top, bottom = 44, 12, 30, 24 + strip
    pw, ph = width - left - right, height - top - bottom
    nb = len(spec.bins)
    bw = pw / nb
    y_ticks = ticks(max(b[3] for b in spec.bins))
    y_max = y_ticks[-1]

    def y_of(c: float) -> float:
        return top + ph - c / y_max * ph

    def x_of(v: float) -> float:
        for i, (lo, hi, _, _) in enumerate(spec.bins):
            if hi is None or v < hi:
                frac = (v - lo) / (hi - lo) if hi is not None else min((v - lo) / lo, 0.9)
                return left + (i + min(max(frac, 0.0), 1.0)) * bw
        return left + pw

    body: list[str] = []
    for t in y_ticks:
        y = y_of(t)
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y + 3.5, f"{t:g}", text_anchor="end", fill=MUTED))
    body.append(_text(left - 6, top - 10, "changes", text_anchor="start", fill=MUTED))
    for i, (_, _, label, count) in enumerate(spec.bins):
        x = left + i * bw
        if count:
            y = y_of(count)
            body.append(
                f'<rect x="{_f(x + 3)}" y="{_f(y)}" width="{_f(bw - 6)}" '
                f'height="{_f(top + ph - y)}" rx="1.5" fill="{SERIES[0]}" fill-opacity="0.85"/>'
            )
            inside = top + ph - y >= 17
            body.append(
                _text(
                    x + bw / 2,
                    y + 12.5 if inside else y - 4,
                    f"{count:,}",
                    text_anchor="middle",
                    fill="#ffffff" if inside else INK,
                    font_weight="600",
                )
            )
        body.append(_text(x + bw / 2, top + ph + 14, label, text_anchor="middle", fill=MUTED))
    body.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{AXIS}"/>'
    )
    body += _markers(spec, x_of, top, ph)
    if spec.bands:
        body += _band_strip(spec, x_of, left, pw, top + ph + 21)
    desc = "; ".join(f"{b[2]}: {b[3]}" for b in spec.bins) + "".join(
        f"; {m.name} {format_value(m.value, spec.unit)}" for m in spec.markers
    )
    return _svg(width, height, spec.label, desc, body)


def _markers(spec: HistogramSpec, x_of, top: float, ph: float) -> list[str]:
    out, placed = [], []
    for m in spec.markers:
        x = x_of(m.value)
        row = sum(1 for px in placed if abs(px - x) < 90)
        placed.append(x)
        y_label = top - 12 + row * 11
        out.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y_label + 3)}" y2="{_f(top + ph)}" '
            f'stroke="{INK}" stroke-width="1.1" stroke-dasharray="3 2"/>'
        )
        out.append(
            _text(
                x + 3,
                y_label,
                f"{m.name} {format_value(m.value, spec.unit)}",
                fill=INK,
                font_weight="600",
                font_size=9.5,
            )
        )
    return out


def _band_strip(spec: HistogramSpec, x_of, left: float, pw: float, y: float) -> list[str]:
    out = []
    for b in spec.bands:
        x1 = x_of(b.lo)
        x2 = x_of(b.hi) if b.hi is not None else left + pw
        if x2 - x1 < 1:
            continue
        colour = TONES.get(b.tone, TONES["none"])
        out.append(
            f'<rect x="{_f(x1)}" y="{_f(y)}" width="{_f(x2 - x1)}" height="13" '
            f'fill="{colour}" fill-opacity="0.14"/>'
        )
        out.append(
            f'<line x1="{_f(x1)}" x2="{_f(x1)}" y1="{_f(y)}" y2="{_f(y + 13)}" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
        if x2 - x1 > 30:
            out.append(
                _text(
                    (x1 + x2) / 2,
                    y + 9.5,
                    b.name,
                    text_anchor="middle",
                    fill=colour,
                    font_size=8.5,
                    font_weight="600",
                )
            )
    return out


# -- from report data -------------------------------------------------------------------------


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
