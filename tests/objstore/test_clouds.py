"""gs:// and az:// paths against real local emulators (gcp-storage-emulator, Azurite) through
the clouds' SDKs: a prediction log and a FOCUS export sync to the same rows as the same files
on disk, a second sync downloads nothing, a replaced object re-mirrors only itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.focus.builder import FocusWorld, aws_delivery, charge
from tests.objstore.clouds import Cloud
from tests.predictions.conftest import START, World, log_frame

ROWS = 'SELECT * EXCLUDE (log) FROM predictions ORDER BY ts, "prediction", score'
METRICS = (
    "SELECT count(*), avg(score), sum(CASE WHEN prediction = 1 AND label THEN 1 ELSE 0 END), "
    "sum(CASE WHEN prediction = 1 AND NOT label THEN 1 ELSE 0 END) FROM predictions"
)
COSTS = "SELECT * EXCLUDE (source) FROM cost_rows ORDER BY ALL"


def _logs(folder: Path) -> None:
    World(folder).parquet("logs/2026/01/part-0.parquet", log_frame(24))
    World(folder).parquet("logs/2026/02/part-0.parquet", log_frame(30, seed=3))


def _mirrored(world_root: Path) -> list[tuple[Path, int, int]]:
    files = sorted((world_root / "mlreport.duckdb.objects").rglob("*.parquet"))
    return [(p, p.stat().st_mtime_ns, p.stat().st_ino) for p in files]


def test_a_log_syncs_like_the_local_files_and_only_changes_are_downloaded(tmp_path, cloud: Cloud):
    local = World(tmp_path / "local")
    _logs(local.root)
    local.sync(path="logs/**/*.parquet")
    cloud.upload_tree(local.root / "logs", "team/logs")
    cloud.put("team/other/skip.parquet", b"not matched by the glob")

    remote = World(tmp_path / "remote")
    remote.root.mkdir()
    url = cloud.url("team/logs/**/*.parquet")
    first = remote.sync(path=url, **cloud.options)
    assert first.reads["objects_downloaded"] == 2
    assert remote.query(ROWS) == local.query(ROWS)
    assert remote.query(METRICS) == local.query(METRICS) and remote.query(METRICS)[0][0] == 54
    files = json.loads(remote.log_row()["files"])
    assert [(f["url"], f["etag"]) for f in files] == [
        (cloud.url(k), cloud.version(k))
        for k in ("team/logs/2026/01/part-0.parquet", "team/logs/2026/02/part-0.parquet")
    ]

    before = _mirrored(remote.root)
    again = remote.sync(path=url, **cloud.options)
    assert again.reads.get("objects_downloaded", 0) == 0
    assert again.reads.get("files_hashed", 0) == 0
    assert _mirrored(remote.root) == before  # no mirror write either

    src = tmp_path / "src"
    World(src).parquet("march.parquet", log_frame(5, start=START.replace(month=3), seed=7))
    cloud.put("team/logs/2026/02/part-0.parquet", (src / "march.parquet").read_bytes())
    third = remote.sync(path=url, **cloud.options)
    assert third.reads["objects_downloaded"] == 1 and third.reads["files_hashed"] == 1
    after = _mirrored(remote.root)
    assert after[0] == before[0] and after[1] != before[1]  # January untouched
    assert remote.query("SELECT count(*) FROM predictions") == [(29,)]

    cloud.delete("team/logs/2026/01/part-0.parquet")
    remote.sync(path=url, **cloud.options)
    assert remote.query("SELECT count(*) FROM predictions") == [(5,)]
    assert len(_mirrored(remote.root)) == 1


def test_a_focus_export_syncs_like_the_local_files_and_a_redelivery_replaces_its_month(
    tmp_path, cloud: Cloud
):
    src = tmp_path / "src"
    aws_delivery(src, "2026-01", [[charge("1.5"), charge("-0.25")], [charge("2")]], "e1")
    feb = [charge("5", start="2026-02-03 00:00:00", period="2026-02", category="Storage")]
    aws_delivery(src, "2026-02", [feb], "e2")
    (src / "README.txt").write_text("not part of the export")
    local = FocusWorld(tmp_path / "local")
    local.root.mkdir()
    local.config(path=str(src))
    local.sync()
    cloud.upload_tree(src, "exports/focus-daily")

    remote = FocusWorld(tmp_path / "remote")
    remote.root.mkdir()
    remote.config(path=cloud.url("exports/focus-daily/"), **cloud.options)
    first = remote.sync()
    assert first.reads["objects_downloaded"] == 5  # 3 data files and 2 manifests, no README
    assert remote.query(COSTS) == local.query(COSTS) and len(local.query(COSTS)) == 4
    (files,) = remote.query("SELECT files FROM cost_exports")[0]
    assert all(f["url"].startswith(cloud.url("exports/")) and f["etag"] for f in json.loads(files))

    again = remote.sync()
    assert again.reads.get("objects_downloaded", 0) == 0
    assert again.reads.get("files_hashed", 0) == 0 and again.reads.get("manifests_read", 0) == 0

    before = _files(src)
    shutil.rmtree(src / "metadata/BILLING_PERIOD=2026-02")
    redelivery = [[charge("7", start="2026-02-01 00:00:00", period="2026-02")]]
    aws_delivery(src, "2026-02", redelivery, "e2b")
    changed = {k: v for k, v in _files(src).items() if before.get(k) != v}
    assert len(changed) == 2  # GCS and Azure give a re-upload a new version: upload only these
    for key, data in changed.items():
        cloud.put(f"exports/focus-daily/{key}", data)
    third = remote.sync()
    assert third.reads["objects_downloaded"] == 2  # the new part and the rewritten manifest
    assert third.reads["files_read"] == 1 and third.reads["superseded"] == 1
    assert remote.query(
        "SELECT strftime(charge_period_start, '%m'), sum(effective_cost)::DOUBLE "
        "FROM cost_rows GROUP BY 1 ORDER BY 1"
    ) == [("01", 3.25), ("02", 7.0)]


def _files(src: Path) -> dict[str, bytes]:
    return {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
