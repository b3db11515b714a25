"""Generated prediction logs for the benchmarks, and a warehouse whose view reads one."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from mlreport.warehouse import Warehouse

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 20261127


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlreport"
    base.mkdir(parents=True, exist_ok=True)
    return base


def cached_parquet(rows: int) -> Path:
    """``rows`` predictions over 30 days: sex (2 groups), age_band (4), label, prediction as
    small integers, and score. Group membership shifts the label and selection rates.
    Written by DuckDB in one pass, deterministic for a given ``rows`` (seeded per row)."""
    path = cache_dir() / f"predictions-{rows}-v3.parquet"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""
        COPY (
          WITH r AS (
            SELECT i,
                   hash(i, {SEED}) AS h,
                   (hash(i, {SEED} + 1) % 1000000) / 1000000.0 AS u1,
                   (hash(i, {SEED} + 2) % 1000000) / 1000000.0 AS u2
            FROM range({rows}) t(i)
          ), g AS (
            SELECT i, u1, u2, CAST(h % 2 AS UTINYINT) AS sex, CAST((h // 2) % 4 AS UTINYINT) AS age
            FROM r
          )
          SELECT TIMESTAMPTZ '{T0.isoformat()}' + to_microseconds(
                   CAST(i * (30 * 86400000000 // {rows}) AS BIGINT)) AS ts,
                 sex,
                 age AS age_band,
                 CAST(u1 < 0.30 + 0.05 * age AS UTINYINT) AS label,
                 0.2 + 0.3 * (u1 < 0.30 + 0.05 * age)::INTEGER + 0.45 * u2 - 0.04 * age
                   AS score,
                 CAST(0.2 + 0.3 * (u1 < 0.30 + 0.05 * age)::INTEGER + 0.45 * u2 - 0.04 * age
                      >= 0.5 AS UTINYINT) AS prediction
          FROM g ORDER BY i
        ) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    con.close()
    tmp.replace(path)
    return path


def log_warehouse(
    tmp: Path,
    parquet: Path,
    sensitive: list[str],
    intersections: list[list[str]] = (),
    numeric: list[str] = (),
) -> Warehouse:
    """A warehouse with log ``bench`` whose view reads ``parquet`` in the shape the
    ``predictions`` source defines (canonical columns, features by name, nothing copied)."""
    w = Warehouse(tmp / "bench.duckdb")
    feats = "".join(f', "{f}"' for f in [*numeric, *sensitive])
    w.con.execute(
        "CREATE OR REPLACE VIEW predictions__bench AS SELECT 'bench' AS log, "
        "'bench-model' AS entity, NULL::VARCHAR AS model_version, ts, "
        "CAST(prediction AS DOUBLE) AS prediction, CAST(score AS DOUBLE) AS score, "
        f"CAST(label AS DOUBLE) AS label{feats} FROM read_parquet('{parquet}')"
    )
    w.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, numeric_features, "
        "categorical_features, sensitive_features, intersections) VALUES "
        "('bench', 'bench-model', 'classification', 'predictions__bench', ?, [], ?, ?)",
        [list(numeric), list(sensitive), json.dumps([list(i) for i in intersections])],
    )
    return w
