"""Reference-vs-current histograms of drifted features, which the ``drift`` family publishes
for reports (``details.drift_histograms``): equal-width bins for numeric features, the top
categories for categorical ones, each one aggregate query over both relations.
"""

from __future__ import annotations

from typing import Any

import duckdb

from mlreport.prediction_logs import Relation
from mlreport.sql import quote_identifier

HISTOGRAM_BINS = 12
TOP_CATEGORIES = 10
OTHER = "(other)"


def _from(rel: Relation) -> tuple[str, list[Any]]:
    return f"({rel[0]})", list(rel[1])


def numeric_histogram(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    n_bins: int = HISTOGRAM_BINS,
) -> dict[str, Any]:
    """Equal-width bins over the finite values of both sides together, with counts per side.

    Shares are of each side's finite values, so sides of different sizes compare; missing
    (NULL, NaN, infinite) values are counted apart.
    """
    col = quote_identifier(column)
    rsrc, rparams = _from(ref)
    csrc, cparams = _from(cur)
    sql = f"""WITH raw AS (
        SELECT 0 AS side, CAST({col} AS DOUBLE) AS v FROM {rsrc} AS r
        UNION ALL SELECT 1 AS side, CAST({col} AS DOUBLE) AS v FROM {csrc} AS c
    ),
    f AS (SELECT side, v FROM raw WHERE isfinite(v)),
    lim AS (SELECT min(v) AS lo, max(v) AS hi FROM f)
    SELECT side,
        CASE WHEN hi = lo THEN 0
             ELSE least(CAST(floor((v - lo) / (hi - lo) * ?) AS INTEGER), ? - 1) END AS bin,
        count(*), any_value(lo), any_value(hi)
    FROM f, lim GROUP BY ALL ORDER BY side, bin"""
    rows = con.execute(sql, [*rparams, *cparams, n_bins, n_bins]).fetchall()
    missing = _missing(con, rsrc, csrc, rparams + cparams, f"NOT isfinite(CAST({col} AS DOUBLE))")
    if not rows:
        return {"kind": "numeric", "bins": [], "missing": missing, "totals": [0, 0]}
    lo, hi = float(rows[0][3]), float(rows[0][4])
    n = 1 if hi == lo else n_bins
    counts = [[0] * n, [0] * n]
    for side, b, c, _, _ in rows:
        counts[side][b] = int(c)
    return {
        "kind": "numeric",
        "bins": _bins([lo + (hi - lo) * i / n for i in range(n + 1)], counts, hi == lo),
        "missing": missing,
        "totals": [sum(counts[0]), sum(counts[1])],
    }


def _missing(
    con: duckdb.DuckDBPyConnection, rsrc: str, csrc: str, params: list[Any], test: str
) -> list[int]:
    """Missing values per side: NULL, or failing ``test`` (e.g. not finite)."""
    sql = f"""SELECT
        (SELECT count(*) FROM (SELECT * FROM {rsrc} AS r) AS x WHERE ({test}) IS NOT FALSE),
        (SELECT count(*) FROM (SELECT * FROM {csrc} AS c) AS x WHERE ({test}) IS NOT FALSE)"""
    a, b = con.execute(sql, params).fetchone()
    return [int(a), int(b)]


def _bins(edges: list[float], counts: list[list[int]], constant: bool) -> list[dict[str, Any]]:
    totals = [sum(counts[0]), sum(counts[1])]
    out = []
    for i in range(len(counts[0])):
        out.append(
            {
                "lo": edges[i],
                "hi": edges[i + 1],
                "label": _edge_label(edges[i]) if constant else None,
                "reference": counts[0][i],
                "current": counts[1][i],
                "reference_share": counts[0][i] / totals[0] if totals[0] else None,
                "current_share": counts[1][i] / totals[1] if totals[1] else None,
            }
        )
    return out


def _edge_label(x: float) -> str:
    return f"{x:.4g}"


def categorical_histogram(
    con: duckdb.DuckDBPyConnection,
    ref: Relation,
    cur: Relation,
    column: str,
    top: int = TOP_CATEGORIES,
) -> dict[str, Any]:
    """Category counts per side; the ``top`` categories by combined share, the rest pooled."""
    col = quote_identifier(column)
    rsrc, rparams = _from(ref)
    csrc, cparams = _from(cur)
    sql = f"""SELECT cat, count(*) FILTER (WHERE side = 0), count(*) FILTER (WHERE side = 1)
    FROM (
        SELECT 0 AS side, CAST({col} AS VARCHAR) AS cat FROM {rsrc} AS r
        UNION ALL SELECT 1 AS side, CAST({col} AS VARCHAR) AS cat FROM {csrc} AS c
    ) WHERE cat IS NOT NULL GROUP BY cat"""
    rows = [(c, int(a), int(b)) for c, a, b in con.execute(sql, [*rparams, *cparams]).fetchall()]
    missing = _missing(con, rsrc, csrc, rparams + cparams, f"{col} IS NULL")
    totals = [sum(r[1] for r in rows), sum(r[2] for r in rows)]

    def weight(row: tuple[str, int, int]) -> float:
        return sum(row[k + 1] / totals[k] for k in (0, 1) if totals[k])

    ranked = sorted(rows, key=lambda r: (-weight(r), r[0]))
    shown, rest = ranked[:top], ranked[top:]
    if rest:
        shown.append((OTHER, sum(r[1] for r in rest), sum(r[2] for r in rest)))
    cats = [
        {
            "category": c,
            "pooled": c == OTHER and bool(rest),
            "categories": len(rest) if c == OTHER and rest else 1,
            "reference": a,
            "current": b,
            "reference_share": a / totals[0] if totals[0] else None,
            "current_share": b / totals[1] if totals[1] else None,
        }
        for c, a, b in shown
    ]
    return {"kind": "categorical", "bins": cats, "missing": missing, "totals": totals}
