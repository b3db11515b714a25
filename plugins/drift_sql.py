"""The computational core of the ``drift`` metrics, written as aggregate SQL.

Each function compares a *reference* relation with a *current* one on one column. DuckDB does
the scan and returns only sufficient statistics (bin counts, sorted distinct values with
counts, category counts); Python finishes with a handful of numbers. That keeps the heavy work
in SQL so it can later move to a distributed engine unchanged.

Relations are code-supplied SQL, never user values: a table or view name (``name`` or
``schema.name``, quoted here), a subquery (text starting with ``(``, ``SELECT``, ``WITH`` or
``FROM``), or a ``(sql, params)`` pair whose ``?`` parameters carry the values (window bounds,
entity names). The column name is always quoted as a DuckDB identifier.

Value rules (see docs/metrics-drift.md): NULL is missing; for numeric functions NaN and
±infinity are missing too. Missing values are left out of every distribution and counted by
:func:`missing_share`. Any function whose reference or current side has no usable value
returns ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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


def psi(con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str) -> float | None:
    """Population stability index over the reference's decile bins (DESIGN "drift.psi")."""
    prof = reference_profile(con, ref, [column])[column]
    ((n_cur, cur_counts),) = edge_counts(con, cur, [column], [prof.deciles])
    if prof.n == 0 or n_cur == 0:
        return None
    return psi_from_edge_counts(prof.deciles, prof.edge_counts, prof.n, cur_counts, n_cur)


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


def ks(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> KsResult | None:
    """``scipy.stats.ks_2samp`` statistic with its ``method="asymp"`` two-sided p-value."""
    stats = _ecdf_stats(con, ref, cur, column)
    if stats is None:
        return None
    n1, n2, d, _ = stats
    return KsResult(d, ks_asymp_pvalue(d, n1, n2))


def ks_asymp_pvalue(d: float, n1: int, n2: int) -> float | None:
    """The p-value exactly as ks_2samp computes it for method='asymp', alternative='two-sided'.

    scipy rounds the effective size m·n/(m+n) to an integer; for n1 = n2 = 1 that is 0 and
    its p-value is NaN, which we report as None (undefined) rather than store a NaN.
    """
    from scipy.stats import distributions  # scipy only where a p-value is needed

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = np.round(m * n / (m + n))
    if en < 1:
        return None
    return float(np.clip(distributions.kstwo.sf(d, en), 0, 1))


def wasserstein(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> float | None:
    """1-D Wasserstein distance ÷ reference std (ddof 0); raw if the reference is constant."""
    stats = _ecdf_stats(con, ref, cur, column)
    if stats is None:
        return None
    ctes, params = _sides(ref, cur, column, numeric=True)
    sql = f"""{ctes}, m AS (SELECT avg(v) AS mean FROM r)
    SELECT min(v) = max(v), sqrt(avg((v - mean) * (v - mean))) FROM r, m"""
    constant, std = con.execute(sql, params).fetchone()
    distance = stats[3]
    return distance if constant or std == 0 else distance / std


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


def missing_share(
    con: duckdb.DuckDBPyConnection, rel: Relation, column: str, *, numeric: bool = False
) -> float | None:
    """Share of rows whose value is missing: NULL, and for numeric columns also NaN or ±inf."""
    src, params = relation_sql(rel)
    col = quote_identifier(column)
    missing = (
        f"NOT coalesce(isfinite(CAST({col} AS DOUBLE)), false)" if numeric else f"{col} IS NULL"
    )
    total, n_missing = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {missing}) FROM {src}", params
    ).fetchone()
    return None if total == 0 else n_missing / total


def unseen_categories(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> list[Any]:
    """Distinct non-NULL current values absent from the reference, sorted."""
    ctes, params = _sides(ref, cur, column, numeric=False)
    sql = f"{ctes} SELECT v FROM (SELECT v FROM c EXCEPT SELECT v FROM r) ORDER BY v"
    return [row[0] for row in con.execute(sql, params).fetchall()]


# -- many numeric columns at once ------------------------------------------------------------
#
# The per-column functions above run their own scans. A metric family compares every numeric
# feature of a log, window after window, against one reference; these functions share the
# work: one scan of the reference for all columns (deciles, extremes, std), one scan of each
# window for all columns (sizes and counts at the decile edges), and one sorted pass per column
# for KS and Wasserstein.


class ReferenceProfile(NamedTuple):
    """What every comparison needs from the reference, per column."""

    n: int  # usable values
    deciles: tuple[float, ...]  # quantile_cont at 0.1 … 0.9 (with repeats); () if n = 0
    edge_counts: tuple[int, ...]  # values <= each decile
    constant: bool  # min = max
    std: float | None  # population std (ddof 0)


class NumericDrift(NamedTuple):
    psi: float
    ks: KsResult
    wasserstein: float
    n_ref: int
    n_cur: int


def _usable(column: str) -> str:
    """The column as DOUBLE, with NaN and ±inf made NULL."""
    x = f"CAST({quote_identifier(column)} AS DOUBLE)"
    return f"CASE WHEN isfinite({x}) THEN {x} END"


def _clean(rel: Relation, columns: Sequence[str]) -> tuple[str, list[Any]]:
    """A subquery with the usable value of each column as ``c0, c1, …`` (NULL if missing)."""
    src, params = relation_sql(rel)
    cols = ", ".join(f"{_usable(c)} AS c{i}" for i, c in enumerate(columns)) or "1 AS c"
    return f"(SELECT {cols} FROM {src})", params


def reference_profile(
    con: duckdb.DuckDBPyConnection, ref: Relation, columns: Sequence[str]
) -> dict[str, ReferenceProfile]:
    """Size, extremes and std of every column from one scan of the reference; the order
    statistics around each decile from a second; counts at the deciles from a third."""
    if not columns:
        return {}
    src, params = _clean(ref, columns)
    aggs = ", ".join(
        f"count(c{i}), min(c{i}) = max(c{i}), stddev_pop(c{i})" for i in range(len(columns))
    )
    row = con.execute(f"SELECT {aggs} FROM {src}", params).fetchone()
    parts = [row[3 * i : 3 * i + 3] for i in range(len(columns))]
    deciles = _deciles(con, src, params, [n for n, _, _ in parts])
    counts = edge_counts(con, ref, columns, deciles)
    return {
        col: ReferenceProfile(n, deciles[i], counts[i][1], bool(const), std)
        for i, (col, (n, const, std)) in enumerate(zip(columns, parts, strict=True))
    }


def _deciles(
    con: duckdb.DuckDBPyConnection, src: str, params: list[Any], sizes: Sequence[int]
) -> list[tuple[float, ...]]:
    """numpy's linear quantiles at 0.1 … 0.9, per column ``c{i}`` of ``src``.

    DuckDB's ``quantile_cont`` interpolates differently from numpy and can land an ulp away
    (two equal values 809670.125 give 809670.1250000001), which moves values across a PSI
    edge. So we fetch the two order statistics around each position exactly with
    ``quantile_disc`` (index ``ceil(n·q) − 1``; ``q = (k + 0.5) / n`` picks index k) and
    interpolate as numpy's ``_lerp`` does.
    """
    levels = np.arange(1, 10) / 10
    plans, aggs = [], []
    for i, n in enumerate(sizes):
        if not n:
            plans.append(None)
            continue
        h = (n - 1) * levels
        lo = np.floor(h).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        plans.append((lo, hi, h - lo))
        fractions = ", ".join(repr((int(k) + 0.5) / n) for k in [*lo, *hi])
        aggs.append(f"quantile_disc(c{i}, [{fractions}])")
    if not aggs:
        return [() for _ in sizes]
    row = iter(con.execute(f"SELECT {', '.join(aggs)} FROM {src}", params).fetchone())
    out: list[tuple[float, ...]] = []
    for plan in plans:
        if plan is None:
            out.append(())
            continue
        values = np.array(next(row), dtype=float)
        a, b, t = values[:9], values[9:], plan[2]
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


def numeric_drift(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    columns: Sequence[str],
    profile: dict[str, ReferenceProfile] | None = None,
    workers: int = 2,
) -> dict[str, NumericDrift | None]:
    """PSI, KS and Wasserstein of every column (each equal to the per-column function);
    None for a column whose reference or current side has no usable value. Pass ``profile``
    (from :func:`reference_profile`) to reuse it across windows.

    The sorted passes run on ``workers`` cursors at once: a sort uses every core, but the
    streaming part after it runs on one, so two columns in flight keep both cores busy.
    """
    profile = profile if profile is not None else reference_profile(con, ref, columns)
    counts = edge_counts(con, cur, columns, [profile[c].deciles for c in columns])
    todo = [
        (col, profile[col], n_cur, cur_counts)
        for col, (n_cur, cur_counts) in zip(columns, counts, strict=True)
        if profile[col].n and n_cur
    ]

    def one(item: tuple[str, ReferenceProfile, int, tuple[int, ...]]) -> NumericDrift:
        col, prof, n_cur, cur_counts = item
        cursor = con.cursor() if workers > 1 else con
        try:
            stats = _ecdf_stats(cursor, ref, cur, col, (prof.n, n_cur))
        finally:
            if cursor is not con:
                cursor.close()
        assert stats is not None  # both sides have usable values
        n1, n2, d, area = stats
        value_psi = psi_from_edge_counts(prof.deciles, prof.edge_counts, n1, cur_counts, n2)
        w = area if prof.constant or not prof.std else area / prof.std
        return NumericDrift(value_psi, KsResult(d, ks_asymp_pvalue(d, n1, n2)), w, n1, n2)

    if workers > 1 and len(todo) > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, todo))
    else:
        results = [one(item) for item in todo]
    out: dict[str, NumericDrift | None] = dict.fromkeys(columns)
    out.update({item[0]: r for item, r in zip(todo, results, strict=True)})
    return out


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
