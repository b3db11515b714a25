"""Bands as a reader sees them: the levels of a metric's table, a colour tone from a band's
rank, and the table as contiguous segments for chart shading."""

from __future__ import annotations

from typing import Any

from mlreport.config import BandLevel
from mlreport.metrics import BandTables


def levels_for(tables: BandTables, table: str, metric: str, stat: str | None) -> list[BandLevel]:
    levels = tables.tables.get(table, {})
    key = f"{metric}:{stat}" if stat and f"{metric}:{stat}" in levels else metric
    return list(levels.get(key, []))


def tone(levels: list[BandLevel], band: str | None) -> tuple[str, int | None]:
    """A colour tone (best/good/fair/poor) from the band's rank in its table, best first."""
    names = [lv.band for lv in levels]
    if band is None or band not in names:
        return "none", None
    rank = names.index(band)
    if len(names) == 1:
        return "best", rank
    return ("best", "good", "fair", "poor")[round(rank / (len(names) - 1) * 3)], rank


def band_segments(levels: list[BandLevel]) -> list[dict[str, Any]]:
    """The table as contiguous ``[lo, hi)`` segments over values >= 0 (for chart shading)."""
    if not levels:
        return []
    cuts = sorted({b for lv in levels for b in (lv.min, lv.max) if b is not None and b > 0})
    points: list[float | None] = [0.0, *cuts, None]
    grader = BandTables({"t": {"m": levels}})
    out: list[dict[str, Any]] = []
    for lo, hi in zip(points, points[1:], strict=False):
        mid = (lo + hi) / 2 if hi is not None else (lo * 2 if lo else 1.0)
        band = grader.grade("t", "m", None, mid)
        if band is None:
            continue
        if out and out[-1]["band"] == band and out[-1]["hi"] == lo:
            out[-1]["hi"] = hi
        else:
            out.append({"lo": lo, "hi": hi, "band": band, "tone": tone(levels, band)[0]})
    return out
