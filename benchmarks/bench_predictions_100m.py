"""Benchmark: fairness and the threshold metrics over a 100,000,000-row Parquet log, against
the floor of a bare DuckDB ``GROUP BY … count(*)`` over the same file and columns.

    python benchmarks/bench_predictions_100m.py [--rows 100000000] [--repeat 3] [--auc]

The log (``benchmarks/prediction_log.py``): ts, sex (2 values), age_band (4), label and
prediction as small integers, and a score. It is synced by the real ``predictions`` source,
so the measured path reads it through the view the source defines (explicit file list,
canonical casts), as ``mlreport metrics`` would.

- floor: ``SELECT sex, age_band, label, prediction, count(*) FROM read_parquet(f) GROUP BY ALL``
- mlreport: the ``fairness`` family (sex, age_band and their intersection: seven group metrics
  and five summaries each) plus accuracy, precision, recall and f1 from the ``performance``
  core, one window over the whole log. Both read the one scan they share in a metrics run
  (``plugins/prediction_counts.py``), as ``compute_metrics`` does.
- ``--auc``: also the time of exact roc_auc (the performance core's score statistics).

Each side runs in its own process, so its peak RSS (``ru_maxrss``) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def floor(path: str, repeat: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con.sql(
            "SELECT sex, age_band, label, prediction, count(*) "
            f"FROM read_parquet('{path}') GROUP BY ALL"
        ).fetchall()
        times.append(time.perf_counter() - started)
    return {"times": times}


def ours(path: str, repeat: int, auc: bool) -> dict:
    from benchmarks.prediction_log import T0
    from mlreport.config import parse_config
    from mlreport.connectors.predictions.source import PredictionsSource
    from mlreport.metrics import MetricContext, Window
    from mlreport.plugins import performance_sql as ps
    from mlreport.plugins.fairness import FairnessMetrics
    from mlreport.plugins.prediction_counts import label_counts
    from mlreport.prediction_logs import prediction_logs
    from mlreport.sources import build_source, sync_source
    from mlreport.warehouse import Warehouse

    assert PredictionsSource
    tmp = Path(tempfile.mkdtemp())
    config = parse_config(
        f"""
[[sources]]
name = "bench"
type = "predictions"
path = "{path}"
entity = "bench-model"
[sources.columns]
timestamp = "ts"
prediction = "prediction"
label = "label"
score = "score"
[sources.features]
sensitive = ["sex", "age_band"]
intersections = [["sex", "age_band"]]
""",
        "mlreport.toml",
        tmp,
    )
    w = Warehouse(tmp / "w.duckdb")
    w.con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    sync_source(w, build_source(config.sources[0], config, 0))
    sync_seconds = time.perf_counter() - started
    window = Window(T0, T0 + timedelta(days=31))
    (log,) = prediction_logs(w)
    times, values = [], {}
    for _ in range(repeat):
        ctx = MetricContext(w, config, [window])  # a fresh context: nothing cached
        started = time.perf_counter()
        fairness = list(FairnessMetrics().compute(ctx))
        counts = ps.counts_from_rows(label_counts(ctx, log, [window]))
        threshold = ps.threshold_metrics(counts[(0, ps.ALL)])
        times.append(time.perf_counter() - started)
    values = {"threshold": threshold, "fairness_rows": len(fairness)}
    out = {"times": times, "sync": sync_seconds, "values": values}
    if auc:
        started = time.perf_counter()
        stats = ps.score_stats(w.con, log.window(window), [window], False, log.log)
        out["auc_seconds"] = time.perf_counter() - started
        out["roc_auc"] = ps.score_metrics(stats[(0, ps.ALL)])["roc_auc"]
    return out


def child(side: str, path: str, repeat: int, auc: bool) -> None:
    result = floor(path, repeat) if side == "floor" else ours(path, repeat, auc)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str))


def run(side: str, path: Path, repeat: int, auc: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--path", str(path), "--repeat", str(repeat)]
    if auc:
        cmd.append("--auc")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--auc", action="store_true")
    parser.add_argument("--child", choices=["floor", "ours"])
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.repeat, args.auc)
        return
    from benchmarks.prediction_log import cached_parquet

    path = cached_parquet(args.rows)
    size = path.stat().st_size / 1e6
    base = run("floor", path, args.repeat, False)
    mine = run("ours", path, args.repeat, args.auc)
    fast, slow = min(mine["times"]), min(base["times"])
    print(f"log: {args.rows:,} rows, {size:.0f} MB Parquet ({path.name})")
    print(
        f"floor GROUP BY count(*): best {slow:.3f} s {fmt(base['times'])}, "
        f"peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"mlreport fairness + threshold metrics: best {fast:.3f} s {fmt(mine['times'])}, "
        f"peak RSS {mine['peak_rss_mb']:.0f} MB (sync {mine['sync']:.1f} s)"
    )
    print(f"ratio: {fast / slow:.2f}x the floor (target <= 3x, peak RSS < 1024 MB)")
    print(f"threshold metrics: {mine['values']['threshold']}")
    if args.auc:
        print(f"exact roc_auc: {mine['roc_auc']} in {mine['auc_seconds']:.1f} s")


def fmt(times: list[float]) -> str:
    return "(" + ", ".join(f"{t:.3f}" for t in times) + ")"


if __name__ == "__main__":
    main()
