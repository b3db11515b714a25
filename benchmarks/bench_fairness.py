"""Benchmark: the ``fairness`` family against fairlearn's ``MetricFrame`` on the raw arrays.

    python benchmarks/bench_fairness.py [--rows 10000000] [--repeat 3]

Data (seeded numpy, written once to Parquet under ``$XDG_CACHE_HOME/mlreport``): ``rows``
predictions over 30 days with two sensitive features, ``sex`` (2 groups) and ``age_band``
(4 groups), so 8 intersections; label and prediction depend on the groups so the metrics
differ between groups.

Fast path: the ``fairness`` family through a warehouse view over the Parquet file (the view the
``predictions`` source defines), one window, every grouping (``sex``, ``age_band`` and
``sex & age_band``) with all seven group metrics and the five summaries.
Reference: fairlearn ``MetricFrame`` over the 8 intersections with four group metrics
(selection rate, accuracy, TPR, FPR) plus fairlearn's five summary functions, on the raw
arrays. The values of the intersection grouping must be equal (relative tolerance 1e-12).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.prediction_log import T0, cached_parquet, log_warehouse
from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.fairness import FairnessMetrics

GROUP_METRICS = {
    "selection_rate": selection_rate,
    "accuracy": skm.accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
}
SUMMARIES = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
}
INTERSECTION = "sex & age_band"


def ours(path, tmp) -> tuple[float, dict]:
    w = log_warehouse(tmp, path, sensitive=["sex", "age_band"], intersections=[["sex", "age_band"]])
    ctx = MetricContext(
        w, parse_config("", "mlreport.toml", tmp), [Window(T0, T0 + timedelta(days=31))]
    )
    started = time.perf_counter()
    rows = list(FairnessMetrics().compute(ctx))
    seconds = time.perf_counter() - started
    w.close()
    values = {}
    for r in rows:
        if r["dimensions"]["feature"] != INTERSECTION:
            continue
        metric = r["metric"].removeprefix("fairness.")
        values[(r["dimensions"].get("group"), metric)] = r["value"]
    return seconds, values


def reference(path) -> tuple[float, float, dict]:
    frame = pd.read_parquet(path, columns=["sex", "age_band", "label", "prediction"])
    y_true = frame["label"].to_numpy()
    y_pred = frame["prediction"].to_numpy()
    groups = frame[["sex", "age_band"]].astype(str)
    started = time.perf_counter()
    mf = MetricFrame(metrics=GROUP_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    summaries = {
        name: fn(y_true, y_pred, sensitive_features=groups) for name, fn in SUMMARIES.items()
    }
    seconds = time.perf_counter() - started
    values = {}
    for key, row in mf.by_group.iterrows():
        for metric in GROUP_METRICS:
            values[(" & ".join(key), metric)] = float(row[metric])
    for name, value in summaries.items():
        values[(None, name)] = float(value)
    return seconds, len(frame), values


def compare(mine: dict, ref: dict) -> int:
    for key, value in ref.items():
        got = mine[key]
        if not math.isclose(got, value, rel_tol=1e-12, abs_tol=0):
            raise SystemExit(f"MISMATCH {key}: mlreport {got!r} vs fairlearn {value!r}")
    return len(ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = cached_parquet(args.rows)
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, mine = ours(path, Path(tmp))
            times.append(seconds)
    fast = min(times)
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(f"mlreport fairness family: best {fast:.3f} s of {args.repeat} ({runs})")
    slow, n, ref = reference(path)
    print(f"fairlearn MetricFrame on raw arrays: {slow:.1f} s")
    equal = compare(mine, ref)
    print(f"rows: {n:,}; groups: 8 intersections; values equal (rtol 1e-12): {equal}")
    print(f"ratio: {slow / fast:.0f}x faster (target >= 200x)")


if __name__ == "__main__":
    main()
