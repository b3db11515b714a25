"""The reference: fairlearn's MetricFrame and summary functions on the raw rows, unweighted."""

from __future__ import annotations

import math
import warnings
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from mlreport.plugins.fairness_counts import MISSING

RAW_METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "accuracy": skm.accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": skm.precision_score,
}
RAW_SUMMARIES = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
}


def table(rows: list[dict[str, Any]], types: dict[str, str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding ``rows`` as table ``t`` with the given column types."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({', '.join(f'{c} {ty}' for c, ty in types.items())})")
    if rows:
        cols = list(types)
        marks = ", ".join("?" for _ in cols)
        con.executemany(f"INSERT INTO t VALUES ({marks})", [[r[c] for c in cols] for r in rows])
    return con


def reference(
    rows: list[dict[str, Any]], names: tuple[str, ...], label: str, prediction: str
) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """(group, metric) -> value and summary -> value, from fairlearn on the raw rows."""
    kept = [r for r in rows if r[label] is not None and r[prediction] is not None]
    y_true = np.array([int(r[label]) for r in kept])
    y_pred = np.array([int(r[prediction]) for r in kept])
    groups = pd.DataFrame(
        {n: [MISSING if r[n] is None else str(r[n]) for r in kept] for n in names}, dtype=object
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics=RAW_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=groups
        )
        summaries = {
            name: float(fn(y_true, y_pred, sensitive_features=groups))
            for name, fn in RAW_SUMMARIES.items()
        }
    values = {}
    for key, row in frame.by_group.iterrows():
        if math.isnan(row["count"]):
            continue  # fairlearn lists empty intersections as NaN; they are not groups
        parts = key if isinstance(key, tuple) else (key,)
        for metric in RAW_METRICS:
            values[(" & ".join(parts), metric)] = float(row[metric])
    return values, summaries
