"""Benchmark: the ``cost`` family per entity, month and service category over N FOCUS rows in
Parquet (AWS Data Exports layout), against a bare DuckDB ``GROUP BY`` over the same files and
columns; then a second sync over the unchanged export and a re-delivered month.

    python benchmarks/bench_cost.py [--rows 10000000] [--repeat 2] [--rounds 3] [--copy]
        [--no-redelivery] [--query-only]

- floor: ``SELECT month, json_extract_string(Tags, '$."ml-model"'), BillingCurrency,
  ServiceCategory, sum(EffectiveCost), sum(BilledCost), sum(ListCost), count(*)
  FROM read_parquet([files]) GROUP BY ALL``
- mlreport: the real ``focus`` source syncs the export (checks every file), then
  ``CostMetrics.compute`` for three monthly windows (every metric, with and without the
  service category, shared costs split evenly) reads it through the source's view.
- ``--copy``: also copy the view into a warehouse table and time the same metrics over the
  copy, with the warehouse size (the measurement behind docs/sources-focus.md).

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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTHS = ("2026-01", "2026-02", "2026-03")
PARTS = 4  # files per month, as AWS splits a large delivery


def generate(root: Path, rows: int, execution: str = "e1", months=MONTHS) -> list[Path]:
    """An AWS Data Exports FOCUS export of ``rows`` rows over three months (cached). Every
    column repeats with ``i``; ``ResourceId`` repeats only every 5,000,000 rows so that no file
    (8.3 million rows at 10^8) holds a row twice, which the sync refuses as a duplicate."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    per = rows // (len(MONTHS) * PARTS)
    files = []
    for m, month in enumerate(MONTHS):
        if month not in months:
            continue
        folder = root / "data" / f"BILLING_PERIOD={month}"
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for p in range(PARTS):
            path = folder / f"bench-{execution}-{p + 1:05d}.snappy.parquet"
            names.append(path)
            seed = (m * PARTS + p) * per
            con.execute(f"""
                COPY (
                  SELECT
                    round(((i * 7919) % 100000) / 1000.0 - 5, 6) AS BilledCost,
                    round(((i * 7919) % 100000) / 1000.0 - 5, 6) * 0.9 AS EffectiveCost,
                    round(((i * 7919) % 100000) / 1000.0 - 5, 6) * 1.2 AS ListCost,
                    round(((i * 7919) % 100000) / 1000.0 - 5, 6) * 0.9 AS ContractedCost,
                    CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END AS BillingCurrency,
                    TIMESTAMP '{month}-01' AS BillingPeriodStart,
                    TIMESTAMP '{month}-01' + INTERVAL 1 MONTH AS BillingPeriodEnd,
                    TIMESTAMP '{month}-01' + to_hours((i % 672)::BIGINT) AS ChargePeriodStart,
                    TIMESTAMP '{month}-01' + to_hours((i % 672)::BIGINT + 1) AS ChargePeriodEnd,
                    'Usage' AS ChargeCategory, NULL::VARCHAR AS ChargeClass,
                    ['Compute', 'Storage', 'Networking', 'Databases', 'AI and Machine Learning',
                     'Analytics', 'Security', 'Other'][(i % 8) + 1] AS ServiceCategory,
                    'Service ' || (i % 40) AS ServiceName, 'AWS' AS ProviderName,
                    'arn:aws:ec2:eu-west-1:1:instance/i-' || (i % 5000000) AS ResourceId,
                    'eu-west-1' AS RegionId, '1234' || (i % 20) AS SubAccountId,
                    'SKU' || (i % 500) AS SkuId, 'AmazonEC2' AS x_ServiceCode,
                    CASE WHEN i % 10 = 1 THEN NULL
                         WHEN i % 10 = 2 THEN '{{"ml-model": "platform", "env": "prod"}}'
                         ELSE '{{"ml-model": "model-' || (i % 25) || '", "env": "prod"}}'
                    END AS Tags
                  FROM range({seed}, {seed + per}) t(i)
                ) TO '{path}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1000000)
            """)
        manifest = root / "metadata" / f"BILLING_PERIOD={month}" / "bench-Manifest.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        data = [f"s3://bucket/exports/bench/data/BILLING_PERIOD={month}/{n.name}" for n in names]
        manifest.write_text(json.dumps({"executionId": execution, "dataFiles": data}))
        files += names
    return files


def cached_export(rows: int) -> Path:
    root = Path(tempfile.gettempdir()) / f"mlreport-bench-focus-{rows}" / "bench"
    if not (root / "metadata").exists():
        generate(root, rows)
    return root


def current_files(root: Path) -> list[str]:
    out = []
    for manifest in sorted((root / "metadata").glob("*/bench-Manifest.json")):
        for uri in json.loads(manifest.read_text())["dataFiles"]:
            out.append(str(root / "data" / uri.split("/data/", 1)[1]))
    return out


def floor(root: str, repeat: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    listed = "[" + ", ".join(f"'{f}'" for f in current_files(Path(root))) + "]"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con.sql(
            "SELECT date_trunc('month', ChargePeriodStart), "
            "json_extract_string(Tags, '$.\"ml-model\"'), BillingCurrency, ServiceCategory, "
            "sum(EffectiveCost), sum(BilledCost), sum(ListCost), count(*) "
            f"FROM read_parquet({listed}) GROUP BY ALL"
        ).fetchall()
        times.append(time.perf_counter() - started)
    return {"times": times}


def bench_config(root: str, tmp: Path):
    from mlreport.config import parse_config

    return parse_config(
        f'[[sources]]\nname = "bench"\ntype = "focus"\npath = "{root}"\n'
        'entity_tag = "ml-model"\nshared_split = "even"\n'
        '[sources.entity_map]\n"platform" = "shared"\n',
        "mlreport.toml",
        tmp,
    )


WINDOWS = [
    (datetime(2026, m, 1, tzinfo=UTC), datetime(2026, m + 1, 1, tzinfo=UTC)) for m in (1, 2, 3)
]


def sync(root: str, warehouse: str) -> dict:
    """The first sync (checks every file) and a second one over the unchanged export."""
    from mlreport.sources import build_source, sync_source
    from mlreport.warehouse import Warehouse

    config = bench_config(root, Path(warehouse).parent)
    w = Warehouse(warehouse)
    w.con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    first = sync_source(w, build_source(config.sources[0], config, 0))
    sync_seconds = time.perf_counter() - started
    started = time.perf_counter()
    second = sync_source(w, build_source(config.sources[0], config, 0))
    second_seconds = time.perf_counter() - started
    w.close()
    return {
        "sync": sync_seconds,
        "first_reads": first.reads,
        "second_sync": second_seconds,
        "second_reads": second.reads,
    }


def ours(root: str, warehouse: str, repeat: int) -> dict:
    """The cost family over the synced export, in a process of its own (its own peak RSS)."""
    from mlreport.metrics import MetricContext, Window
    from mlreport.plugin_manager import get_plugins
    from mlreport.plugins.cost.family import CostMetrics
    from mlreport.warehouse import Warehouse

    config = bench_config(root, Path(warehouse).parent)
    get_plugins().sources()  # importing the plugins is start-up, as the floor's `import duckdb`
    w = Warehouse(warehouse)
    w.con.execute("SET enable_progress_bar = false")
    windows = [Window(a, b) for a, b in WINDOWS]
    times, rows = [], 0
    for _ in range(repeat):
        ctx = MetricContext(w, config, windows)
        started = time.perf_counter()
        rows = len(CostMetrics().compute(ctx))
        times.append(time.perf_counter() - started)
    w.close()
    return {"times": times, "metric_rows": rows}


def copy_side(root: str, warehouse: str, repeat: int) -> dict:
    from mlreport.metrics import Window
    from mlreport.warehouse import Warehouse

    config = bench_config(root, Path(warehouse).parent)
    w = Warehouse(warehouse)
    w.con.execute("SET enable_progress_bar = false")
    out = copied(w, config, [Window(a, b) for a, b in WINDOWS], repeat, Path(warehouse).parent)
    w.close()
    return out


def copied(w, config, windows, repeat: int, tmp: Path) -> dict:
    """The same metrics over a copy in the warehouse: copy time, size, and metric times."""
    from mlreport.metrics import MetricContext
    from mlreport.plugins.cost.family import CostMetrics

    size_before = (tmp / "w.duckdb").stat().st_size
    started = time.perf_counter()
    w.con.execute("CREATE TABLE copied AS SELECT * FROM costs__bench")
    w.con.execute("CHECKPOINT")
    copy_seconds = time.perf_counter() - started
    view_sql = w.con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'cost_rows'"
    ).fetchall()[0][0]
    w.con.execute(
        view_sql.replace('"costs__bench"', "copied").replace(
            "CREATE VIEW", "CREATE OR REPLACE VIEW"
        )
    )
    times = []
    for _ in range(repeat):
        ctx = MetricContext(w, config, windows)
        started = time.perf_counter()
        CostMetrics().compute(ctx)
        times.append(time.perf_counter() - started)
    size = (tmp / "w.duckdb").stat().st_size - size_before
    return {"copy_seconds": copy_seconds, "copy_bytes": size, "copy_times": times}


def redelivery(root: str) -> dict:
    """Re-deliver March (new files, new manifest) and sync the same warehouse again."""
    from mlreport.config import parse_config
    from mlreport.sources import build_source, sync_source
    from mlreport.warehouse import Warehouse

    tmp = Path(tempfile.mkdtemp())
    config = parse_config(
        f'[[sources]]\nname = "bench"\ntype = "focus"\npath = "{root}"\n', "mlreport.toml", tmp
    )
    w = Warehouse(tmp / "w.duckdb")
    sync_source(w, build_source(config.sources[0], config, 0))
    rows = int(Path(root).parent.name.rsplit("-", 1)[1])
    generate(Path(root), rows, "e2", ("2026-03",))
    started = time.perf_counter()
    stats = sync_source(w, build_source(config.sources[0], config, 0))
    seconds = time.perf_counter() - started
    generate(Path(root), rows, "e1", ("2026-03",))  # put the original delivery back
    return {"seconds": seconds, "reads": stats.reads}


def sums_only(root: str, repeat: int) -> dict:
    """The family's group-by alone (connectors/focus/sums.py) over the export's files, with
    the schema DuckDB reads from the first file: no sync needed (``--query-only``, for sizes
    whose sync, which checks every row, takes longer than the time at hand). It is nearly
    all of the family's time (the rest works on a few hundred rows)."""
    import duckdb

    from mlreport.connectors.focus.checks import file_literal
    from mlreport.connectors.focus.sums import sums_sql
    from mlreport.metrics import Window
    from mlreport.plugins.cost.sql import ALLOCATORS_SQL, _params
    from mlreport.sources import source_options

    files = current_files(Path(root))
    opts = source_options(bench_config(root, Path(tempfile.mkdtemp())), "focus")["bench"]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    first = file_literal(Path(files[0]))
    schema = tuple(
        (r[0], r[1])
        for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({first})").fetchall()
    )
    sql = sums_sql("bench", opts, [(Path(f), schema) for f in files], ALLOCATORS_SQL)
    params = _params([Window(a, b) for a, b in WINDOWS])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con.execute(sql, params).fetchall()
        times.append(time.perf_counter() - started)
    return {"times": times}


def child(side: str, root: str, warehouse: str, repeat: int) -> None:
    if side == "floor":
        result = floor(root, repeat)
    elif side == "sums":
        result = sums_only(root, repeat)
    elif side == "sync":
        result = sync(root, warehouse)
    elif side == "ours":
        result = ours(root, warehouse, repeat)
    elif side == "copy":
        result = copy_side(root, warehouse, repeat)
    else:
        result = redelivery(root)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))


def peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` rather than ``ru_maxrss``: Linux carries
    ``ru_maxrss`` over ``fork`` + ``exec``, so every child reported the parent's peak (the
    export generator's, 1.2 GB at 10^7 rows) instead of its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(side: str, root: Path, warehouse: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--path", str(root)]
    cmd += ["--warehouse", str(warehouse), "--repeat", str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"bench_cost: the {side} process failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--copy", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=3, help="floor and mlreport processes, alternated"
    )
    parser.add_argument("--no-redelivery", action="store_true")
    parser.add_argument("--query-only", action="store_true", help="no sync: the group-by alone")
    parser.add_argument("--child", choices=["floor", "sync", "ours", "sums", "copy", "redelivery"])
    parser.add_argument("--path")
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.warehouse, args.repeat)
        return
    root = cached_export(args.rows)
    size = sum(Path(f).stat().st_size for f in current_files(root)) / 1e6
    warehouse = Path(tempfile.mkdtemp()) / "w.duckdb"
    if args.query_only:
        base, mine = alternated(root, warehouse, args.repeat, args.rounds, "sums")
        print(f"export: {args.rows:,} FOCUS rows, {size:.0f} MB Parquet")
        print(
            f"floor GROUP BY: best {min(base['times']):.3f} s {fmt(base['times'])}, "
            f"peak RSS {base['peak_rss_mb']:.0f} MB"
        )
        print(
            f"family group-by alone: best {min(mine['times']):.3f} s {fmt(mine['times'])}, "
            f"peak RSS {mine['peak_rss_mb']:.0f} MB"
        )
        print(f"ratio: {min(mine['times']) / min(base['times']):.2f}x the floor")
        return
    synced = run("sync", root, warehouse, 1)
    base, mine = alternated(root, warehouse, args.repeat, args.rounds)
    fast, slow = min(mine["times"]), min(base["times"])
    files = len(current_files(root))
    print(f"export: {args.rows:,} FOCUS rows, {size:.0f} MB Parquet in {files} files")
    print(
        f"floor GROUP BY: best {slow:.3f} s {fmt(base['times'])}, "
        f"peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"mlreport cost family: best {fast:.3f} s {fmt(mine['times'])}, peak RSS "
        f"{mine['peak_rss_mb']:.0f} MB, {mine['metric_rows']} metric rows"
    )
    print(f"ratio: {fast / slow:.2f}x the floor (target <= 2x, peak RSS < 1024 MB)")
    print(
        f"first sync (checks every file): {synced['sync']:.1f} s, peak RSS "
        f"{synced['peak_rss_mb']:.0f} MB, reads {synced['first_reads']}"
    )
    print(f"second sync, unchanged: {synced['second_sync']:.3f} s, reads {synced['second_reads']}")
    if args.copy:
        copy = run("copy", root, warehouse, args.repeat)
        print(
            f"copy into the warehouse: {copy['copy_seconds']:.1f} s, "
            f"{copy['copy_bytes'] / 1e6:.0f} MB; metrics over the copy: best "
            f"{min(copy['copy_times']):.3f} s {fmt(copy['copy_times'])}"
        )
    if not args.no_redelivery:
        again = run("redelivery", root, warehouse, 1)
        print(f"re-delivered month: {again['seconds']:.1f} s, reads {again['reads']}")


def alternated(
    root: Path, warehouse: Path, repeat: int, rounds: int, ours: str = "ours"
) -> tuple[dict, dict]:
    """Floor and mlreport processes in turn, ``rounds`` times: on a shared machine whose
    load moves by 2x within minutes, a ratio of two runs minutes apart measured the load."""
    base: dict = {"times": [], "peak_rss_mb": 0.0}
    mine: dict = {"times": [], "peak_rss_mb": 0.0, "metric_rows": 0}
    for _ in range(rounds):
        for side, out in (("floor", base), (ours, mine)):
            got = run(side, root, warehouse, repeat)
            out["times"] += got["times"]
            out["peak_rss_mb"] = max(out["peak_rss_mb"], got["peak_rss_mb"])
            out["metric_rows"] = got.get("metric_rows", 0)
    return base, mine


def fmt(times: list[float]) -> str:
    return "(" + ", ".join(f"{t:.3f}" for t in times) + ")"


if __name__ == "__main__":
    main()
