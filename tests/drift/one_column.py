"""One metric of one column through the drift core, as the tests ask for it.

The family computes every numeric column at once (``numeric_drift``) and missing shares from
``column_counts``; nothing outside the tests needs these single-column calls. They compare
the core, column by column, with the numpy/scipy references in ``reference.py``.
"""

from __future__ import annotations

import duckdb

from mlreport.plugins.drift.ks import KsResult
from mlreport.plugins.drift.numeric import numeric_drift
from mlreport.plugins.drift.sql import Relation, quote_identifier, relation_sql


def psi(con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str) -> float | None:
    """Population stability index over the reference's decile bins (DESIGN "drift.psi")."""
    d = numeric_drift(con, ref, cur, [column], workers=1)[column]
    return None if d is None else d.psi


def ks(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> KsResult | None:
    """``scipy.stats.ks_2samp`` statistic with its ``method="asymp"`` two-sided p-value."""
    d = numeric_drift(con, ref, cur, [column], workers=1)[column]
    return None if d is None else d.ks


def wasserstein(
    con: duckdb.DuckDBPyConnection, ref: Relation, cur: Relation, column: str
) -> float | None:
    """1-D Wasserstein distance ÷ reference std (ddof 0); raw if the reference is constant."""
    d = numeric_drift(con, ref, cur, [column], workers=1)[column]
    return None if d is None else d.wasserstein


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
