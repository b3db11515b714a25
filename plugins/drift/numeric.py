"""PSI, KS and Wasserstein of every numeric column of a log: the reference profile once per
log, then per window each column on the binned engine, or on the exact path where binning
cannot answer. Columns run on two cursors at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, TypeVar

import duckdb
import numpy as np

from mlreport.plugins.drift import binned
from mlreport.plugins.drift.binned import Grid, Histogram, bin_count, histogram, make_grid
from mlreport.plugins.drift.cells import Cells, Points
from mlreport.plugins.drift.exact import ecdf_stats, edge_counts, exact_deciles
from mlreport.plugins.drift.ks import KsResult, ks_asymp_pvalue
from mlreport.plugins.drift.psi import decile_ranks, psi_from_edge_counts
from mlreport.plugins.drift.sql import Relation, usable_columns

T = TypeVar("T")
U = TypeVar("U")


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
    src, params = usable_columns(ref, columns)
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


def _on_cursor(
    con: duckdb.DuckDBPyConnection, workers: int, fn: Callable[[duckdb.DuckDBPyConnection], T]
) -> T:
    """Run ``fn`` on a fresh cursor when columns run in parallel (a connection runs one
    query at a time), else on ``con``."""
    if workers <= 1:
        return fn(con)
    cursor = con.cursor()
    try:
        return fn(cursor)
    finally:
        cursor.close()


def _map(fn: Callable[[T], U], items: Iterable[T], workers: int) -> list[U]:
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
    cells = Cells.from_histograms(prof.histogram, histogram(con, cur, column, grid))
    n1, n2 = cells.n1, cells.n2
    if n2 == 0:
        return None
    if n1 * n2 >= 2**62:  # the integer ECDF comparisons must not overflow int64
        return _exact_drift(con, ref, cur, column, prof)
    ranks = decile_ranks(n1)
    need, level = cells.needed(ranks), 0
    # Split the needed cells holding several distinct values while they hold many values
    # and splitting still helps (it cannot separate equal values).
    for _ in range(binned.MAX_REFINEMENTS):
        mass = cells.open_mass(need)
        if mass <= binned.FETCH_ROWS or grid.width == 0:
            break
        rows = binned.refine(con, ref, cur, column, grid, level, cells.open_set(need, level))
        level += binned.REFINE_BITS
        finer = cells.refine(need, level, rows)
        if finer is None:  # counts did not add up: trust only the exact path
            return _exact_drift(con, ref, cur, column, prof)
        cells, need = finer, finer.needed(ranks)
        if cells.open_mass(need) * 2 > mass:
            break
    open_set = cells.open_set(need, level)
    rows = binned.fetch(con, ref, cur, column, grid, level, open_set) if open_set else _NO_ROWS
    if rows is None:
        return _exact_drift(con, ref, cur, column, prof)
    points = Points(cells, need, rows, level)
    d = points.ks()
    w = points.wasserstein(grid)
    deciles, ref_below, cur_below = points.decile_counts(ranks)
    value_psi = psi_from_edge_counts(deciles, ref_below, n1, cur_below, n2)
    w = w if prof.constant or not prof.std else w / prof.std
    return NumericDrift(value_psi, KsResult(d, ks_asymp_pvalue(d, n1, n2)), w, n1, n2)


_NO_ROWS = {name: np.zeros(0, dtype=np.int64) for name in ("m", "v", "side", "n")}


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
    stats = ecdf_stats(con, ref, cur, column, (n1, n2))
    assert stats is not None
    _, _, d, area = stats
    src, params = usable_columns(ref, [column])
    (deciles,) = exact_deciles(con, src, params, [n1])
    ((_, ref_below),) = edge_counts(con, ref, [column], [deciles])
    ((_, cur_below),) = edge_counts(con, cur, [column], [deciles])
    value_psi = psi_from_edge_counts(deciles, ref_below, n1, cur_below, n2)
    w = area if prof.constant or not prof.std else area / prof.std
    return NumericDrift(value_psi, KsResult(d, ks_asymp_pvalue(d, n1, n2)), w, n1, n2)
