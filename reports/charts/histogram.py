"""The histogram chart: counts per bin with markers (p50, p90) and a band strip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from mlreport.reports.charts.numbers import (
    _f,
    format_value,
    ticks,
)
from mlreport.reports.charts.svg import (
    AXIS,
    GRID,
    INK,
    MUTED,
    SERIES,
    TONES,
    _no_data,
    _svg,
    _text,
)
from mlreport.reports.charts.trend import Band

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
