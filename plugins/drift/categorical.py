"""Drift of categorical columns: Jensen–Shannon distance of category frequencies and the
categories never seen in the reference, each from one grouped query over both sides'
non-NULL values.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np

from mlreport.plugins.drift.sql import Relation, sides


def jensen_shannon(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> float | None:
    """``scipy.spatial.distance.jensenshannon`` (base 2) of category frequencies."""
    ctes, params = sides(ref, cur, column, numeric=False)
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
    ctes, params = sides(ref, cur, column, numeric=False)
    sql = f"{ctes} SELECT v FROM (SELECT v FROM c EXCEPT SELECT v FROM r) ORDER BY v"
    return [row[0] for row in con.execute(sql, params).fetchall()]
