"""The trend chart: weekly or monthly series with band shading and a policy line."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup

from mlreport.reports.charts.numbers import (
    _f,
    axis_scale,
    format_value,
    tick_label,
    ticks,
)
from mlreport.reports.charts.svg import (
    AXIS,
    GRID,
    INK,
    MUTED,
    NAME_LIMIT,
    POLICY,
    SERIES,
    TONES,
    _no_data,
    _svg,
    _text,
    clip,
)

LEGEND_CHARS = 15  # a series name (an environment: user data) in its 100-unit legend slot


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
            body.append(_text(x + 13, 11, clip(s.name, LEGEND_CHARS), fill=INK))
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
        parts.append(f"{clip(s.name, NAME_LIMIT)}: {vals}" if len(spec.series) > 1 else vals)
    return "; ".join(parts)
