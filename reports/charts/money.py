"""Charts of amounts for the ROI report: stacked monthly bars (cost by service category) and
two running totals (value against cost) with the payback point marked.

Amounts may be negative (credits, refunds, a model whose value is negative), so the y axis
spans from the lowest to the highest value, zero included; both charts clip every user string
(categories, entity names) they draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from mlreport.reports.charts.numbers import _f, nice_step
from mlreport.reports.charts.svg import (
    AXIS,
    GRID,
    INK,
    MUTED,
    NAME_LIMIT,
    POLICY,
    _no_data,
    _svg,
    _text,
    clip,
)

PALETTE = (
    "#2357c6",
    "#0e7490",
    "#b45309",
    "#7c3aed",
    "#3f9142",
    "#c53030",
    "#9f580a",
    "#616e7c",
)
LEGEND_CHARS = 18  # a category name in its legend slot


@dataclass
class StackSpec:
    label: str  # accessible name
    currency: str
    x_labels: list[str]  # one per bar (a month)
    categories: list[str]  # stacking order, bottom first
    values: list[dict[str, float]]  # per bar: category -> amount


@dataclass
class RunningSpec:
    label: str
    currency: str
    x_labels: list[str]
    value: list[float | None]  # cumulative value per month
    cost: list[float | None]  # cumulative cost per month
    payback: int | None = None  # index of the payback month
    names: tuple[str, str] = ("Cumulative value", "Cumulative cost")
    extra: list[str] = field(default_factory=list)


def amount(value: float | None, currency: str) -> str:
    """An amount as the charts and tables write it: ``1,234.50 USD``; ``—`` for none."""
    if value is None:
        return "—"
    return f"{value:,.2f} {currency}" if currency else f"{value:,.2f}"


def _axis(lo: float, hi: float, count: int = 4) -> list[float]:
    """Ticks covering ``[min(lo, 0), max(hi, 0)]`` on a 1-2-2.5-5 step."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi = lo + 1.0
    step = nice_step(hi - lo, count)
    first = step * int(lo // step) if lo < 0 else 0.0
    out, t = [], first
    while t < hi - 1e-9 * step:
        out.append(round(t, 10))
        t += step
    out.append(round(t, 10))
    return out


def _short(value: float) -> str:
    mag = abs(value)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if mag >= div:
            text = f"{value / div:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def _frame(ticks: list[float], left: float, top: float, pw: float, ph: float):
    lo, hi = ticks[0], ticks[-1]

    def y_of(v: float) -> float:
        return top + ph - (min(max(v, lo), hi) - lo) / (hi - lo) * ph

    body = []
    for t in ticks:
        y = y_of(t)
        colour = AXIS if t == 0 else GRID
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_f(y)}" y2="{_f(y)}" stroke="{colour}"/>'
        )
        body.append(_text(left - 6, y + 3.5, _short(t), text_anchor="end", fill=MUTED))
    return y_of, body


def _legend(names: list[str], colours: list[str], left: float) -> list[str]:
    out = []
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        x = left + (k % 4) * 118
        y = 3 + (k // 4) * 13
        out.append(f'<rect x="{_f(x)}" y="{y}" width="9" height="9" rx="2" fill="{colour}"/>')
        out.append(_text(x + 13, y + 8, clip(name, LEGEND_CHARS), fill=INK))
    return out


def stacked_bars(spec: StackSpec, width: int = 520, height: int = 220) -> Markup:
    """One bar per month, its categories stacked (negatives stacked below zero)."""
    if not spec.x_labels or not any(v for bar in spec.values for v in bar.values()):
        return _no_data(width, 70, spec.label, "No cost in this window")
    colours = [PALETTE[k % len(PALETTE)] for k in range(len(spec.categories))]
    rows = (len(spec.categories) + 3) // 4
    left, right, top, bottom = 54, 12, 8 + 13 * rows, 24
    pw, ph = width - left - right, height - top - bottom
    highs = [sum(v for v in bar.values() if v > 0) for bar in spec.values]
    lows = [sum(v for v in bar.values() if v < 0) for bar in spec.values]
    ticks = _axis(min(lows), max(highs))
    y_of, body = _frame(ticks, left, top, pw, ph)
    slot = pw / len(spec.x_labels)
    bar_w = min(48.0, slot * 0.64)
    for i, (label, bar) in enumerate(zip(spec.x_labels, spec.values, strict=True)):
        x = left + slot * i + (slot - bar_w) / 2
        up, down = 0.0, 0.0
        for cat, colour in zip(spec.categories, colours, strict=True):
            v = bar.get(cat, 0.0)
            if not v:
                continue
            a, b = (up, up + v) if v > 0 else (down + v, down)
            if v > 0:
                up += v
            else:
                down += v
            y1, y2 = y_of(b), y_of(a)
            body.append(
                f'<rect x="{_f(x)}" y="{_f(y1)}" width="{_f(bar_w)}" '
                f'height="{_f(max(y2 - y1, 0.5))}" fill="{colour}"/>'
            )
        body.append(_text(x + bar_w / 2, top + ph + 15, label, text_anchor="middle", fill=MUTED))
    body += _legend(spec.categories, colours, left)
    return _svg(width, height, spec.label, _describe_stack(spec), body)


def _describe_stack(spec: StackSpec) -> str:
    parts = []
    for label, bar in zip(spec.x_labels, spec.values, strict=True):
        cats = ", ".join(
            f"{clip(c, NAME_LIMIT)} {amount(bar[c], spec.currency)}"
            for c in spec.categories
            if c in bar
        )
        parts.append(f"{label}: {cats or 'none'}")
    return "; ".join(parts)


def running_totals(spec: RunningSpec, width: int = 520, height: int = 220) -> Markup:
    """Cumulative value and cumulative cost by month; the payback month gets a dashed line."""
    values = [v for v in spec.value + spec.cost if v is not None]
    if not values:
        return _no_data(width, 70, spec.label, "No value or cost in this window")
    left, right, top, bottom = 54, 12, 22, 24
    pw, ph = width - left - right, height - top - bottom
    ticks = _axis(min(values), max(values))
    y_of, body = _frame(ticks, left, top, pw, ph)
    n = len(spec.x_labels)
    step = pw / max(n - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * step if n > 1 else pw / 2)

    every = max(1, -(-n // 8))
    for i, label in enumerate(spec.x_labels):
        if i % every == 0:
            body.append(_text(x_of(i), top + ph + 15, label, text_anchor="middle", fill=MUTED))
    if spec.payback is not None:
        x = x_of(spec.payback)
        body.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{top}" y2="{top + ph}" stroke="{POLICY}" '
            'stroke-width="1.2" stroke-dasharray="5 3"/>'
        )
        anchor = "end" if spec.payback > (n - 1) / 2 else "start"
        dx = -4 if anchor == "end" else 4
        body.append(
            _text(x + dx, top + 10, "payback", text_anchor=anchor, fill=POLICY, font_size=9)
        )
    colours = (PALETTE[4], PALETTE[5])
    for series, colour in zip((spec.value, spec.cost), colours, strict=True):
        body += _line(series, colour, x_of, y_of)
    body += _legend(list(spec.names), list(colours), left)
    return _svg(width, height, spec.label, _describe_running(spec), body)


def _line(series: list[float | None], colour: str, x_of, y_of) -> list[str]:
    out, run = [], []
    for i, v in enumerate([*series, None]):
        if v is None:
            if len(run) > 1:
                pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in run)
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                    'stroke-width="1.8" stroke-linejoin="round"/>'
                )
            run = []
            continue
        run.append((x_of(i), y_of(v)))
    for i, v in enumerate(series):
        if v is not None:
            out.append(f'<circle cx="{_f(x_of(i))}" cy="{_f(y_of(v))}" r="2.6" fill="{colour}"/>')
    return out


def _describe_running(spec: RunningSpec) -> str:
    parts = [
        f"{label}: value {amount(v, spec.currency)}, cost {amount(c, spec.currency)}"
        for label, v, c in zip(spec.x_labels, spec.value, spec.cost, strict=True)
    ]
    if spec.payback is not None:
        parts.append(f"pays back in {spec.x_labels[spec.payback]}")
    return "; ".join(parts + spec.extra)
