"""The computational core of the ``drift`` metrics, written as aggregate SQL.

Each function compares a *reference* relation with a *current* one on one column. DuckDB does
the scans and returns only sufficient statistics (bin counts and sums, the distinct values of
the few bins that need them, category counts); Python finishes the numbers. That keeps the
heavy work in SQL so it can later move to a distributed engine unchanged.

Relations are code-supplied SQL, never user values: a table or view name (``name`` or
``schema.name``, quoted here), a subquery (text starting with ``(``, ``SELECT``, ``WITH`` or
``FROM``), or a ``(sql, params)`` pair whose ``?`` parameters carry the values (window bounds,
entity names). The column name is always quoted as a DuckDB identifier.

Value rules (see docs/metrics-drift.md): NULL is missing; for numeric functions NaN and
±infinity are missing too. Missing values are left out of every distribution and counted by
:func:`column_counts`. Any function whose reference or current side has no usable value
returns ``None``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import duckdb
import numpy as np

Relation = str | tuple[str, Sequence[Any]]

PSI_FLOOR = 1e-4
DECILES = "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]"
_SUBQUERY = re.compile(r"^\s*(\(|select\b|with\b|from\b)", re.IGNORECASE)


class KsResult(NamedTuple):
    """Two-sample Kolmogorov–Smirnov statistic and its asymptotic two-sided p-value."""

    statistic: float
    pvalue: float | None  # None where scipy gives NaN: both samples of size 1


def quote_identifier(name: str) -> str:
    """DuckDB identifier quoting: wrap in double quotes, double any inner quote."""
    return '"' + name.replace('"', '""') + '"'


def relation_sql(rel: Relation) -> tuple[str, list[Any]]:
    """The FROM-clause text and parameters for a table name, subquery or (sql, params) pair."""
    sql, params = (rel[0], list(rel[1])) if isinstance(rel, tuple) else (rel, [])
    if _SUBQUERY.match(sql):
        return f"({sql})", params
    if params:
        raise ValueError(f"parameters given for a table name, not a subquery: {sql!r}")
    return ".".join(quote_identifier(part) for part in sql.split(".")), params


def _sides(ref: Relation, cur: Relation, column: str, numeric: bool) -> tuple[str, list[Any]]:
    """CTEs ``r`` and ``c`` holding the usable values ``v`` of each side, and their params."""
    col = quote_identifier(column)
    parts, params = [], []
    for alias, rel in (("r", ref), ("c", cur)):
        src, p = relation_sql(rel)
        if numeric:
            body = f"SELECT v FROM (SELECT CAST({col} AS DOUBLE) AS v FROM {src}) WHERE isfinite(v)"
        else:
            body = f"SELECT {col} AS v FROM {src} WHERE {col} IS NOT NULL"
        parts.append(f"{alias} AS ({body})")
        params += p
    return "WITH " + ", ".join(parts), params


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI from per-bin counts: floored proportions, Σ (cur − ref) · ln(cur / ref)."""
    p = np.maximum(ref_counts / ref_counts.sum(), PSI_FLOOR)
    q = np.maximum(cur_counts / cur_counts.sum(), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def _ecdf_sql(ctes: str) -> str:
    """sup |F_ref − F_cur| and ∫ |F_ref − F_cur| in one pass over the sorted pool.

    The pooled values are sorted once; streaming window functions then carry running counts
    and the gap to the next value. With ties only the last row of a run of equal values sees
    the full counts, and only it has a gap (> 0), so the sup is taken over rows with a gap (or
    the last row) and tied rows add nothing to the integral. The sizes n1, n2 come in as the
    first two parameters (known from a cheaper count), so each side is read exactly once.
    ``ordered`` checks that the stream really arrived sorted; :func:`_ecdf_stats` falls back
    to window ordering if not.
    """
    return f"""{ctes},
    s AS (SELECT v, side FROM (SELECT v, 0 AS side FROM r UNION ALL SELECT v, 1 AS side FROM c)
          ORDER BY v),
    w AS (
        SELECT CAST(row_number() OVER () AS DOUBLE) AS k,
               CAST(sum(side) OVER (ROWS UNBOUNDED PRECEDING) AS DOUBLE) AS cb,
               lead(v) OVER () - v AS dv
        FROM s
    ),
    d AS (SELECT abs((k - cb) / CAST(? AS DOUBLE) - cb / CAST(? AS DOUBLE)) AS diff, dv FROM w)
    SELECT max(CASE WHEN dv IS NULL OR dv <> 0 THEN diff END), coalesce(sum(diff * dv), 0.0),
           coalesce(bool_and(dv IS NULL OR dv >= 0), true)
    FROM d"""


def _ecdf_window_sql(ctes: str) -> str:
    """The same numbers with explicit window ordering (slower; used if the stream was not
    sorted, which DuckDB does not promise for every setting)."""
    return f"""{ctes},
    g AS (
        SELECT v, count(*) FILTER (WHERE side = 0) AS a, count(*) FILTER (WHERE side = 1) AS b
        FROM (SELECT v, 0 AS side FROM r UNION ALL SELECT v, 1 AS side FROM c) GROUP BY v
    ),
    n AS (SELECT CAST(sum(a) AS DOUBLE) AS n1, CAST(sum(b) AS DOUBLE) AS n2 FROM g),
    w AS (
        SELECT CAST(sum(a) OVER (ORDER BY v) AS DOUBLE) AS ca,
               CAST(sum(b) OVER (ORDER BY v) AS DOUBLE) AS cb,
               lead(v) OVER (ORDER BY v) - v AS dv
        FROM g
    )
    SELECT any_value(n1), any_value(n2), max(abs(ca / n1 - cb / n2)),
           coalesce(sum(abs(ca / n1 - cb / n2) * dv), 0.0), true
    FROM w, n"""


def _ecdf_stats(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    sizes: tuple[int, int] | None = None,
) -> tuple[int, int, float, float] | None:
    """(n_ref, n_cur, KS statistic, Wasserstein distance) of the usable values, or None.
    ``sizes`` are the usable counts when the caller already knows them."""
    ctes, params = _sides(ref, cur, column, numeric=True)
    if sizes is None:
        sizes = con.execute(
            f"{ctes} SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c)", params
        ).fetchone()
    n1, n2 = sizes
    if not n1 or not n2:
        return None
    # The CTE parameters come first in the text, then n1 and n2.
    d, area, ordered = con.execute(_ecdf_sql(ctes), [*params, n1, n2]).fetchone()
    if not ordered:
        _, _, d, area, _ = con.execute(_ecdf_window_sql(ctes), params).fetchone()
    return int(n1), int(n2), float(d), float(area)


def ks_asymp_pvalue(d: float, n1: int, n2: int) -> float | None:
    """The p-value exactly as ks_2samp computes it for method='asymp', alternative='two-sided'.

    scipy rounds the effective size m·n/(m+n) to an integer; for n1 = n2 = 1 that is 0 and
    its p-value is NaN, which we report as None (undefined) rather than store a NaN.
    """
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = np.round(m * n / (m + n))
    if en < 1:
        return None
    return float(np.clip(kstwo_sf(d, int(en)), 0, 1))


def kstwo_sf(x: float, n: int) -> float:
    """``scipy.stats.kstwo.sf(x, n)``, fast where scipy is slow.

    For 140 < n ≤ 1,000,000 and 2.2 ≤ n·x² < 370 scipy returns 2·smirnov(n, x), which it
    sums term by term in C (about a second at n = 500,000, holding the GIL). We sum the same
    series vectorised (:func:`smirnov_sf`); everywhere else scipy itself is asked.
    """
    t = n * x
    if 140 < n <= SMIRNOV_EXACT_MAX and 0 < x < 0.5 and 1.0 < t < n - 1 and 2.2 <= t * x < 370:
        return min(max(2 * smirnov_sf(n, x), 0.0), 1.0)
    from scipy.stats import distributions  # scipy only where a p-value is needed

    return float(distributions.kstwo.sf(x, n))


SMIRNOV_EXACT_MAX = 1_000_000  # scipy.special.smirnov sums exactly up to this n


def smirnov_sf(n: int, d: float) -> float:
    """P(D⁺_n ≥ d) = Σ_{v=0}^{⌊n(1−d)⌋} C(n,v) d (d + v/n)^{v−1} (1 − d − v/n)^{n−v}
    (Birnbaum–Tingey), equal to ``scipy.special.smirnov`` at ~1e-13.

    Each term is taken in logs with Stirling's formula rearranged so nothing large cancels:
    log C(n,v) + v log p + (n−v) log q = v log1p(nd/v) + (n−v) log1p(−nd/(n−v))
    + ½ log(n / (2π v (n−v))) + δ(n) − δ(v) − δ(n−v), δ the Stirling remainder.
    """
    nd = n * d
    last = math.floor(n * (1 - d))
    # Terms more than e^-60 below the largest add nothing at double precision; find where
    # they are on a coarse stride (the terms vary smoothly over ~√n), then sum there.
    stride = max(1, math.isqrt(n) // 16)
    coarse = _smirnov_log_terms(n, d, nd, np.arange(1, last + 1, stride, dtype=float))
    keep = np.flatnonzero(coarse > coarse.max() - 60) if len(coarse) else np.zeros(0, int)
    total = math.exp(n * math.log1p(-d))  # the v = 0 term
    if len(keep):
        lo = max(1, 1 + (int(keep[0]) - 1) * stride)
        hi = min(last, 1 + (int(keep[-1]) + 1) * stride)
        total += float(np.exp(_smirnov_log_terms(n, d, nd, np.arange(lo, hi + 1.0))).sum())
    return total


def _smirnov_log_terms(n: int, d: float, nd: float, v: np.ndarray) -> np.ndarray:
    """log of the terms v ≥ 1 of :func:`smirnov_sf` (−inf where 1 − d − v/n ≤ 0)."""
    w = n - v
    out = np.full(len(v), -np.inf)
    ok = w > nd  # else the term is 0 (rounding can put the last v just past n(1 − d))
    v, w = v[ok], w[ok]
    out[ok] = (
        math.log(d)
        - np.log((nd + v) / n)
        + v * np.log1p(nd / v)
        + w * np.log1p(-nd / w)
        + 0.5 * np.log(n / (2 * np.pi * v * w))
        + _stirling_remainder(np.array([float(n)]))[0]
        - _stirling_remainder(v)
        - _stirling_remainder(w)
    )
    return out


def _stirling_remainder(m: np.ndarray) -> np.ndarray:
    """log m! − (m log m − m + ½ log 2πm): directly for small m, by its series for m ≥ 15."""
    from scipy.special import gammaln

    out = np.empty_like(m)
    small = m < 15
    ms = m[small]
    out[small] = gammaln(ms + 1) - (ms * np.log(ms) - ms + 0.5 * np.log(2 * np.pi * ms))
    r = 1 / m[~small]
    r2 = r * r
    series = 1 / 1680 - r2 * (1 / 1188 - r2 * 691 / 360360)
    out[~small] = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * series)))
    return out


def jensen_shannon(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> float | None:
    """``scipy.spatial.distance.jensenshannon`` (base 2) of category frequencies."""
    ctes, params = _sides(ref, cur, column, numeric=False)
    sql = f"""{ctes}
    SELECT count(*) FILTER (WHERE side = 0), count(*) FILTER (WHERE side = 1)
    FROM (SELECT v, 0 AS side FROM r UNION ALL SELECT v, 1 AS side FROM c) GROUP BY v"""
    rows = con.execute(sql, params).fetchall()
    counts = np.array(rows, dtype=float).reshape(-1, 2)
    if (counts.sum(axis=0) == 0).any():
        return None
    return js_from_counts(counts[:, 0], counts[:, 1])


def js_from_counts(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance, base 2, following scipy's formula (rel_entr against the mix)."""
    p, q = p / p.sum(), q / q.sum()
    mix = (p + q) / 2.0
    div = (_rel_entr(p, mix).sum() + _rel_entr(q, mix).sum()) / math.log(2.0)
    return float(np.sqrt(div / 2.0))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for x >= 0, y > 0 wherever x > 0 (always true against the mix)."""
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log(x[pos] / y[pos])
    return out


def unseen_categories(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> list[Any]:
    """Distinct non-NULL current values absent from the reference, sorted."""
    ctes, params = _sides(ref, cur, column, numeric=False)
    sql = f"{ctes} SELECT v FROM (SELECT v FROM c EXCEPT SELECT v FROM r) ORDER BY v"
    return [row[0] for row in con.execute(sql, params).fetchall()]


# -- many numeric columns at once: fine bins, exact only where needed ---------------------------
#
# A metric family compares every numeric feature of a log, window after window, against one
# reference. Sorting the pooled values of every feature is the costly part, so it is avoided:
#
# 1. One scan of the reference gives every column's size, min, max and std (the profile).
# 2. Each side is binned into equal bins over the reference's [min, max] (about BINS_PER_STD
#    per reference std, plus one bin below and one above) by a hash aggregate: count, Σ of the
#    position inside the bin, min and max. The two ECDFs are then exact at every bin edge.
# 3. From the counts alone we know which bins can matter: a bin where the KS sup could lie
#    (its edge values plus its own mass could beat the best edge), a bin where F_ref − F_cur
#    can change sign (the ranges of the two ECDFs over the bin overlap) and the bins holding
#    the reference order statistics around each decile. A needed bin with one distinct value
#    (min = max) is known already; the others are split into 2**REFINE_BITS cells (again
#    counts, sums, min, max) while they hold more than FETCH_ROWS values, then their values
#    are fetched as distinct values with per-side counts and used exactly.
# 4. Everywhere else the sign of F_ref − F_cur is constant over a cell, so its integral there
#    is exact from counts and position sums: ∫ F over a cell = F(start)·w + Σ (end − x) / n.
#
# Below and above the reference range F_ref is 0 or 1, so those bins need no values at all.
# A column whose range cannot be binned (a non-finite span) or whose needed cells hold more
# than FETCH_LIMIT distinct values falls back to the exact sorted pass (:func:`_ecdf_stats`)
# and exact deciles (:func:`_deciles`, :func:`edge_counts`).

BINS_PER_STD = 4096
MIN_BINS, MAX_BINS = 4096, 2**20
REFINE_BITS = 6  # a refinement splits each needed cell into 2**6
MAX_REFINEMENTS = 3
FETCH_ROWS = 200_000  # needed cells holding more values than this are refined first
FETCH_LIMIT = 200_000  # distinct (value, side) pairs fetched per column before falling back
LEVELS = np.arange(1, 10) / 10


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


class ReferenceProfile(NamedTuple):
    """What every comparison needs from the reference, per column."""

    n: int  # usable values
    constant: bool  # min = max
    std: float | None  # population std (ddof 0)
    grid: Grid | None  # None when n = 0 or the range cannot be binned
    histogram: Histogram | None


class NumericDrift(NamedTuple):
    psi: float
    ks: KsResult
    wasserstein: float
    n_ref: int
    n_cur: int


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


def _usable(column: str) -> str:
    """The column as DOUBLE, with NaN and ±inf made NULL."""
    x = f"CAST({quote_identifier(column)} AS DOUBLE)"
    return f"CASE WHEN isfinite({x}) THEN {x} END"


def _clean(rel: Relation, columns: Sequence[str]) -> tuple[str, list[Any]]:
    """A subquery with the usable value of each column as ``c0, c1, …`` (NULL if missing)."""
    src, params = relation_sql(rel)
    cols = ", ".join(f"{_usable(c)} AS c{i}" for i, c in enumerate(columns)) or "1 AS c"
    return f"(SELECT {cols} FROM {src})", params


def _keyed(rel: Relation, column: str, grid: Grid) -> tuple[str, list[Any]]:
    """Usable values ``v`` of one column with their bin ``k`` and scaled position ``t``.
    The key is monotone in v: equal values share a bin and bins follow value order."""
    src, params = _clean(rel, [column])
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


def reference_profile(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    columns: Sequence[str],
    workers: int = 2,
    bins: int | None = None,
) -> dict[str, ReferenceProfile]:
    """Size, extremes and std of every column from one scan of the reference, then each
    column's histogram over its own range (on ``workers`` cursors)."""
    if not columns:
        return {}
    src, params = _clean(ref, columns)
    aggs = ", ".join(
        f"count(c{i}), min(c{i}), max(c{i}), stddev_pop(c{i})" for i in range(len(columns))
    )
    row = con.execute(f"SELECT {aggs} FROM {src}", params).fetchone()
    parts = [row[4 * i : 4 * i + 4] for i in range(len(columns))]
    grids = [
        make_grid(lo, hi, bins or bin_count(lo, hi, std)) if n else None for n, lo, hi, std in parts
    ]

    def one(i: int) -> Histogram | None:
        grid = grids[i]
        if grid is None:
            return None
        return _on_cursor(con, workers, lambda cur: histogram(cur, ref, columns[i], grid))

    hists = _map(one, range(len(columns)), workers)
    return {
        col: ReferenceProfile(n, n > 0 and lo == hi, std, grids[i], hists[i])
        for i, (col, (n, lo, hi, std)) in enumerate(zip(columns, parts, strict=True))
    }


def numeric_drift(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    columns: Sequence[str],
    profile: dict[str, ReferenceProfile] | None = None,
    workers: int = 2,
) -> dict[str, NumericDrift | None]:
    """PSI, KS and Wasserstein of every column (each equal to numpy/scipy); None for a
    column whose reference or current side has no usable value. Pass ``profile`` (from
    :func:`reference_profile`) to reuse it across windows. Columns run on ``workers``
    cursors at once, so both cores stay busy."""
    profile = profile if profile is not None else reference_profile(con, ref, columns, workers)

    def one(col: str) -> NumericDrift | None:
        prof = profile[col]
        if not prof.n:
            return None
        return _on_cursor(con, workers, lambda c: _column_drift(c, ref, cur, col, prof))

    return dict(zip(columns, _map(one, columns, workers), strict=True))


def _on_cursor(con: duckdb.DuckDBPyConnection, workers: int, fn):
    """Run ``fn`` on a fresh cursor when columns run in parallel (a connection runs one
    query at a time), else on ``con``."""
    if workers <= 1:
        return fn(con)
    cursor = con.cursor()
    try:
        return fn(cursor)
    finally:
        cursor.close()


def _map(fn, items, workers: int) -> list:
    items = list(items)
    if workers > 1 and len(items) > 1:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(fn, items))
    return [fn(item) for item in items]


def _column_drift(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    prof: ReferenceProfile,
) -> NumericDrift | None:
    """One column against its reference profile: binned where possible, else exact."""
    if prof.grid is None or prof.histogram is None:
        return _exact_drift(con, ref, cur, column, prof)
    grid = prof.grid
    cells = _Cells.from_histograms(prof.histogram, histogram(con, cur, column, grid))
    n1, n2 = cells.n1, cells.n2
    if n2 == 0:
        return None
    if n1 * n2 >= 2**62:  # the integer ECDF comparisons must not overflow int64
        return _exact_drift(con, ref, cur, column, prof)
    ranks = _decile_ranks(n1)
    need, level = cells.needed(ranks), 0
    # Split the needed cells holding several distinct values while they hold many values
    # and splitting still helps (it cannot separate equal values).
    for _ in range(MAX_REFINEMENTS):
        mass = cells.open_mass(need)
        if mass <= FETCH_ROWS or grid.width == 0:
            break
        rows = _refine(con, ref, cur, column, grid, level, cells.open_set(need, level))
        level += REFINE_BITS
        finer = cells.refine(need, level, rows)
        if finer is None:  # counts did not add up: trust only the exact path
            return _exact_drift(con, ref, cur, column, prof)
        cells, need = finer, finer.needed(ranks)
        if cells.open_mass(need) * 2 > mass:
            break
    open_set = cells.open_set(need, level)
    rows = _fetch(con, ref, cur, column, grid, level, open_set) if open_set else _NO_ROWS
    if rows is None:
        return _exact_drift(con, ref, cur, column, prof)
    points = _Points(cells, need, rows, level)
    d = points.ks()
    w = points.wasserstein(grid)
    deciles, ref_below, cur_below = points.decile_counts(ranks)
    value_psi = psi_from_edge_counts(deciles, ref_below, n1, cur_below, n2)
    w = w if prof.constant or not prof.std else w / prof.std
    return NumericDrift(value_psi, KsResult(d, ks_asymp_pvalue(d, n1, n2)), w, n1, n2)


_NO_ROWS = {name: np.zeros(0, dtype=np.int64) for name in ("m", "v", "side", "n")}


def _decile_ranks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's linear quantile positions: the order statistics below and above each decile
    (0-based ranks) and the fraction between them."""
    h = (n - 1) * LEVELS
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, h - lo


def _open_values(
    rel: Relation, column: str, grid: Grid, level: int, keys: list[int], bounds: tuple
) -> tuple[str, list[Any]]:
    """In-range values ``v`` of one column with position ``t`` and cell ``m`` of ``level``
    (bins split into 2**level equal cells: scaling by a power of two is exact, so cells nest
    in those of coarser levels), kept when ``m`` is one of ``keys``. ``bounds`` (the smallest
    and largest value of those cells) is a cheap first filter."""
    src, params = _clean(rel, [column])
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


def _refine(
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


def _fetch(
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


class _Cells:
    """Consecutive cells covering the line — below the reference range, pieces of bins, above
    it — with each side's count and offset sum and the pooled smallest and largest value, so
    both ECDFs are exact at every cell edge. ``pos``/``size`` are a cell's start and width in
    bin units (±inf and 0 outside the range)."""

    def __init__(self, r, c, off_r, off_c, lows, highs, pos, size) -> None:
        self.r, self.c, self.off_r, self.off_c = r, c, off_r, off_c
        self.lows, self.highs, self.pos, self.size = lows, highs, pos, size
        self.n1, self.n2 = int(r.sum()), int(c.sum())
        self.R, self.C = np.cumsum(r), np.cumsum(c)  # counts up to each cell's end
        self.Rb, self.Cb = self.R - r, self.C - c  # counts before each cell
        self.single = lows == highs  # one distinct value (False when empty: NaN)

    @classmethod
    def from_histograms(cls, ref: Histogram, cur: Histogram) -> _Cells:
        bins = len(ref.counts) - 2
        pos = np.concatenate([[-np.inf], np.arange(bins, dtype=float), [np.inf]])
        size = np.concatenate([[0.0], np.ones(bins), [0.0]])
        lows, highs = np.fmin(ref.lows, cur.lows), np.fmax(ref.highs, cur.highs)
        return cls(ref.counts, cur.counts, ref.offsets, cur.offsets, lows, highs, pos, size)

    def needed(self, ranks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Cells whose values must be known: possible KS sup inside, a sign change of
        F_ref − F_cur inside, or a reference order statistic around a decile (with every
        cell between the two, where current values may lie below the decile)."""
        n1, n2 = self.n1, self.n2
        R, C, Rb, Cb = self.R, self.C, self.Rb, self.Cb
        best = np.abs(R * n2 - C * n1).max()  # n1·n2·|D| at every edge, exactly
        # Inside a cell F_ref ∈ [Rb, R]/n1 and F_cur ∈ [Cb, C]/n2.
        bound = np.maximum(R * n2 - Cb * n1, C * n1 - Rb * n2)
        ks = (bound > best) & ~self.single
        overlap = (Rb * n2 < C * n1) & (R * n2 > Cb * n1)
        need = ks | overlap
        lo, hi, _ = ranks
        first = np.searchsorted(R, lo, side="right")
        last = np.searchsorted(R, hi, side="right")
        for a, b in zip(first, last, strict=True):
            need[a : b + 1] = True
        need[0] = need[-1] = False  # outside the reference range: F_ref is constant
        return need & (self.r + self.c > 0)

    def open_cells(self, need: np.ndarray) -> np.ndarray:
        """Needed cells whose values are not known from the histogram (several values)."""
        return need & ~self.single

    def open_mass(self, need: np.ndarray) -> int:
        return int((self.r + self.c)[self.open_cells(need)].sum())

    def open_set(self, need: np.ndarray, level: int) -> tuple | None:
        """The open cells as (keys at ``level``, (smallest, largest value)); None if none.
        Open cells are always of the finest level: only they are ever split."""
        idx = np.flatnonzero(self.open_cells(need))
        if not len(idx):
            return None
        keys = (self.pos[idx] * 2**level).astype(np.int64).tolist()
        return keys, (float(self.lows[idx[0]]), float(self.highs[idx[-1]]))

    def refine(self, need: np.ndarray, level: int, rows: dict[str, np.ndarray]) -> _Cells | None:
        """Open cells replaced by their 2**REFINE_BITS cells of ``level``; None if the
        counts disagree (they cannot unless binning were inconsistent)."""
        open_ = self.open_cells(need)
        sub = 2.0**-level
        starts = (self.pos[open_][:, None] + np.arange(2**REFINE_BITS)[None, :] * sub).ravel()
        keep = ~open_
        pos = np.concatenate([self.pos[keep], starts])
        order = np.argsort(pos, kind="stable")
        new = np.concatenate([np.zeros(keep.sum(), bool), np.ones(len(starts), bool)])[order]
        pos = pos[order]
        size = np.concatenate([self.size[keep], np.full(len(starts), sub)])[order]

        def merged(old: np.ndarray, fill: float) -> np.ndarray:
            return np.concatenate([old[keep], np.full(len(starts), fill, old.dtype)])[order]

        r, c = merged(self.r, 0), merged(self.c, 0)
        off_r, off_c = merged(self.off_r, 0.0), merged(self.off_c, 0.0)
        lows, highs = merged(self.lows, np.nan), merged(self.highs, np.nan)
        at = np.minimum(np.searchsorted(pos, rows["m"] * sub), len(pos) - 1)
        ok = (pos[at] == rows["m"] * sub) & new[at]  # values of other cells are dropped
        for side, counts, offsets in ((0, r, off_r), (1, c, off_c)):
            mine = ok & (rows["side"] == side)
            counts[at[mine]] = rows["n"][mine]
            offsets[at[mine]] = rows["s"][mine]
        np.fmin.at(lows, at[ok], rows["lo"][ok])
        np.fmax.at(highs, at[ok], rows["hi"][ok])
        finer = _Cells(r, c, off_r, off_c, lows, highs, pos, size)
        if (finer.n1, finer.n2) != (self.n1, self.n2):
            return None
        return finer


class _Points:
    """The values of the needed cells (fetched, or the one value of a single-valued cell) as
    distinct values with exact cumulative counts on both sides."""

    def __init__(
        self, cells: _Cells, need: np.ndarray, rows: dict[str, np.ndarray], level: int
    ) -> None:
        self.e = e = cells
        v = np.asarray(rows["v"], dtype=float)
        start = np.asarray(rows["m"], dtype=float) * 2.0**-level
        at = np.minimum(np.searchsorted(e.pos, start), len(e.pos) - 1)
        ok = e.pos[at] == start
        ok[ok] = need[at[ok]] & ~e.single[at[ok]]
        side, n = np.asarray(rows["side"])[ok], np.asarray(rows["n"], dtype=np.int64)[ok]
        single = np.flatnonzero(need & cells.single)
        idx = np.concatenate([at[ok], single])
        v = np.concatenate([v[ok], e.lows[single]])
        a = np.concatenate([np.where(side == 0, n, 0), e.r[single]])
        b = np.concatenate([np.where(side == 1, n, 0), e.c[single]])
        order = np.lexsort((v, idx))
        idx, v, a, b = idx[order], v[order], a[order], b[order]
        new = np.ones(len(v), dtype=bool)
        new[1:] = (idx[1:] != idx[:-1]) | (v[1:] != v[:-1])  # −0.0 == 0.0, as in numpy
        starts = np.flatnonzero(new)
        self.v, self.idx = v[starts], idx[starts]
        self.a = np.add.reduceat(a, starts) if len(v) else a
        self.b = np.add.reduceat(b, starts) if len(v) else b
        # cumulative counts within each cell, then from the start
        first = np.ones(len(self.v), dtype=bool)
        first[1:] = self.idx[1:] != self.idx[:-1]
        self.first = first
        group = np.cumsum(first) - 1
        ca, cb = np.cumsum(self.a), np.cumsum(self.b)
        gs = np.flatnonzero(first)
        self.Ra = e.Rb[self.idx] + ca - (ca[gs] - self.a[gs])[group]
        self.Cc = e.Cb[self.idx] + cb - (cb[gs] - self.b[gs])[group]

    def ks(self) -> float:
        """sup |F_ref − F_cur| over cell edges and known values, as scipy computes it."""
        e = self.e
        edges = np.abs(e.R / e.n1 - e.C / e.n2).max()
        inside = np.abs(self.Ra / e.n1 - self.Cc / e.n2).max() if len(self.v) else 0.0
        return float(max(edges, inside))

    def wasserstein(self, grid: Grid) -> float:
        """∫ |F_ref − F_cur| dx: exact pieces between known values, exact cell integrals
        elsewhere, and the parts below and above the reference range."""
        e = self.e
        rest = np.zeros(len(e.r), dtype=bool)
        rest[1:-1] = True
        rest[self.idx] = False  # F_ref − F_cur keeps its sign over the other cells
        # ∫ over a cell of F = (count before + Σ (1 − offset)) · width / n, in cell units
        fr = (e.Rb[rest] + e.r[rest] - e.off_r[rest]) / e.n1
        fc = (e.Cb[rest] + e.c[rest] - e.off_c[rest]) / e.n2
        total = float((np.abs(fr - fc) * e.size[rest]).sum()) * grid.width
        total += self._known_area(grid)
        # Below lo F_ref = 0 and above hi F_ref = 1 (the grid spans the reference), so there
        # |F_ref − F_cur| integrates to Σ (lo − x) / n2 and Σ (x − hi) / n2.
        return total + (e.off_c[0] + e.off_c[-1]) / e.n2

    def _known_area(self, grid: Grid) -> float:
        """Exact pieces between the known values of each cell, and from the cell's edges to
        its first and last value. The edges are positions in bin units, as everywhere else:
        lo + k·width in x would round to the ulp of lo (large next to a narrow bin when the
        values sit far from 0), while the values' own positions t = (x − lo)·scale are
        computed exactly as in SQL."""
        if not len(self.v):
            return 0.0
        e = self.e
        t = (self.v - grid.lo) * grid.scale
        last = np.append(self.first[1:], True)  # the last value of its cell
        gaps = np.append(self.v[1:] - self.v[:-1], 0.0) * grid.scale  # to the next value
        gaps[last] = (e.pos[self.idx] + e.size[self.idx] - t)[last]  # to the cell's end
        after = np.abs(self.Ra / e.n1 - self.Cc / e.n2) * gaps
        f = self.first
        before = np.abs(e.Rb[self.idx[f]] / e.n1 - e.Cb[self.idx[f]] / e.n2)
        return float(after.sum() + (before * (t[f] - e.pos[self.idx[f]])).sum()) * grid.width

    def decile_counts(
        self, ranks: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...]]:
        """numpy's deciles of the reference, and each side's count of values ≤ each.

        The points are sorted by value and ``Ra`` only grows, at reference values: the value
        of rank j is the first point with Ra > j (its cell is always known)."""
        e = self.e
        lo, hi, t = ranks
        a = self.v[np.searchsorted(self.Ra, lo, side="right")]
        b = self.v[np.searchsorted(self.Ra, hi, side="right")]
        diff = b - a
        deciles = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        # Cells before the lower order statistic's hold values < a ≤ decile; the cells from
        # it to the upper order statistic's are known, later ones hold values > b ≥ decile.
        first = np.searchsorted(e.R, lo, side="right")
        start = np.searchsorted(self.idx, first, side="left")
        stop = np.maximum(np.searchsorted(self.v, deciles, side="right"), start)
        ca = np.concatenate([[0], np.cumsum(self.a)])
        cb = np.concatenate([[0], np.cumsum(self.b)])
        ref_below = e.Rb[first] + ca[stop] - ca[start]
        cur_below = e.Cb[first] + cb[stop] - cb[start]
        return (
            tuple(float(x) for x in deciles),
            tuple(int(x) for x in ref_below),
            tuple(int(x) for x in cur_below),
        )


def _exact_drift(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    prof: ReferenceProfile,
) -> NumericDrift | None:
    """The exact fallback: a sorted pass for KS and Wasserstein, order statistics for the
    deciles, counts at the deciles."""
    ((n2, _),) = edge_counts(con, cur, [column], [()])
    if not n2:
        return None
    n1 = prof.n
    stats = _ecdf_stats(con, ref, cur, column, (n1, n2))
    assert stats is not None
    _, _, d, area = stats
    src, params = _clean(ref, [column])
    (deciles,) = _deciles(con, src, params, [n1])
    ((_, ref_below),) = edge_counts(con, ref, [column], [deciles])
    ((_, cur_below),) = edge_counts(con, cur, [column], [deciles])
    value_psi = psi_from_edge_counts(deciles, ref_below, n1, cur_below, n2)
    w = area if prof.constant or not prof.std else area / prof.std
    return NumericDrift(value_psi, KsResult(d, ks_asymp_pvalue(d, n1, n2)), w, n1, n2)


def _deciles(
    con: duckdb.DuckDBPyConnection, src: str, params: list[Any], sizes: Sequence[int]
) -> list[tuple[float, ...]]:
    """numpy's linear quantiles at 0.1 … 0.9, per column ``c{i}`` of ``src`` (exact path).

    DuckDB's ``quantile_cont`` interpolates differently from numpy and can land an ulp away
    (two equal values 809670.125 give 809670.1250000001), which moves values across a PSI
    edge. So we fetch the two order statistics around each position exactly with
    ``quantile_disc`` (index ``ceil(n·q) − 1``; ``q = (k + 0.5) / n`` picks index k) and
    interpolate as numpy's ``_lerp`` does.
    """
    plans, aggs = [], []
    for i, n in enumerate(sizes):
        if not n:
            plans.append(None)
            continue
        lo, hi, t = _decile_ranks(n)
        plans.append(t)
        fractions = ", ".join(repr((int(k) + 0.5) / n) for k in [*lo, *hi])
        aggs.append(f"quantile_disc(c{i}, [{fractions}])")
    if not aggs:
        return [() for _ in sizes]
    row = iter(con.execute(f"SELECT {', '.join(aggs)} FROM {src}", params).fetchone())
    out: list[tuple[float, ...]] = []
    for t in plans:
        if t is None:
            out.append(())
            continue
        values = np.array(next(row), dtype=float)
        a, b = values[:9], values[9:]
        diff = b - a
        lerp = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
        out.append(tuple(float(x) for x in lerp))
    return out


def edge_counts(
    con: duckdb.DuckDBPyConnection,
    rel: Relation,
    columns: Sequence[str],
    edges: Sequence[Sequence[float]],
) -> list[tuple[int, tuple[int, ...]]]:
    """Per column: (usable values, values <= each of its edges), from one scan of ``rel``."""
    src, params = _clean(rel, columns)
    aggs, edge_params = [], []
    for i, col_edges in enumerate(edges):
        aggs.append(f"count(c{i})")
        for e in col_edges:
            # sum of a 0/1 cast, not count(*) FILTER: ~10x faster on DuckDB 2.0
            aggs.append(f"coalesce(sum(CAST(c{i} <= ? AS INTEGER)), 0)")
            edge_params.append(e)
    # The edges are parameters of the SELECT list, which precede the relation's own.
    row = con.execute(f"SELECT {', '.join(aggs)} FROM {src}", edge_params + params).fetchone()
    out, pos = [], 0
    for col_edges in edges:
        k = len(col_edges)
        out.append((row[pos], tuple(row[pos + 1 : pos + 1 + k])))
        pos += 1 + k
    return out


def psi_from_edge_counts(
    deciles: Sequence[float], ref: Sequence[int], n_ref: int, cur: Sequence[int], n_cur: int
) -> float:
    """PSI from counts at the (repeating) deciles: a value's bin is the number of distinct
    edges strictly below it, so bin j holds (e_j, e_{j+1}] and its count is a difference of
    counts at edges."""
    at = {e: (r, c) for e, r, c in zip(deciles, ref, cur, strict=True)}
    edges = sorted(at)
    below = np.array([[0, 0]] + [list(at[e]) for e in edges] + [[n_ref, n_cur]], dtype=float)
    bins = np.diff(below, axis=0)
    return psi_from_counts(bins[:, 0], bins[:, 1])


MATERIALIZE_MAX = 60_000_000  # values (rows × columns) a side may copy into memory


class Scratch:
    """An in-memory database attached for one log's drift passes. Every pass over a side
    reads its columns again; reading them from memory instead of through the log's view (a
    Parquet scan with a time filter) halves the cost of each pass."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        self.con, self.name, self.tables = con, name, 0

    def usable(self, rel: Relation, columns: Sequence[str], rows: int | None = None) -> Relation:
        """A table of the usable values of ``columns`` (same names; NaN and ±inf as NULL),
        or ``rel`` itself when there are no columns or more than MATERIALIZE_MAX values
        (``rows`` when known; else the copy stops one row past the limit and is dropped)."""
        if not columns:
            return rel
        limit = MATERIALIZE_MAX // len(columns)
        if rows is not None and rows > limit:
            return rel
        src, params = relation_sql(rel)
        self.tables += 1
        table = f"{self.name}.t{self.tables}"
        cols = ", ".join(f"{_usable(c)} AS {quote_identifier(c)}" for c in columns)
        cap = "" if rows is not None else f" LIMIT {limit + 1}"
        self.con.execute(f"CREATE TABLE {table} AS SELECT {cols} FROM {src}{cap}", params)
        if rows is None and self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > limit:
            self.drop(table)
            return rel
        return table

    def drop(self, rel: Relation) -> None:
        if isinstance(rel, str) and rel.startswith(f"{self.name}."):
            self.con.execute(f"DROP TABLE {rel}")


@contextmanager
def scratch(con: duckdb.DuckDBPyConnection) -> Iterator[Scratch]:
    """A :class:`Scratch` database, detached (and freed) on exit."""
    name = f"mlreport_drift_{uuid.uuid4().hex[:12]}"
    con.execute(f"ATTACH ':memory:' AS {name}")
    try:
        yield Scratch(con, name)
    finally:
        con.execute(f"DETACH {name}")


def column_counts(
    con: duckdb.DuckDBPyConnection,
    rel: Relation,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> tuple[int, dict[str, int]]:
    """Rows of ``rel`` and usable values per column (numeric: finite; categorical: not NULL),
    from one scan. Missing share = 1 − usable ÷ rows."""
    src, params = relation_sql(rel)
    cols = [f"count({_usable(c)})" for c in numeric]
    cols += [f"count({quote_identifier(c)})" for c in categorical]
    row = con.execute(f"SELECT {', '.join(['count(*)', *cols])} FROM {src}", params).fetchone()
    return row[0], dict(zip([*numeric, *categorical], row[1:], strict=True))
