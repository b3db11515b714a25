"""The `mlflow` source against a real `mlflow server`: full sync vs `mlflow.search_runs`.

One run of this script:

1. builds (or reuses, from ``~/.cache/mlreport/``) an MLflow sqlite store of ``--runs`` runs ×
   20 params × 10 metrics (× ``--steps`` points each) in two experiments, ``bench-small``
   (``--small`` runs) and ``bench-rest``;
2. starts ``mlflow server`` on a copy of it (free loopback port, background jobs off,
   ``--server-workers``, by default mlflow's own default of 4);
3. times, in the same server, a full sync of the ``mlflow`` source into a fresh DuckDB
   warehouse and paging through the same runs with ``mlflow.search_runs`` (pandas, every page)
   and ``MlflowClient.search_runs`` (50,000 per page), ``--repeat`` times in alternating order;
4. measures the peak RSS of a full sync of ``--small`` and of all runs, each in a fresh
   subprocess that imports mlreport only (``ru_maxrss``).

Seeding is not timed. The store is written by the real MLflow client (``log_batch``) for one
template run, which fixes the schema, tags and value types; the other runs are copied from it
with sqlite ``executemany`` (different ids, names, times, params and metric values): the
client's ``create_run`` + ``log_batch`` costs ~100 ms per run on this machine (15+ minutes for
10,000 runs), the copy a few seconds.

    python benchmarks/bench_mlflow.py [--runs 10000] [--small 1000] [--steps 1]
        [--page-size N] [--server-workers 4] [--repeat 2] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CACHE = Path.home() / ".cache" / "mlreport"
SEED_VERSION = 1
PARAMS = 20
METRICS = 10
T0 = 1_700_000_000_000  # epoch ms of the first run
TIMEOUT = 300  # seconds per request: a 10,000-run page takes 35-60 s on a loaded 2-core box
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


# -- seeding (not timed) ------------------------------------------------------------------------


def store_path(runs: int, small: int, steps: int) -> Path:
    return CACHE / f"mlflow-bench-v{SEED_VERSION}-{runs}r-{small}s-{steps}p.db"


def seed_store(path: Path, runs: int, small: int, steps: int) -> None:
    """Write the store to a temp file (tmpfs if there is one), then move it into the cache."""
    shm = Path("/dev/shm")
    tmp_dir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None, prefix="mlflow-seed-"))
    db = tmp_dir / "mlflow.db"
    started = time.perf_counter()
    try:
        experiments, template = _template_run(db, steps)
        _copy_runs(db, experiments, template, runs, small, steps)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(db, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    print(f"seeded {path} in {time.perf_counter() - started:.1f} s")


def _template_run(db: Path, steps: int) -> tuple[list[str], str]:
    """Two experiments and one run written by the real MLflow client (log_batch)."""
    os.environ.update(QUIET)
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiments = [client.create_experiment(n) for n in ("bench-small", "bench-rest")]
    run = client.create_run(experiments[0], start_time=T0, run_name="template")
    run_id = run.info.run_id
    points = [(k, s) for k in range(METRICS) for s in range(steps)]
    metrics = [Metric(f"metric_{k}", 0.5 + k, T0 + s * 1000, s) for k, s in points]
    params = [Param(f"param_{k}", f"value-{k}") for k in range(PARAMS)]
    tags = [RunTag("mlflow.source.git.commit", "0" * 40), RunTag("team", "bench")]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    client.set_terminated(run_id, end_time=T0 + 60_000)
    return experiments, run_id


def _copy_runs(
    db: Path, experiments: list[str], template: str, runs: int, small: int, steps: int
) -> None:
    """Replace the template by ``runs`` copies with their own ids, names, times and values."""
    rng = random.Random(7)
    con = sqlite3.connect(db)
    with con:
        run_cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        base = dict(zip(run_cols, con.execute("SELECT * FROM runs").fetchone(), strict=True))
        tags = con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", [template]).fetchall()
        for table in ("metrics", "latest_metrics", "params", "tags", "runs"):
            con.execute(f"DELETE FROM {table} WHERE run_uuid = ?", [template])
        run_rows, param_rows, tag_rows, metric_rows, latest_rows = [], [], [], [], []
        for i in range(runs):
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            start = T0 + i * 60_000
            row = dict(
                base,
                run_uuid=run_id,
                name=f"run-{i:05d}",
                start_time=start,
                end_time=start + 30_000,
                experiment_id=int(experiments[0 if i < small else 1]),
                artifact_uri=base["artifact_uri"].replace(template, run_id),
            )
            run_rows.append(tuple(row[c] for c in run_cols))
            param_rows += [(f"param_{k}", f"v{i % 97}-{k}", run_id) for k in range(PARAMS)]
            sha = f"{rng.getrandbits(160):040x}"
            values = {"mlflow.runName": f"run-{i:05d}", "mlflow.source.git.commit": sha}
            tag_rows += [(key, values.get(key, value), run_id) for key, value in tags]
            for k in range(METRICS):
                for s in range(steps):
                    value = rng.random()
                    metric_rows.append((f"metric_{k}", value, start + s * 1000, run_id, s, 0))
                latest_rows.append((f"metric_{k}", value, start + (steps - 1) * 1000,
                                    steps - 1, 0, run_id))  # fmt: skip
        marks = ", ".join("?" * len(run_cols))
        con.executemany(f"INSERT INTO runs ({', '.join(run_cols)}) VALUES ({marks})", run_rows)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", param_rows)
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tag_rows)
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            metric_rows,
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            latest_rows,
        )
    con.execute("VACUUM")
    con.close()


def ensure_store(runs: int, small: int, steps: int) -> Path:
    path = store_path(runs, small, steps)
    if path.is_file():
        print(f"store: {path} (cached; delete it to seed again)")
    else:
        seed_store(path, runs, small, steps)
    return path


# -- the server's CPU time (its processes are our descendants) ---------------------------------


def server_cpu_seconds() -> float:
    """user + system CPU seconds of every live descendant of this process (the server)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - mine
        mine |= frontier
    return sum(times[p] for p in mine)


# -- mlreport: a full sync --------------------------------------------------------------------


def config_text(url: str, experiments: list[str] | None, page_size: int | None) -> str:
    """The source's config: ``url`` is the server, or (offline) the sqlite file itself."""
    lines = ["[[sources]]", 'name = "mlflow"', 'type = "mlflow"']
    if url.startswith("http"):
        lines += [f'tracking_uri = "{url}"', f"timeout = {TIMEOUT}"]
    else:
        lines.append(f"store = {json.dumps(url)}")
    if experiments:
        lines.append(f"experiments = {json.dumps(experiments)}")
    if page_size:
        lines.append(f"page_size = {page_size}")
    return "\n".join(lines) + "\n"


def full_sync(url: str, experiments: list[str] | None, page_size: int | None) -> dict:
    """A full sync into a fresh warehouse: seconds, requests and rows per table."""
    from mlreport.config import parse_config
    from mlreport.sources import build_source, sync_source
    from mlreport.warehouse import Warehouse

    work = Path(tempfile.mkdtemp(prefix="mlreport-bench-mlflow-"))
    try:
        path = work / "mlreport.toml"
        path.write_text(config_text(url, experiments, page_size), encoding="utf-8")
        config = parse_config(path.read_text(encoding="utf-8"), path, work)
        with Warehouse(work / "warehouse.duckdb") as wh:
            source = build_source(config.sources[0], config, 0)
            cpu0, baseline = time.process_time(), _maxrss_kb()
            reset = _reset_peak()
            before = _status_kb("VmRSS")
            started = time.perf_counter()
            stats = sync_source(wh, source)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            rows = {
                t: wh.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("experiments", "runs", "run_metrics")
            }
            shape = wh.con.execute(
                "SELECT sum(json_array_length(json_keys(params::JSON))) FROM runs"
            ).fetchone()[0]
            keys = wh.con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT run_id, key FROM run_metrics)"
            ).fetchone()[0]
        return {
            "seconds": seconds,
            "cpu": cpu,
            "requests": stats.reads.get("requests", 0),
            "rows": rows,
            "params": shape,
            "metric_keys": keys,
            "baseline_kb": baseline,
            "maxrss_kb": _maxrss_kb(),
            "rss_before_kb": before,
            "sync_peak_kb": _status_kb("VmHWM") if reset else None,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _status_kb(field: str) -> int | None:
    """VmRSS / VmHWM of this process from /proc (Linux), in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM (Linux: clear_refs 5) so the sync's own peak is seen apart from imports:
    ru_maxrss keeps the import-time peak (plugins load pandas, scipy, sklearn)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def sync_in_child(url: str, experiments: list[str] | None, page_size: int | None) -> dict:
    """A full sync in a fresh interpreter (imports mlreport only), for its peak RSS."""
    cmd = [sys.executable, __file__, "--child-sync", url]
    if experiments:
        cmd += ["--experiments", ",".join(experiments)]
    if page_size:
        cmd += ["--page-size", str(page_size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- mlflow: paging through the same runs ------------------------------------------------------


class RequestCounter:
    """Counts the HTTP requests the mlflow client sends (wraps rest_utils.http_request)."""

    def __init__(self) -> None:
        from mlflow.utils import rest_utils

        self.n = 0
        original = rest_utils.http_request

        def counted(*args, **kwargs):
            self.n += 1
            return original(*args, **kwargs)

        rest_utils.http_request = counted


def mlflow_pandas(url: str, experiment_ids: list[str], counter: RequestCounter) -> dict:
    """``mlflow.search_runs``: every page (10,000 runs each, mlflow's pandas page), a DataFrame."""
    import mlflow
    from mlflow.entities import ViewType

    mlflow.set_tracking_uri(url)
    before = counter.n
    started = time.perf_counter()
    frame = mlflow.search_runs(
        experiment_ids=experiment_ids, run_view_type=ViewType.ALL, max_results=None
    )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": counter.n - before, "runs": len(frame),
            "columns": frame.shape[1]}  # fmt: skip


def mlflow_client(url: str, experiment_ids: list[str], counter: RequestCounter) -> dict:
    """``MlflowClient.search_runs``: pages of 50,000 (the server's maximum), Run objects."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=url)
    before = counter.n
    started = time.perf_counter()
    runs, token = [], None
    while True:
        page = client.search_runs(
            experiment_ids, run_view_type=ViewType.ALL, max_results=50_000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": counter.n - before, "runs": len(runs)}


# -- the run ----------------------------------------------------------------------------------


def timed(label: str, fn, *args) -> dict:
    cpu0 = server_cpu_seconds()
    result = fn(*args)
    result["server_cpu"] = server_cpu_seconds() - cpu0
    extra = f", {result['cpu']:.2f} s CPU here" if "cpu" in result else ""
    print(
        f"  {label:<28} {result['seconds']:7.2f} s  {result['requests']:>5} requests  "
        f"server CPU {result['server_cpu']:.2f} s{extra}"
    )
    return result


def profile_sync(url: str, page_size: int | None) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    full_sync(url, None, page_size)
    profiler.disable()
    stats = pstats.Stats(profiler)
    print("\nprofile of one full sync (cumulative, top 25):")
    stats.sort_stats("cumulative").print_stats(25)
    print("profile of one full sync (own time, top 15):")
    stats.sort_stats("tottime").print_stats(15)


def benchmark(args: argparse.Namespace) -> None:
    from mlreport.sample_data.mlflow_store import mlflow_server

    os.environ.update(QUIET)
    cached = ensure_store(args.runs, args.small, args.steps)
    work = Path(tempfile.mkdtemp(prefix="mlreport-bench-server-"))
    db = work / "mlflow.db"
    shutil.copyfile(cached, db)  # the server may write (migrations): keep the cache pristine
    try:
        with mlflow_server(db, workers=args.server_workers) as url:
            print(f"server: {url} (sqlite {db}, {args.server_workers} workers)")
            run_benchmark(url, args, db)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_benchmark(url: str, args: argparse.Namespace, db: Path) -> None:
    from mlflow import MlflowClient

    counter = RequestCounter()
    client = MlflowClient(tracking_uri=url)
    ids = [e.experiment_id for e in client.search_experiments() if e.name.startswith("bench-")]
    client.search_runs(ids, max_results=1)  # warm the server up (lazy imports, caches)
    full_sync(url, ["bench-small"], args.page_size)

    syncs, pandas_, plain = [], [], []
    for attempt in range(args.repeat):
        print(f"round {attempt + 1}:")
        order = ["sync", "pandas", "client"]
        if attempt % 2:
            order.reverse()
        for what in order:
            if what == "sync":
                syncs.append(timed("mlreport full sync", full_sync, url, None, args.page_size))
            elif what == "pandas":
                pandas_.append(timed("mlflow.search_runs", mlflow_pandas, url, ids, counter))
            else:
                plain.append(timed("MlflowClient.search_runs", mlflow_client, url, ids, counter))
    if args.repeat:
        report(args, syncs, pandas_, plain)
    if args.offline and pandas_:
        print("the same store read offline (store = the sqlite file; no server, no requests):")
        offline = timed("mlreport full sync, store=", full_sync, str(db), None, args.page_size)
        best_pd = min(p["seconds"] for p in pandas_)
        print(f"ratio search_runs / offline sync: {best_pd / offline['seconds']:.2f}x")

    print("\npeak RSS of a full sync in a fresh process (ru_maxrss):")
    page = args.page_size or 50_000  # 0 / None: the source's default
    for label, exps in ((f"{args.small:,} runs", ["bench-small"]), (f"{args.runs:,} runs", None)):
        child = sync_in_child(url, exps, args.page_size)
        hwm = child["sync_peak_kb"]
        during = f"peak during the sync {hwm / 1024:.1f} MiB, " if hwm else ""
        print(
            f"  {label:>12}: ru_maxrss {child['maxrss_kb'] / 1024:7.1f} MiB "
            f"(ru_maxrss before the sync {child['baseline_kb'] / 1024:.1f} MiB; RSS before "
            f"{child['rss_before_kb'] / 1024:.1f} MiB, {during}"
            f"sync {child['seconds']:.1f} s, {child['rows']['runs']:,} runs, page_size {page:,})"
        )
    if args.profile:
        profile_sync(url, args.page_size)


def report(args: argparse.Namespace, syncs: list, pandas_: list, plain: list) -> None:
    best = min(s["seconds"] for s in syncs)
    best_pd = min(p["seconds"] for p in pandas_)
    best_cl = min(p["seconds"] for p in plain)
    last = syncs[-1]
    rows = last["rows"]
    print(
        f"\ndata: {rows['runs']:,} runs, {last['params']:,} params, "
        f"{last['metric_keys']:,} metrics (run × key), {rows['run_metrics']:,} metric points "
        f"({args.steps} per metric); pandas frame {pandas_[-1]['runs']:,} × "
        f"{pandas_[-1]['columns']} columns"
    )
    print(
        f"requests: mlreport {last['requests']:,}, mlflow.search_runs {pandas_[-1]['requests']}, "
        f"MlflowClient.search_runs {plain[-1]['requests']}"
    )
    print(
        f"best of {args.repeat}: mlreport {best:.2f} s, mlflow.search_runs {best_pd:.2f} s, "
        f"MlflowClient.search_runs {best_cl:.2f} s"
    )
    ratio = best_pd / best
    verdict = "met" if ratio >= 2 else "NOT met"
    print(f"ratio search_runs / mlreport: {ratio:.2f}x (target >= 2x: {verdict}); "
          f"vs MlflowClient paging {best_cl / best:.2f}x")  # fmt: skip


def child_main(args: argparse.Namespace) -> None:
    exps = args.experiments.split(",") if args.experiments else None
    result = full_sync(args.child_sync, exps, args.page_size)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000, help="runs in the small experiment")
    parser.add_argument("--steps", type=int, default=1, help="points per metric")
    parser.add_argument(
        "--page-size", type=int, default=1_000, help="the source's page_size (0: its default)"
    )
    parser.add_argument("--no-offline", dest="offline", action="store_false",
                        help="skip the offline (store=) sync")  # fmt: skip
    parser.add_argument(
        "--server-workers", type=int, default=4, help="mlflow server --workers (its default: 4)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds (0: peak RSS only)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more full sync")
    parser.add_argument("--child-sync", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--experiments", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_sync:
        child_main(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
