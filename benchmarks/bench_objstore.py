"""Benchmark: a prediction log read from S3 (moto's server, local) against the same files on
disk: the first sync (download), a second sync over unchanged objects, and a metric scan.

    python benchmarks/bench_objstore.py [--rows 2000000] [--files 4]

The scan reads the mirrored files, so it should cost what the local scan costs (ratio ~1);
the second sync lists the objects once and reads none.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCAN = (
    "SELECT model_version, count(*), avg(score), sum(CASE WHEN prediction = 1 AND label "
    "THEN 1 ELSE 0 END) FROM predictions GROUP BY ALL ORDER BY ALL"
)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best(fn, repeat: int = 3):
    """The fastest of ``repeat`` runs (the first warms the OS cache for either side)."""
    runs = [timed(fn) for _ in range(repeat)]
    return min(r[0] for r in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()

    import boto3
    import polars as pl
    from moto.server import ThreadedMotoServer

    from tests.predictions.conftest import World

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local, remote = World(Path(tmp) / "local"), World(Path(tmp) / "remote")
            remote.root.mkdir(parents=True)
            per = args.rows // args.files
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="bench")
            size = 0
            for i in range(args.files):
                n = pl.int_range(i * per, (i + 1) * per, eager=True)
                frame = pl.DataFrame(
                    {
                        "ts": pl.from_epoch(n + 1_767_225_600, time_unit="s").dt.cast_time_unit(
                            "us"
                        ),
                        "p_default": (n * 37 % 1000) / 1000,
                        "defaulted": n % 3 == 0,
                        "model_version": pl.Series(["v1", "v2"]).gather(n % 2),
                    }
                )
                path = local.parquet(f"logs/part-{i}.parquet", frame)
                size += path.stat().st_size
                s3.upload_file(str(path), "bench", f"logs/part-{i}.parquet")
            opts = {
                "columns": {
                    "timestamp": "ts",
                    "prediction": "CAST(p_default >= 0.5 AS INTEGER)",
                    "score": "p_default",
                    "label": "defaulted",
                    "model_version": "model_version",
                },
                "features": {},
            }
            t_local, _ = timed(lambda: local.sync(path="logs/*.parquet", **opts))
            t_first, _ = timed(lambda: remote.sync(path="s3://bench/logs/*.parquet", **opts))
            t_local2, _ = timed(lambda: local.sync(path="logs/*.parquet", **opts))
            t_second, st = timed(lambda: remote.sync(path="s3://bench/logs/*.parquet", **opts))
            assert st.reads.get("objects_downloaded", 0) == 0
            scans = [(best(lambda: local.query(SCAN), 1), best(lambda: remote.query(SCAN), 1))]
            scans += [
                (best(lambda: local.query(SCAN), 1), best(lambda: remote.query(SCAN), 1))
                for _ in range(4)
            ]  # interleaved: a busy machine slows both sides alike
            t_scan_local, a = min(x[0][0] for x in scans), scans[0][0][1]
            t_scan_remote, b = min(x[1][0] for x in scans), scans[0][1][1]
            assert a == b
    finally:
        server.stop()
    mb = size / 1e6
    print(f"{args.rows:,} rows in {args.files} Parquet files, {mb:.1f} MB")
    print(f"first sync   local {t_local:.2f}s  s3 {t_first:.2f}s  ratio {t_first / t_local:.2f}")
    print(
        f"second sync  local {t_local2:.2f}s  s3 {t_second:.2f}s  "
        f"ratio {t_second / t_local2:.2f} (0 objects read)"
    )
    print(
        f"metric scan (best of 5, interleaved)  local {t_scan_local:.3f}s  "
        f"s3 mirror {t_scan_remote:.3f}s  "
        f"ratio {t_scan_remote / t_scan_local:.2f}"
    )


if __name__ == "__main__":
    main()
