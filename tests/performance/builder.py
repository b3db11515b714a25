"""Prediction logs written by hand into a real warehouse, in the shape of the view contract,
and the same raw rows measured by scikit-learn for comparison."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sklearn.metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.performance import PerformanceMetrics
from mlreport.warehouse import Warehouse, registered

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
SCHEMA = {
    "model_version": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "prediction": pl.Float64,
    "score": pl.Float64,
    "label": pl.Float64,
}


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


def add_log(
    wh: Warehouse,
    name: str,
    rows: Sequence[dict[str, Any]],
    task: str = "classification",
    reference: Sequence[dict[str, Any]] | None = None,
    entity: str = "model-a",
) -> None:
    """A table of raw rows, the ``predictions__<name>`` view over it, and the log's row."""
    view, ref_view = f"predictions__{name}", None
    _table_and_view(wh, f"raw__{name}", view, name, entity, rows)
    if reference is not None:
        ref_view = f"predictions_reference__{name}"
        _table_and_view(wh, f"rawref__{name}", ref_view, name, entity, reference)
    wh.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, reference_view, "
        "reference_kind, row_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [name, entity, task, view, ref_view, "files" if ref_view else None, len(rows)],
    )


def _table_and_view(wh, table, view, name, entity, rows) -> None:
    frame = pl.DataFrame(list(rows), schema=SCHEMA)
    with registered(wh.con, frame) as src:
        wh.con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {src}')
    wh.con.execute(
        f'CREATE VIEW "{view}" AS SELECT ? AS log, ? AS entity, model_version, ts, '
        f'prediction, score, label FROM "{table}"'.replace("?", "'{}'").format(name, entity)
    )


def compute(wh: Warehouse, windows: list[Window]) -> list[dict[str, Any]]:
    ctx = MetricContext(wh, parse_config("", None, Path(".")), windows)
    return list(PerformanceMetrics().compute(ctx))


def pick(rows, name: str, window: Window | None = None, /, **dims) -> dict[str, Any] | None:
    """The one row of ``metric`` with exactly ``dims`` (and ``window`` if given), or None."""
    found = [
        r
        for r in rows
        if r["metric"] == f"performance.{name}"
        and r["dimensions"] == dims
        and (window is None or (r["window_start"], r["window_end"]) == (window.start, window.end))
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def generated(n: int, seed: int, versions=("v1", "v2"), days: float = 28) -> list[dict]:
    """Classification rows: scores rounded so ties occur, some labels late, a few NaN scores."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = float(rng.random() < 0.4)
        score = min(1.0, max(0.0, rng.gauss(0.35 + 0.3 * label, 0.2)))
        score = round(score, rng.choice([2, 3, 12]))
        rows.append(
            {
                "model_version": rng.choice(versions),
                "ts": day(rng.random() * days),
                "prediction": float(score >= 0.5),
                "score": score,
                "label": None if rng.random() < 0.1 else label,
            }
        )
    return rows


def generated_regression(n: int, seed: int, versions=("v1", "v2"), days: float = 28) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice([0.0, rng.gauss(50, 20), rng.uniform(-5, 5)])
        rows.append(
            {
                "model_version": rng.choice(versions),
                "ts": day(rng.random() * days),
                "prediction": label + rng.gauss(0, 3),
                "score": None,
                "label": None if rng.random() < 0.1 else label,
            }
        )
    return rows


# -- the reference: scikit-learn on the raw rows -----------------------------------------


def _labelled(rows):
    return [r for r in rows if r["label"] is not None and not math.isnan(r["label"])]


def classification_reference(rows) -> dict[str, tuple[float | None, int]]:
    """metric -> (value, n) by scikit-learn over the raw rows, with the family's row rules."""
    out: dict[str, tuple[float | None, int]] = {}
    labelled = _labelled(rows)
    if not rows:
        return out
    out["labelled_share"] = (len(labelled) / len(rows), len(rows))
    used = [r for r in labelled if r["prediction"] is not None and not math.isnan(r["prediction"])]
    out["excluded_rows"] = (float(len(labelled) - len(used)), len(labelled))
    if used:
        y = np.array([r["label"] for r in used])
        p = np.array([r["prediction"] for r in used])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            out["accuracy"] = (skm.accuracy_score(y, p), len(used))
            out["precision"] = (skm.precision_score(y, p), len(used))
            out["recall"] = (skm.recall_score(y, p), len(used))
            out["f1"] = (skm.f1_score(y, p), len(used))
    if not labelled:
        return out
    scored = [r for r in labelled if r["score"] is not None and 0 <= r["score"] <= 1]
    bad = [r for r in labelled if r["score"] is not None and not 0 <= r["score"] <= 1]
    out["excluded_scores"] = (float(len(bad)), len(labelled))
    if scored:
        y = np.array([r["label"] for r in scored])
        s = np.array([r["score"] for r in scored])
        auc = skm.roc_auc_score(y, s) if len(set(y)) == 2 else None
        out["roc_auc"] = (auc, len(scored))
        out["log_loss"] = (skm.log_loss(y, s, labels=[0, 1]), len(scored))
        out["brier"] = (skm.brier_score_loss(y, s), len(scored))
    return out


def regression_reference(rows) -> dict[str, tuple[float | None, int]]:
    out: dict[str, tuple[float | None, int]] = {}
    if not rows:
        return out
    labelled = _labelled(rows)
    out["labelled_share"] = (len(labelled) / len(rows), len(rows))
    used = [
        r
        for r in labelled
        if r["prediction"] is not None
        and math.isfinite(r["prediction"])
        and math.isfinite(r["label"])
    ]
    out["excluded_rows"] = (float(len(labelled) - len(used)), len(labelled))
    if used:
        y = np.array([r["label"] for r in used])
        p = np.array([r["prediction"] for r in used])
        n = len(used)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            r2 = skm.r2_score(y, p)
        out["mae"] = (skm.mean_absolute_error(y, p), n)
        out["rmse"] = (skm.root_mean_squared_error(y, p), n)
        out["r2"] = (None if math.isnan(r2) else r2, n)
        out["mape"] = (skm.mean_absolute_percentage_error(y, p), n)
    return out


def close(a: float | None, b: float | None, rtol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300) or (a == b)


def assert_window(out, rows, window: Window, task: str = "classification", **dims) -> None:
    """Every value the family reports for (window, dims) equals the raw-row reference, and it
    reports nothing the reference lacks (degradation rows aside)."""
    inside = [r for r in rows if window.start <= r["ts"] < window.end]
    if "model_version" in dims:
        v = dims["model_version"]
        inside = [r for r in inside if (r["model_version"] or "(missing)") == v]
    ref = (regression_reference if task == "regression" else classification_reference)(inside)
    got = {
        r["metric"].removeprefix("performance."): (r["value"], r["n"])
        for r in out
        if r["dimensions"] == dims
        and (r["window_start"], r["window_end"]) == (window.start, window.end)
    }
    assert set(got) == set(ref), (window, dims, sorted(got), sorted(ref))
    for metric, (value, n) in ref.items():
        assert got[metric][1] == n, (metric, dims, got[metric], n)
        assert close(got[metric][0], value), (metric, window, dims, got[metric][0], value)
