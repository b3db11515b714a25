"""A warehouse with one prediction log as the ``predictions`` source leaves it: a Parquet
file, ``predictions__S`` / ``predictions_reference__S`` views and a ``prediction_logs`` row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.drift.family import DriftMetrics
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REF = Window(T0, T0 + timedelta(days=10))  # the reference window of the same log
CUR = Window(T0 + timedelta(days=10), T0 + timedelta(days=20))


def write_log(
    path: Path,
    ref: dict[str, list[Any]],
    cur: dict[str, list[Any]],
    *,
    name: str = "credit",
    entity: str = "credit-risk",
    numeric: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    reference: bool = True,
) -> Warehouse:
    """Reference rows fall in REF, current rows in CUR; features typed as the view casts them."""
    parquet = path.parent / f"{name}.parquet"
    columns = {"ts": _times(REF, _len(ref)) + _times(CUR, _len(cur))}
    for f in (*numeric, *categorical):
        columns[f] = list(ref[f]) + list(cur[f])
    types = {f: pa.float64() for f in numeric} | {f: pa.string() for f in categorical}
    schema = pa.schema([("ts", pa.timestamp("us", "UTC"))] + list(types.items()))
    pq.write_table(pa.table(columns, schema=schema), parquet)
    wh = Warehouse(path)
    feats = "".join(
        f", CAST({quote_identifier(f)} AS DOUBLE) AS {quote_identifier(f)}" for f in numeric
    )
    feats += "".join(
        f", CAST({quote_identifier(f)} AS VARCHAR) AS {quote_identifier(f)}" for f in categorical
    )
    select = (
        f"SELECT '{name}' AS log, '{entity}' AS entity, NULL::VARCHAR AS model_version, ts, "
        f"0.0 AS prediction, NULL::DOUBLE AS score, NULL::DOUBLE AS label{feats} "
        f"FROM read_parquet('{parquet}')"
    )
    view, ref_view = f"predictions__{name}", f"predictions_reference__{name}"
    wh.con.execute(f'CREATE VIEW "{view}" AS {select}')
    if reference:
        wh.con.execute(
            f"CREATE VIEW \"{ref_view}\" AS {select} WHERE ts >= '{REF.start.isoformat()}' "
            f"AND ts < '{REF.end.isoformat()}'"
        )
    wh.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, reference_view, "
        "reference_kind, reference_since, reference_until, numeric_features, "
        "categorical_features, sensitive_features) VALUES (?, ?, 'regression', ?, ?, ?, ?, ?, "
        "?, ?, [])",
        [
            name,
            entity,
            view,
            ref_view if reference else None,
            "window" if reference else None,
            REF.start if reference else None,
            REF.end if reference else None,
            list(numeric),
            list(categorical),
        ],
    )
    return wh


def _len(side: dict[str, list[Any]]) -> int:
    return len(next(iter(side.values()))) if side else 0


def _times(window: Window, n: int) -> list[datetime]:
    """n distinct times spread over the window (never at its end)."""
    step = (window.end - window.start) / (n + 1)
    return [window.start + step * (i + 1) for i in range(n)]


def compute(wh: Warehouse, windows: list[Window], policies: str = "") -> list[dict[str, Any]]:
    config = parse_config(policies, None, Path("."))
    return list(DriftMetrics().compute(MetricContext(wh, config, windows)))


def pick(rows: list[dict[str, Any]], metric: str, feature: str | None = None) -> dict[str, Any]:
    dims = {"feature": feature} if feature else {}
    found = [r for r in rows if r["metric"] == metric and r["dimensions"] == dims]
    assert len(found) == 1, (metric, feature, found)
    return found[0]


def with_missing(values: np.ndarray, rng: np.random.Generator, share: float) -> list:
    """Values with NULL, NaN and ±inf mixed in at about ``share``."""
    out: list = values.tolist()
    for i in np.flatnonzero(rng.random(len(out)) < share):
        out[i] = [None, float("nan"), float("inf"), float("-inf")][i % 4]
    return out
