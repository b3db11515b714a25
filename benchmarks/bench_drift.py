"""Benchmark: the ``drift`` family against numpy/scipy and Evidently's DataDriftPreset.

    python benchmarks/bench_drift.py [--rows 1000000] [--features 20] [--runs 2]
                                     [--no-evidently]

Data: ``features`` numeric columns, ``rows`` reference rows and ``rows`` current rows (seeded
numpy: normal, rounded normal with ties, lognormal, integers 0-49, and shifted copies in the
current half), in one Parquet log (row groups of 122,880 rows, as DuckDB writes them), cached
under ``$XDG_CACHE_HOME/mlreport``. A warehouse gets the views the ``predictions`` source
creates (``predictions__bench`` and a reference window of it) and its ``prediction_logs`` row.

* mlreport: ``DriftMetrics().compute`` for the current window — psi, ks, ks p-value,
  wasserstein (and missing share, drift.share) for every feature, read through the views from
  the Parquet file.
* numpy/scipy: DESIGN's PSI in numpy, ``scipy.stats.ks_2samp(method="asymp")`` and
  ``scipy.stats.wasserstein_distance`` ÷ reference std, on arrays already in memory (Parquet
  read not timed). Values must equal mlreport's (rtol 1e-9).
* Evidently: ``Report([DataDriftPreset()]).run(current, reference)`` on pandas frames of the
  same data in its own venv (``benchmarks/.venv-evidently``, created if missing: Evidently
  needs pandas < 3); only ``run`` is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.stats as ss

from mlreport.config import parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.plugins.drift.family import DriftMetrics
from mlreport.warehouse import Warehouse

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REF = Window(T0, T0 + timedelta(days=30))
CUR = Window(REF.end, REF.end + timedelta(days=30))
HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-evidently"
EVIDENTLY = """
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
t = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "metrics": len(snapshot.dict()["metrics"])}))
"""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "mlreport"
    path.mkdir(parents=True, exist_ok=True)
    return path


def feature(i: int, n: int, rng: np.random.Generator, shift: float) -> np.ndarray:
    kind = i % 4
    if kind == 0:
        return rng.normal(shift, 1 + 0.1 * (i % 3), n)
    if kind == 1:
        return np.round(rng.normal(shift, 1.0, n), 2)  # ties
    if kind == 2:
        return rng.lognormal(0.2 * shift, 1.0, n)
    return rng.integers(0, 50 + int(10 * shift), n).astype(float)


def generate(rows: int, features: int) -> Path:
    """The log (reference rows then current rows) and its two halves for Evidently."""
    path = cache_dir() / f"drift-bench-{rows}-{features}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(20260401)
    step = np.timedelta64((REF.end - REF.start) // rows)
    ts = np.concatenate(
        [
            np.datetime64(REF.start.replace(tzinfo=None)) + np.arange(rows) * step,
            np.datetime64(CUR.start.replace(tzinfo=None)) + np.arange(rows) * step,
        ]
    ).astype("datetime64[us]")
    cols = {"ts": pa.array(ts, pa.timestamp("us", "UTC"))}
    for i in range(features):
        shift = 0.05 * (i % 5)  # some features drift, some do not
        values = np.concatenate([feature(i, rows, rng, 0.0), feature(i, rows, rng, shift)])
        cols[f"f{i:02d}"] = pa.array(values)
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table(cols), tmp, row_group_size=122_880)
    tmp.rename(path)
    return path


def warehouse(folder: Path, log: Path, names: list[str]) -> Warehouse:
    wh = Warehouse(folder / "bench.duckdb")
    cols = "".join(f', CAST("{f}" AS DOUBLE) AS "{f}"' for f in names)
    select = (
        "SELECT 'bench' AS log, 'model' AS entity, NULL::VARCHAR AS model_version, ts, "
        f"0.0 AS prediction, NULL::DOUBLE AS score, NULL::DOUBLE AS label{cols} "
        f"FROM read_parquet('{log}')"
    )
    wh.con.execute(f"CREATE VIEW predictions__bench AS {select}")
    wh.con.execute(
        f"CREATE VIEW predictions_reference__bench AS {select} "
        f"WHERE ts >= '{REF.start.isoformat()}' AND ts < '{REF.end.isoformat()}'"
    )
    wh.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, reference_view, "
        "reference_kind, reference_since, reference_until, numeric_features, "
        "categorical_features, sensitive_features) VALUES ('bench', 'model', 'regression', "
        "'predictions__bench', 'predictions_reference__bench', 'window', ?, ?, ?, [], [])",
        [REF.start, REF.end, names],
    )
    return wh


def run_mlreport(wh: Warehouse) -> tuple[float, dict[tuple[str, str], float]]:
    ctx = MetricContext(wh, parse_config("", None, Path(".")), [CUR])
    t = time.perf_counter()
    rows = list(DriftMetrics().compute(ctx))
    elapsed = time.perf_counter() - t
    return elapsed, {(r["metric"], r["dimensions"].get("feature", "")): r["value"] for r in rows}


def load_arrays(log: Path, names: list[str], rows: int) -> dict[str, tuple[np.ndarray, ...]]:
    table = pq.read_table(log, columns=names)
    return {f: (table[f].to_numpy()[:rows], table[f].to_numpy()[rows:]) for f in names}


def psi_numpy(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    bins = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=bins) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=bins) / len(cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def run_numpy(arrays: dict) -> tuple[float, dict[tuple[str, str], float]]:
    out = {}
    t = time.perf_counter()
    for f, (a, b) in arrays.items():
        out["drift.psi", f] = psi_numpy(a, b)
        ks = ss.ks_2samp(a, b, method="asymp")
        out["drift.ks", f], out["drift.ks_pvalue", f] = float(ks.statistic), float(ks.pvalue)
        dist, std = float(ss.wasserstein_distance(a, b)), float(np.std(a))
        out["drift.wasserstein", f] = dist if np.ptp(a) == 0 or std == 0 else dist / std
    return time.perf_counter() - t, out


def compare(got: dict, want: dict) -> float:
    """The largest relative difference; raises if a value is off by more than 1e-9."""
    worst = 0.0
    for key, w in want.items():
        g = got[key]
        rel = abs(g - w) / max(abs(w), 1e-300) if w != 0 else abs(g)
        if rel > 1e-9 and abs(g - w) > 1e-15:
            raise SystemExit(f"value differs: {key}: mlreport {g!r}, numpy/scipy {w!r}")
        worst = max(worst, rel)
    return worst


def run_evidently(log: Path, names: list[str], rows: int, folder: Path) -> float:
    if not (VENV / "bin" / "python").exists():
        print(f"creating {VENV} (evidently, pandas<3) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q", "evidently", "pandas<3", "pyarrow"]
        subprocess.run(pip, check=True)
    con = duckdb.connect()
    cols = ", ".join(f'"{f}"' for f in names)
    for name, cond in (("ref", f"ts < '{CUR.start.isoformat()}'"), ("cur", "true")):
        where = cond if name == "ref" else f"ts >= '{CUR.start.isoformat()}'"
        con.execute(
            f"COPY (SELECT {cols} FROM read_parquet('{log}') WHERE {where} ORDER BY ts) "
            f"TO '{folder / name}.parquet'"
        )
    con.close()
    out = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-c",
            EVIDENTLY,
            str(folder / "ref.parquet"),
            str(folder / "cur.parquet"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--runs", type=int, default=2, help="mlreport and numpy repetitions")
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args()
    names = [f"f{i:02d}" for i in range(args.features)]
    log = generate(args.rows, args.features)
    print(
        f"data: {args.features} numeric features, {args.rows:,} reference rows vs "
        f"{args.rows:,} current rows ({log.stat().st_size / 1e6:.0f} MB Parquet)"
    )
    arrays = load_arrays(log, names, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        wh = warehouse(Path(tmp), log, names)
        ours, ref = [], []
        for _ in range(args.runs):
            t_ours, got = run_mlreport(wh)
            t_ref, want = run_numpy(arrays)
            ours.append(t_ours)
            ref.append(t_ref)
            worst = compare(got, want)
        wh.close()
        best_ours, best_ref = min(ours), min(ref)
        print(
            f"mlreport drift:      {', '.join(f'{t:.2f}' for t in ours)} s (best {best_ours:.2f})"
        )
        print(f"numpy/scipy:         {', '.join(f'{t:.2f}' for t in ref)} s (best {best_ref:.2f})")
        print(f"values equal (largest relative difference {worst:.1e})")
        print(f"numpy/scipy / mlreport: {best_ref / best_ours:.1f}x")
        if not args.no_evidently:
            t_ev = run_evidently(log, names, args.rows, Path(tmp))
            print(f"Evidently DataDriftPreset: {t_ev:.2f} s")
            print(f"Evidently / mlreport: {t_ev / best_ours:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
