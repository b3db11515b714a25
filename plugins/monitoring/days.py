"""Day arithmetic of the ``monitoring`` family, in Python on the small result of the scan.

The scan groups a log's rows by UTC day and by *segment*: the number of window boundaries at or
before the row's time. A (day, segment) group therefore lies wholly inside or wholly outside
each window, so windows that start or end inside a day are counted exactly, without a scan
per window.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from mlreport.metrics import Window


@dataclass(frozen=True)
class DayGroup:
    """Rows of one UTC day and segment: how many, how many labelled, how many with a label
    time (the label-lag rows) and the earliest time among them."""

    day: date
    segment: int
    rows: int
    labelled: int
    lagged: int
    first: datetime


def boundaries(windows: Sequence[Window]) -> list[datetime]:
    """Every window's start and end once, sorted: the cuts that define the segments."""
    return sorted({w.start for w in windows} | {w.end for w in windows})


def segments_of(window: Window, cuts: Sequence[datetime]) -> range:
    """The segments whose rows lie in ``window``: a row at ``t`` is in segment
    ``#{b in cuts : b <= t}``, so ``start <= t`` is segment > index(start) and ``t < end`` is
    segment <= index(end)."""
    return range(bisect_left(cuts, window.start) + 1, bisect_left(cuts, window.end) + 1)


def window_day_list(window: Window) -> list[date]:
    """The UTC days the window touches: a day counts when any part of it is in the window."""
    first = window.start.astimezone(UTC).date()
    last = (window.end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_start(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


@dataclass(frozen=True)
class WindowDays:
    """What one window's rows say about coverage (see docs/metrics-monitoring.md)."""

    window_days: int
    log_days: int
    longest_gap: int
    rows: int
    labelled: int
    lagged: int
    rows_before_end: int  # every logged row before the window's end (the retention side)
    oldest: datetime | None  # the oldest row before the window's end


def window_days(window: Window, groups: Iterable[DayGroup], cuts: Sequence[datetime]) -> WindowDays:
    """Coverage of ``window`` from the groups of one or more logs of an entity."""
    inside = segments_of(window, cuts)
    end_segment = inside.stop - 1  # rows in segments up to here are before the window's end
    logged: set[date] = set()
    rows = labelled = lagged = before = 0
    oldest: datetime | None = None
    for g in groups:
        if g.segment <= end_segment:
            before += g.rows
            oldest = g.first if oldest is None else min(oldest, g.first)
        if g.segment in inside:
            rows, labelled, lagged = rows + g.rows, labelled + g.labelled, lagged + g.lagged
            logged.add(g.day)
    days = window_day_list(window)
    return WindowDays(
        window_days=len(days),
        log_days=sum(d in logged for d in days),
        longest_gap=longest_gap(days, logged),
        rows=rows,
        labelled=labelled,
        lagged=lagged,
        rows_before_end=before,
        oldest=oldest,
    )


def longest_gap(days: Sequence[date], logged: set[date]) -> int:
    """The longest run of consecutive ``days`` without logs (leading and trailing runs too)."""
    best = run = 0
    for d in days:
        run = 0 if d in logged else run + 1
        best = max(best, run)
    return best
