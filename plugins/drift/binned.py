"""The binned engine for numeric columns: fine bins, exact only where needed.

A metric family compares every numeric feature of a log, window after window, against one
reference. Sorting the pooled values of every feature is the costly part, so it is avoided:

1. One scan of the reference gives every column's size, min, max and std (the profile).
2. Each side is binned into equal bins over the reference's [min, max] (about BINS_PER_STD
   per reference std, plus one bin below and one above) by a hash aggregate: count, Σ of the
   position inside the bin, min and max. The two ECDFs are then exact at every bin edge.
3. From the counts alone we know which bins can matter: a bin where the KS sup could lie
   (its edge values plus its own mass could beat the best edge), a bin where F_ref − F_cur
   can change sign (the ranges of the two ECDFs over the bin overlap) and the bins holding
   the reference order statistics around each decile. A needed bin with one distinct value
   (min = max) is known already; the others are split into 2**REFINE_BITS cells (again
   counts, sums, min, max) while they hold more than FETCH_ROWS values, then their values
   are fetched as distinct values with per-side counts and used exactly.
4. Everywhere else the sign of F_ref − F_cur is constant over a cell, so its integral there
   is exact from counts and position sums: ∫ F over a cell = F(start)·w + Σ (end − x) / n.

Below and above the reference range F_ref is 0 or 1, so those bins need no values at all.
A column whose range cannot be binned (a non-finite span) or whose needed cells hold more
than FETCH_LIMIT distinct values falls back to the exact sorted pass and exact deciles
of :mod:`mlreport.plugins.drift.exact`.

This module holds the grid, the per-bin histograms and the queries that split needed
cells or fetch their values; :mod:`mlreport.plugins.drift.cells` does the arithmetic on
cells and :mod:`mlreport.plugins.drift.numeric` drives the steps.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import duckdb
import numpy as np

from mlreport.plugins.drift.sql import Relation, usable_columns

BINS_PER_STD = 4096
MIN_BINS, MAX_BINS = 4096, 2**20
REFINE_BITS = 6  # a refinement splits each needed cell into 2**6
MAX_REFINEMENTS = 3
FETCH_ROWS = 200_000  # needed cells holding more values than this are refined first
FETCH_LIMIT = 200_000  # distinct (value, side) pairs fetched per column before falling back


class Grid(NamedTuple):
    """Equal bins over [lo, hi]: bin k holds lo + k·width ≤ x < lo + (k+1)·width (as
    computed by ``floor((x − lo) · scale)``), index −1 holds x < lo and ``bins`` x > hi."""

    lo: float
    hi: float
    bins: int
    scale: float
    width: float


class Histogram(NamedTuple):
    """Per bin (index k + 1, so below-range first and above-range last): values, the sum of
    their offsets — inside the range (x − start) / width, below lo − x, above x − hi — and
    the smallest and largest value (NaN when empty)."""

    counts: np.ndarray
    offsets: np.ndarray
    lows: np.ndarray
    highs: np.ndarray


def bin_count(lo: float, hi: float, std: float | None) -> int:
    """About BINS_PER_STD bins per reference standard deviation, within [MIN_BINS, MAX_BINS]:
    a long tail (lognormal: the range is ~70 std) must not crowd the bulk into few bins."""
    span = hi - lo
    if not std or not math.isfinite(span) or not math.isfinite(span / std):
        return MIN_BINS
    return int(min(MAX_BINS, max(MIN_BINS, BINS_PER_STD * span / std)))


def make_grid(lo: float, hi: float, bins: int = 65536) -> Grid | None:
    """The bins over a reference range; one zero-width bin for a constant; None if the span
    or its scale is not a finite positive number (e.g. −1e308 … 1e308)."""
    if lo == hi:
        return Grid(lo, hi, 1, 0.0, 0.0)
    span = hi - lo
    scale, width = bins / span, span / bins
    if not (math.isfinite(span) and math.isfinite(scale) and scale > 0 and width > 0):
        return None
    return Grid(lo, hi, bins, scale, width)


def _keyed(rel: Relation, column: str, grid: Grid) -> tuple[str, list[Any]]:
    """Usable values ``v`` of one column with their bin ``k`` and scaled position ``t``.
    The key is monotone in v: equal values share a bin and bins follow value order."""
    src, params = usable_columns(rel, [column])
    inner = f"SELECT v, (v - ?) * ? AS t FROM (SELECT c0 AS v FROM {src} WHERE c0 IS NOT NULL)"
    sql = (
        "SELECT v, t, CASE WHEN v < ? THEN -1 WHEN v > ? THEN ? "
        f"ELSE CAST(least(floor(t), ?) AS BIGINT) END AS k FROM ({inner})"
    )
    g = grid
    return sql, [g.lo, g.hi, g.bins, g.bins - 1, g.lo, g.scale, *params]


def histogram(con: duckdb.DuckDBPyConnection, rel: Relation, column: str, grid: Grid) -> Histogram:
    """Counts and offset sums per bin of one column, from one hash aggregate."""
    keyed, params = _keyed(rel, column, grid)
    sql = f"""SELECT k, count(*) AS n,
        sum(CASE WHEN k = -1 THEN ? - v WHEN k = ? THEN v - ? ELSE t - k END) AS s,
        min(v) AS lo, max(v) AS hi
    FROM ({keyed}) GROUP BY k"""
    got = con.execute(sql, [grid.lo, grid.bins, grid.hi, *params]).fetchnumpy()
    size = grid.bins + 2
    counts, offsets = np.zeros(size, dtype=np.int64), np.zeros(size)
    lows, highs = np.full(size, np.nan), np.full(size, np.nan)
    index = np.asarray(got["k"], dtype=np.int64) + 1
    counts[index] = np.asarray(got["n"], dtype=np.int64)
    offsets[index] = np.asarray(got["s"], dtype=float)
    lows[index] = np.asarray(got["lo"], dtype=float)
    highs[index] = np.asarray(got["hi"], dtype=float)
    return Histogram(counts, offsets, lows, highs)


def _open_values(
    rel: Relation, column: str, grid: Grid, level: int, keys: list[int], bounds: tuple
) -> tuple[str, list[Any]]:
    """In-range values ``v`` of one column with position ``t`` and cell ``m`` of ``level``
    (bins split into 2**level equal cells: scaling by a power of two is exact, so cells nest
    in those of coarser levels), kept when ``m`` is one of ``keys``. ``bounds`` (the smallest
    and largest value of those cells) is a cheap first filter."""
    src, params = usable_columns(rel, [column])
    key = f"CAST(least(floor(t * {2**level}), {grid.bins * 2**level - 1}) AS BIGINT)"
    sql = f"""SELECT v, t, {key} AS m FROM (
        SELECT c0 AS v, (c0 - ?) * ? AS t FROM {src} WHERE c0 BETWEEN ? AND ?
    ) WHERE {key} IN (SELECT unnest(?::BIGINT[]))"""
    low, high = max(bounds[0], grid.lo), min(bounds[1], grid.hi)
    return sql, [grid.lo, grid.scale, *params, low, high, keys]


def _both_sides(
    ref: Relation, cur: Relation, column: str, grid: Grid, level: int, cells: tuple
) -> tuple[str, list[Any]]:
    parts, params = [], []
    for side, rel in ((0, ref), (1, cur)):
        sql, p = _open_values(rel, column, grid, level, *cells)
        parts.append(f"SELECT {side} AS side, v, t, m FROM ({sql})")
        params += p
    return " UNION ALL ".join(parts), params


def refine(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    grid: Grid,
    level: int,
    cells: tuple,
) -> dict[str, np.ndarray]:
    """Per side and cell REFINE_BITS levels finer than ``level``: count, offset sum, smallest
    and largest value of the values in the open cells ``cells`` (keys, bounds)."""
    sql, params = _both_sides(ref, cur, column, grid, level, cells)
    finer = level + REFINE_BITS
    key = f"CAST(least(floor(t * {2**finer}), {grid.bins * 2**finer - 1}) AS BIGINT)"
    got = con.execute(
        f"""SELECT side, m, count(*) AS n, sum(t * {2**finer} - m) AS s, min(v) AS lo,
               max(v) AS hi
        FROM (SELECT side, v, t, {key} AS m FROM ({sql})) GROUP BY side, m""",
        params,
    ).fetchnumpy()
    return {name: np.asarray(got[name]) for name in ("side", "m", "n", "s", "lo", "hi")}


def fetch(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    grid: Grid,
    level: int,
    cells: tuple,
) -> dict[str, np.ndarray] | None:
    """Distinct values of the open cells ``cells`` (keys, bounds) with their cell and count
    per side; None if there are more than FETCH_LIMIT of them."""
    sql, params = _both_sides(ref, cur, column, grid, level, cells)
    got = con.execute(
        f"SELECT m, v, side, count(*) AS n FROM ({sql}) GROUP BY m, v, side "
        f"LIMIT {FETCH_LIMIT + 1}",
        params,
    ).fetchnumpy()
    if len(got["v"]) > FETCH_LIMIT:
        return None
    return {name: np.asarray(got[name]) for name in ("m", "v", "side", "n")}
