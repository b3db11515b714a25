"""A FOCUS export in the AWS Data Exports layout, in S3 (a real S3-compatible server), syncs to
the same cost rows as the same files on disk; a re-delivered month downloads only its new
objects and replaces that month."""

from __future__ import annotations

import json
import shutil

from tests.focus.builder import FocusWorld, aws_delivery, charge
from tests.objstore.conftest import upload_tree

BY_MONTH = (
    "SELECT strftime(charge_period_start, '%Y-%m'), service_category, currency, "
    "sum(effective_cost), sum(billed_cost), sum(list_cost), count(*) "
    "FROM cost_rows GROUP BY ALL ORDER BY ALL"
)
DATA_KEYS = [
    "data/BILLING_PERIOD=2026-01/focus-daily-e1-00001.snappy.parquet",
    "data/BILLING_PERIOD=2026-01/focus-daily-e1-00002.snappy.parquet",
    "data/BILLING_PERIOD=2026-02/focus-daily-e2-00001.snappy.parquet",
]
ALL_ROWS = "SELECT * EXCLUDE (source) FROM cost_rows ORDER BY ALL"


def _export(root):
    aws_delivery(root, "2026-01", [[charge("1.5"), charge("-0.25")], [charge("2")]], "e1")
    feb = [charge("5", start="2026-02-03 00:00:00", period="2026-02", category="Storage")]
    aws_delivery(root, "2026-02", [feb], "e2")
    (root / "README.txt").write_text("not part of the export")


def _remote(tmp_path) -> FocusWorld:
    world = FocusWorld(tmp_path / "remote")
    world.root.mkdir()
    return world


def test_an_s3_export_gives_the_same_cost_rows_as_the_local_files(tmp_path, s3, bucket):
    local = FocusWorld(tmp_path / "local")
    _export(local.root / "exports/focus-daily")
    local.config(path="exports/focus-daily")
    local.sync()
    upload_tree(s3, bucket, local.root / "exports/focus-daily", "exports/focus-daily")

    remote = _remote(tmp_path)
    remote.config(path=f"s3://{bucket}/exports/focus-daily")
    stats = remote.sync()
    assert stats.reads["objects_downloaded"] == 5  # 3 data files and 2 manifests, no README
    assert remote.query(BY_MONTH) == local.query(BY_MONTH)
    assert remote.query(ALL_ROWS) == local.query(ALL_ROWS)
    assert len(remote.query(ALL_ROWS)) == 4
    (files,) = remote.query("SELECT files FROM cost_exports")[0]
    urls = sorted(f["url"] for f in json.loads(files))
    assert urls == [f"s3://{bucket}/exports/focus-daily/{k}" for k in DATA_KEYS]
    assert all(f["etag"] for f in json.loads(files))


def test_unchanged_objects_are_not_read_and_a_redelivery_replaces_its_month(tmp_path, s3, bucket):
    src = tmp_path / "src"
    _export(src)
    upload_tree(s3, bucket, src, "focus")
    world = _remote(tmp_path)
    world.config(path=f"s3://{bucket}/focus/")
    world.sync()

    again = world.sync()
    assert again.reads.get("objects_downloaded", 0) == 0
    assert again.reads.get("files_hashed", 0) == 0 and again.reads.get("manifests_read", 0) == 0

    shutil.rmtree(src / "metadata/BILLING_PERIOD=2026-02")
    aws_delivery(
        src, "2026-02", [[charge("7", start="2026-02-01 00:00:00", period="2026-02")]], "e2b"
    )
    for part in ("data", "metadata"):
        folder = f"{part}/BILLING_PERIOD=2026-02"
        upload_tree(s3, bucket, src / folder, f"focus/{folder}")
    third = world.sync()
    assert third.reads["objects_downloaded"] == 2  # the new part and the rewritten manifest
    assert third.reads["files_read"] == 1 and third.reads["superseded"] == 1
    assert world.query(
        "SELECT strftime(charge_period_start, '%m'), sum(effective_cost)::DOUBLE "
        "FROM cost_rows GROUP BY 1 ORDER BY 1"
    ) == [("01", 3.25), ("02", 7.0)]


def test_a_missing_bucket_changes_nothing_stored(tmp_path, s3, bucket):
    import pytest

    from mlreport.sources import SourceError

    src = tmp_path / "src"
    _export(src)
    upload_tree(s3, bucket, src, "focus")
    world = _remote(tmp_path)
    world.config(path=f"s3://{bucket}/focus")
    world.sync()
    before = world.snapshot()
    world.config(path="s3://no-such-billing-bucket/focus")
    with pytest.raises(SourceError) as err:
        world.sync()
    assert str(err.value) == (
        "sources.billing.path: s3://no-such-billing-bucket/focus: the bucket "
        "'no-such-billing-bucket' does not exist (check the name, region and endpoint)"
    )
    assert world.snapshot() == before
