"""The SQL the ``quality`` report needs beyond metric rows: confusion counts, calibration bins
and reference-vs-current histograms, each one aggregate query over a prediction-log relation.

Relations are ``(sql, params)`` pairs from :class:`PredictionLog` (window bounds travel as
parameters); column names are quoted identifiers. Only counts and sums come back to Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np

from mlreport.plugins.prediction_logs import quote

Relation = tuple[str, Sequence[Any]]

CALIBRATION_BINS = 10
HISTOGRAM_BINS = 12
TOP_CATEGORIES = 10
OTHER = "(other)"


def _from(rel: Relation) -> tuple[str, list[Any]]:
    return f"({rel[0]})", list(rel[1])


def row_counts(con: duckdb.DuckDBPyConnection, rel: Relation) -> dict[str, int]:
    """Rows in the relation and how many of them carry a label."""
    src, params = _from(rel)
    rows, labelled = con.execute(
        f"SELECT count(*), count(label) FROM {src} AS t", params
    ).fetchall()[0]
    return {"rows": int(rows), "labelled": int(labelled)}


def confusion(con: duckdb.DuckDBPyConnection, rel: Relation) -> dict[str, int]:
    """Binary confusion counts over labelled rows (label and prediction 0/1); rows with any
    other label or prediction value are counted as ``other``, not guessed at."""
    src, params = _from(rel)
    sql = f"""SELECT
        count(*) FILTER (WHERE label = 0 AND prediction = 0),
        count(*) FILTER (WHERE label = 0 AND prediction = 1),
        count(*) FILTER (WHERE label = 1 AND prediction = 0),
        count(*) FILTER (WHERE label = 1 AND prediction = 1),
        count(*) FILTER (WHERE label IS NOT NULL)
        FROM {src} AS t"""
    tn, fp, fn, tp, labelled = (int(v) for v in con.execute(sql, params).fetchone())
    return {
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
        "labelled": labelled,
        "other": labelled - (tn + fp + fn + tp),
    }


def calibration_edges(n_bins: int = CALIBRATION_BINS) -> list[float]:
    """The bin edges ``sklearn.calibration.calibration_curve(strategy="uniform")`` uses."""
    return [float(x) for x in np.linspace(0.0, 1.0, n_bins + 1)]


def calibration(
    con: duckdb.DuckDBPyConnection, rel: Relation, n_bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """Reliability bins over labelled rows with a score in [0, 1].

    As scikit-learn: a score's bin is the number of inner edges strictly below it
    (``searchsorted(edges[1:-1], score)``); per non-empty bin, ``mean_score`` is
    ``prob_pred`` and ``fraction_positive`` is ``prob_true``. Rows whose score is missing, not
    finite or outside [0, 1] are left out and counted (scikit-learn would refuse them).
    Scores are summed as decimals: a parallel float sum can differ in its last bit from run
    to run, and the report must be byte-identical.
    """
    edges = calibration_edges(n_bins)
    src, params = _from(rel)
    sql = f"""WITH s AS (
        SELECT CAST(score AS DOUBLE) AS p, CAST(label AS DOUBLE) AS y FROM {src} AS t
        WHERE label IS NOT NULL
    )
    SELECT len(list_filter(?::DOUBLE[], lambda x: x < p)) AS bin, count(*),
           sum(CAST(p AS DECIMAL(38, 18))), sum(y)
    FROM s WHERE isfinite(p) AND p >= 0 AND p <= 1 GROUP BY bin ORDER BY bin"""
    rows = con.execute(sql, [*params, edges[1:-1]]).fetchall()
    (excluded,) = con.execute(
        f"SELECT count(*) FROM (SELECT CAST(score AS DOUBLE) AS p FROM {src} AS t "
        "WHERE label IS NOT NULL) WHERE p IS NULL OR NOT isfinite(p) OR p < 0 OR p > 1",
        params,
    ).fetchall()[0]
    by_bin = {int(b): (int(n), float(sp), float(sy)) for b, n, sp, sy in rows}
    bins = []
    for i in range(n_bins):
        n, sp, sy = by_bin.get(i, (0, 0.0, 0.0))
        bins.append(
            {
                "lo": edges[i],
                "hi": edges[i + 1],
                "count": n,
                "mean_score": sp / n if n else None,
                "fraction_positive": sy / n if n else None,
            }
        )
    return {"bins": bins, "n": sum(b["count"] for b in bins), "excluded": int(excluded)}


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
    col = quote(column)
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
    col = quote(column)
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
