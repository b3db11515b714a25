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
    ctes, params = _sides(ref, cur, column, numeric=True)
    sql = f"""{ctes},
    e AS (SELECT list_sort(list_distinct(quantile_cont(v, {DECILES}))) AS edges FROM r),
    b AS (
        SELECT 0 AS side, len(list_filter(edges, lambda x: x < v)) AS bin FROM r, e
        UNION ALL
        SELECT 1 AS side, len(list_filter(edges, lambda x: x < v)) AS bin FROM c, e
    )
    SELECT (SELECT len(edges) FROM e), side, bin, count(*) FROM b GROUP BY side, bin"""
    rows = con.execute(sql, params).fetchall()
    if not rows or rows[0][0] is None:
        return None
    counts = np.zeros((2, rows[0][0] + 1))
    for _, side, bin_, n in rows:
        counts[side, bin_] = n
    totals = counts.sum(axis=1)
    if (totals == 0).any():
        return None
    return psi_from_counts(counts[0], counts[1])


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI from per-bin counts: floored proportions, Σ (cur − ref) · ln(cur / ref)."""
    p = np.maximum(ref_counts / ref_counts.sum(), PSI_FLOOR)
    q = np.maximum(cur_counts / cur_counts.sum(), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def _ecdf_sql(ctes: str) -> str:
    """Sizes, sup |F_ref − F_cur| and ∫ |F_ref − F_cur| from distinct values with counts."""
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
           coalesce(sum(abs(ca / n1 - cb / n2) * dv), 0.0)
    FROM w, n"""


def _ecdf_stats(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> tuple[int, int, float, float] | None:
    ctes, params = _sides(ref, cur, column, numeric=True)
    n1, n2, d, area = con.execute(_ecdf_sql(ctes), params).fetchone()
    if not n1 or not n2:
        return None
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
