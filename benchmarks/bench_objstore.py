"""Benchmark: a prediction log read from object storage (moto's S3 server, gcp-storage-emulator
or Azurite, all local) against the same files on disk: the first sync (download), a second sync
over unchanged objects, and a metric scan.

    python benchmarks/bench_objstore.py [--rows 2000000] [--files 4] [--store s3|gcs|azure]

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


def start_store(name: str, tmp: Path):
    """A local server for ``name``: (upload(key, path), URL of a key, extra source options,
    stop())."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if name == "s3":
        import boto3
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        os.environ.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        return (
            lambda key, path: s3.upload_file(str(path), "bench", key),
            lambda key: f"s3://bench/{key}",
            {},
            server.stop,
        )
    if name == "gcs":
        from gcp_storage_emulator.server import create_server
        from google.cloud import storage

        server = create_server("127.0.0.1", port, in_memory=True)
        server.start()
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
        bucket = storage.Client(project="bench").create_bucket("bench")
        return (
            lambda key, path: bucket.blob(key).upload_from_filename(str(path)),
            lambda key: f"gs://bench/{key}",
            {},
            server.stop,
        )
    import subprocess

    from azure.storage.blob import BlobServiceClient

    from tests.objstore.clouds import AZURITE_ACCOUNT, AZURITE_KEY, wait_for_port

    proc = subprocess.Popen(
        ["azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location"]
        + [str(tmp / "azurite"), "--silent", "--skipApiVersionCheck"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    os.environ["BENCH_AZURE"] = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    container = BlobServiceClient.from_connection_string(os.environ["BENCH_AZURE"])
    container = container.create_container("bench")

    def upload(key: str, path: Path) -> None:
        with open(path, "rb") as data:
            container.upload_blob(key, data, overwrite=True)

    return (
        upload,
        lambda key: f"az://bench/{key}",
        {"azure_connection_string": "${BENCH_AZURE}"},
        proc.terminate,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--store", choices=["s3", "gcs", "azure"], default="s3")
    args = parser.parse_args()

    import polars as pl

    from tests.predictions.conftest import World

    with tempfile.TemporaryDirectory() as tmp:
        upload, url_of, extra, stop = start_store(args.store, Path(tmp))
        try:
            local, remote = World(Path(tmp) / "local"), World(Path(tmp) / "remote")
            remote.root.mkdir(parents=True)
            per = args.rows // args.files
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
                upload(f"logs/part-{i}.parquet", path)
            opts = {
                "columns": {
                    "timestamp": "ts",
                    "prediction": "CAST(p_default >= 0.5 AS INTEGER)",
                    "score": "p_default",
                    "label": "defaulted",
                    "model_version": "model_version",
                },
                "features": {},
                **extra,
            }
            url = url_of("logs/*.parquet")
            t_local, _ = timed(lambda: local.sync(path="logs/*.parquet", **opts))
            t_first, _ = timed(lambda: remote.sync(path=url, **opts))
            t_local2, _ = timed(lambda: local.sync(path="logs/*.parquet", **opts))
            t_second, st = timed(lambda: remote.sync(path=url, **opts))
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
            stop()
    mb = size / 1e6
    name = args.store
    print(f"{args.rows:,} rows in {args.files} Parquet files, {mb:.1f} MB, store {name}")
    print(
        f"first sync   local {t_local:.2f}s  {name} {t_first:.2f}s  ratio {t_first / t_local:.2f}"
    )
    print(
        f"second sync  local {t_local2:.2f}s  {name} {t_second:.2f}s  "
        f"ratio {t_second / t_local2:.2f} (0 objects read)"
    )
    print(
        f"metric scan (best of 5, interleaved)  local {t_scan_local:.3f}s  "
        f"{name} mirror {t_scan_remote:.3f}s  "
        f"ratio {t_scan_remote / t_scan_local:.2f}"
    )


if __name__ == "__main__":
    main()
