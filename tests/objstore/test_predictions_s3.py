"""A prediction log in S3 (a real S3-compatible server) syncs to the same view as the same
files on disk; unchanged objects are not read again, a replaced object is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.objstore.conftest import upload_tree
from tests.predictions.conftest import START, World, log_frame

ROWS = 'SELECT * EXCLUDE (log) FROM predictions ORDER BY ts, "prediction", score'
METRICS = (
    "SELECT count(*), avg(score), sum(CASE WHEN prediction = 1 AND label THEN 1 ELSE 0 END), "
    "sum(CASE WHEN prediction = 1 AND NOT label THEN 1 ELSE 0 END) FROM predictions"
)


def _logs(folder: Path) -> None:
    World(folder).parquet("logs/2026/01/part-0.parquet", log_frame(24))
    World(folder).parquet("logs/2026/02/part-0.parquet", log_frame(30, seed=3))


def test_an_s3_glob_gives_the_same_view_as_the_local_files(tmp_path, s3, bucket):
    local = World(tmp_path / "local")
    _logs(local.root)
    local.sync(path="logs/**/*.parquet")
    upload_tree(s3, bucket, local.root / "logs", "team/logs")

    remote = World(tmp_path / "remote")
    remote.root.mkdir()
    stats = remote.sync(path=f"s3://{bucket}/team/logs/**/*.parquet")
    assert stats.reads["objects_downloaded"] == 2
    assert remote.query(ROWS) == local.query(ROWS)
    assert remote.query(METRICS) == local.query(METRICS)
    assert remote.query(METRICS)[0][0] == 54


def test_unchanged_objects_are_not_read_again_and_a_replaced_one_is(tmp_path, s3, bucket):
    src = tmp_path / "src"
    _logs(src)
    upload_tree(s3, bucket, src / "logs", "logs")
    world = World(tmp_path / "w")
    world.root.mkdir()
    url = f"s3://{bucket}/logs/**/*.parquet"
    world.sync(path=url)
    mirrored = sorted((world.root / "mlreport.duckdb.objects").rglob("*.parquet"))
    before = [(p, p.stat().st_mtime_ns, p.stat().st_ino) for p in mirrored]

    again = world.sync(path=url)
    assert again.reads.get("objects_downloaded", 0) == 0
    assert again.reads.get("files_hashed", 0) == 0
    assert [(p, p.stat().st_mtime_ns, p.stat().st_ino) for p in mirrored] == before

    replaced = log_frame(5, start=START.replace(month=3), seed=7)
    World(src).parquet("logs/2026/02/part-0.parquet", replaced)
    s3.upload_file(str(src / "logs/2026/02/part-0.parquet"), bucket, "logs/2026/02/part-0.parquet")
    third = world.sync(path=url)
    assert third.reads["objects_downloaded"] == 1
    assert third.reads["files_hashed"] == 1
    assert world.query("SELECT count(*) FROM predictions") == [(29,)]


def test_a_deleted_object_leaves_the_log_and_the_mirror(tmp_path, s3, bucket):
    src = tmp_path / "src"
    _logs(src)
    upload_tree(s3, bucket, src / "logs", "logs")
    world = World(tmp_path / "w")
    world.root.mkdir()
    url = f"s3://{bucket}/logs/**/*.parquet"
    world.sync(path=url)
    s3.delete_object(Bucket=bucket, Key="logs/2026/01/part-0.parquet")
    world.sync(path=url)
    assert world.query("SELECT count(*) FROM predictions") == [(30,)]
    mirror = world.root / "mlreport.duckdb.objects"
    assert [p.relative_to(mirror).as_posix() for p in mirror.rglob("*.parquet")] == [
        f"s3/{bucket}/logs/2026/02/part-0.parquet"
    ]


def test_a_list_mixes_local_paths_and_urls_and_stores_no_credential(tmp_path, s3, bucket):
    from tests.objstore.conftest import SECRET

    world = World(tmp_path / "w")
    _logs(world.root)
    upload_tree(s3, bucket, world.root / "logs/2026/02", "feb")
    stats = world.sync(path=["logs/2026/01/*.parquet", f"s3://{bucket}/feb/part-0.parquet"])
    assert stats.reads["files"] == 2 and stats.reads["objects_downloaded"] == 1
    files = json.loads(world.log_row()["files"])
    etag = s3.head_object(Bucket=bucket, Key="feb/part-0.parquet")["ETag"].strip('"')
    assert [(f.get("url"), f.get("etag")) for f in files] == [
        (None, None),
        (f"s3://{bucket}/feb/part-0.parquet", etag),
    ]
    assert world.query("SELECT count(*) FROM predictions") == [(54,)]
    for path in world.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_same_size_replacement_is_seen_by_its_etag(tmp_path, s3, bucket):
    world = World(tmp_path / "w")
    path = world.csv("log.csv", log_frame(12))
    s3.upload_file(str(path), bucket, "log.csv")
    url = f"s3://{bucket}/log.csv"
    world.sync(path=url)
    by_version = "SELECT model_version, count(*), sum(score) FROM predictions GROUP BY 1 ORDER BY 1"
    before = world.query(by_version)
    text = path.read_text()
    swapped = text.replace("v1", "vX").replace("v2", "v1").replace("vX", "v2")
    assert len(swapped) == len(text) and swapped != text
    s3.put_object(Bucket=bucket, Key="log.csv", Body=swapped.encode())
    stats = world.sync(path=url)
    assert stats.reads["objects_downloaded"] == 1 and stats.reads["files_hashed"] == 1
    after = world.query(by_version)
    assert after != before
    assert [(v, n) for v, n, _ in after] == [("v1", 6), ("v2", 6)]
    assert {v: s for v, _, s in after} == {"v1": before[1][2], "v2": before[0][2]}
