"""Numbers as a report reader sees them: units, band and table labels, axis scales and ticks,
and the week points trend charts are drawn from."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from mlreport.times import iso


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
    if unit == "days":  # "0.000378 days" helps nobody: 33 s is "1 min"
        return format_value(value * 24, "hours")
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
