"""Prediction logs written by hand into a real warehouse (the view contract's columns plus
``label_ts``), and the same raw rows measured by pandas and numpy for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.monitoring import MonitoringMetrics
from mlreport.warehouse import Warehouse, registered

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
TIME = pl.Datetime("us", "UTC")
SCHEMA = {"ts": TIME, "prediction": pl.Float64, "label": pl.Float64, "label_ts": TIME}


def day(d: float) -> datetime:
    """``T0`` plus ``d`` days, to the microsecond (what the warehouse stores)."""
    return T0 + timedelta(microseconds=round(d * 86_400_000_000))


def add_log(
    wh: Warehouse,
    name: str,
    rows: Sequence[dict[str, Any]],
    entity: str = "model-a",
    label_time: bool = True,
) -> None:
    """A table of raw rows, the ``predictions__<name>`` view over it (with ``label_ts`` only
    when ``label_time``), and the log's ``prediction_logs`` row."""
    table, view = f"raw__{name}", f"predictions__{name}"
    frame = pl.DataFrame([{k: r.get(k) for k in SCHEMA} for r in rows], schema=SCHEMA)
    with registered(wh.con, frame) as src:
        wh.con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {src}')
    extra = ", label_ts" if label_time else ""
    wh.con.execute(
        f"CREATE VIEW \"{view}\" AS SELECT '{name}' AS log, '{entity}' AS entity, "
        "NULL::VARCHAR AS model_version, ts, prediction, NULL::DOUBLE AS score, label"
        f'{extra} FROM "{table}"'
    )
    wh.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, row_count) "
        "VALUES (?, ?, 'classification', ?, ?)",
        [name, entity, view, len(rows)],
    )


def compute(wh: Warehouse, windows: list[Window]) -> list[dict[str, Any]]:
    ctx = MetricContext(wh, parse_config("", None, Path(".")), windows)
    return list(MonitoringMetrics().compute(ctx))


def values(rows, entity: str = "model-a") -> dict[tuple, tuple[float | None, int | None]]:
    """(metric short name, stat or None, window start, window end) -> (value, n)."""
    out = {}
    for r in rows:
        if r["entity"] != entity:
            continue
        key = (
            r["metric"].removeprefix("monitoring."),
            r["dimensions"].get("stat"),
            r["window_start"],
            r["window_end"],
        )
        assert key not in out, key
        out[key] = (r["value"], r["n"])
    return out


# -- the reference: pandas and numpy on the raw rows ---------------------------------------


def reference(rows: Sequence[dict[str, Any]], window: Window, label_time: bool = True) -> dict:
    """metric (or (metric, stat)) -> (value, n) for one window, from the raw rows."""
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime([r.get("ts") for r in rows], utc=True),
            "label": pd.array([r.get("label") for r in rows], dtype="Float64"),
            "label_ts": pd.to_datetime([r.get("label_ts") for r in rows], utc=True),
        }
    )
    frame["label"] = frame["label"].astype("float64")  # NaN and None both missing
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    timed = frame[frame["ts"].notna()]
    inside = timed[(timed["ts"] >= start) & (timed["ts"] < end)]
    days = pd.date_range(start.floor("D"), (end - pd.Timedelta(microseconds=1)).floor("D"))
    logged = set(inside["ts"].dt.floor("D"))
    has = np.array([d in logged for d in days])
    gaps = np.diff(np.flatnonzero(np.concatenate([[True], has, [True]]))) - 1
    n = len(inside)
    out: dict[Any, tuple[float | None, int | None]] = {
        "log_days": (float(has.sum()), n),
        "window_days": (float(len(days)), n),
        "coverage": (has.sum() / len(days), n),
        "longest_gap_days": (float(gaps.max()), n),
    }
    if n:
        out["labelled_share"] = (inside["label"].notna().sum() / n, n)
    before = timed[timed["ts"] < end]
    if len(before):
        age = (end - before["ts"].min()) / pd.Timedelta(days=1)
        out["oldest_row_age_days"] = (age, len(before))
    lagged = inside[inside["label"].notna() & inside["label_ts"].notna()]
    if label_time and len(lagged):
        us = (lagged["label_ts"] - lagged["ts"]).to_numpy().astype("timedelta64[us]")
        hours = us.astype(np.int64) / 3_600_000_000
        p50, p95 = np.quantile(hours, [0.5, 0.95])
        out[("label_lag_hours", "p50")] = (float(p50), len(hours))
        out[("label_lag_hours", "p95")] = (float(p95), len(hours))
        out[("label_lag_hours", "max")] = (float(hours.max()), len(hours))
    return out


def expected(rows, windows: Sequence[Window], label_time: bool = True) -> dict:
    """The reference in the shape of :func:`values`."""
    out = {}
    for w in windows:
        for key, v in reference(rows, w, label_time).items():
            metric, stat = key if isinstance(key, tuple) else (key, None)
            out[(metric, stat, w.start, w.end)] = v
    return out


def assert_equal(found: dict, wanted: dict, rtol: float = 0.0) -> None:
    """Same keys; same n; values equal (or within ``rtol`` for the oldest-row age, a
    difference of times divided by a day, computed by two libraries)."""
    assert set(found) == set(wanted), set(found) ^ set(wanted)
    for key, (value, n) in wanted.items():
        got, got_n = found[key]
        assert got_n == n, (key, got_n, n)
        tol = max(rtol, 1e-12 if key[0] == "oldest_row_age_days" else 0.0)
        assert np.isclose(got, value, rtol=tol, atol=0.0), (key, got, value)
