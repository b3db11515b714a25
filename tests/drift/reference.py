"""Plain numpy/scipy references for the drift core, and a helper to load arrays into DuckDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import scipy.stats as ss
from scipy.spatial.distance import jensenshannon

from mlreport.plugins.drift.sql import quote_identifier


def load(con: duckdb.DuckDBPyConnection, name: str, values: Sequence[Any], column: str = "x"):
    """Create table ``name`` with one DOUBLE or VARCHAR column (None becomes NULL)."""
    values = list(values)
    kind = "VARCHAR" if any(isinstance(v, str) for v in values) else "DOUBLE"
    col = quote_identifier(column)
    con.execute(
        f'CREATE OR REPLACE TABLE "{name}" AS SELECT unnest(?::{kind}[]) AS {col}', [values]
    )


def usable(values: Sequence[Any]) -> np.ndarray:
    """Numeric values the core uses: not None, finite."""
    arr = np.array([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def psi_ref(ref: np.ndarray, cur: np.ndarray) -> float:
    """DESIGN "drift.psi" in numpy."""
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    bins = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=bins) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=bins) / len(cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_ref(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    res = ss.ks_2samp(ref, cur, method="asymp")
    return float(res.statistic), float(res.pvalue)


def wasserstein_ref(ref: np.ndarray, cur: np.ndarray) -> float:
    dist = float(ss.wasserstein_distance(ref, cur))
    std = float(np.std(ref))
    return dist if np.ptp(ref) == 0 or std == 0 else dist / std


def js_ref(ref: Sequence[Any], cur: Sequence[Any]) -> float:
    a = Counter(v for v in ref if v is not None)
    b = Counter(v for v in cur if v is not None)
    cats = sorted(set(a) | set(b))
    return float(jensenshannon([a[c] for c in cats], [b[c] for c in cats], base=2))
