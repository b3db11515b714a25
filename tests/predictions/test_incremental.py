"""Fingerprints: unchanged files are not re-hashed, changed ones are."""

from __future__ import annotations

import hashlib
import json
import os

from tests.predictions.conftest import log_frame


def _files(world) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads(world.log_row()["files"])}


def test_resync_of_unchanged_files_hashes_nothing(world):
    for i in range(3):
        world.parquet(f"preds/{i}.parquet", log_frame(5, seed=i))
    first = world.sync(path="preds/*.parquet")
    assert first.reads["files_hashed"] == 3
    assert first.reads["bytes"] == sum(p.stat().st_size for p in (world.root / "preds").iterdir())
    before = _files(world)
    second = world.sync(path="preds/*.parquet")
    assert second.reads.get("files_hashed", 0) == 0
    assert second.reads.get("bytes", 0) == 0
    assert second.reads["files"] == 3
    assert _files(world) == before


def test_changed_file_updates_its_fingerprint_only(world):
    a = world.parquet("preds/a.parquet", log_frame(5))
    b = world.parquet("preds/b.parquet", log_frame(6))
    world.sync(path="preds/*.parquet")
    old = _files(world)
    world.parquet("preds/b.parquet", log_frame(9, seed=4))
    stats = world.sync(path="preds/*.parquet")
    assert stats.reads["files_hashed"] == 1
    new = _files(world)
    assert new[str(a)] == old[str(a)]
    assert new[str(b)]["sha256"] == hashlib.sha256(b.read_bytes()).hexdigest()
    assert new[str(b)]["sha256"] != old[str(b)]["sha256"]
    assert world.log_row()["row_count"] == 14


def test_touched_file_is_rehashed_and_keeps_its_hash(world):
    a = world.parquet("a.parquet", log_frame(5))
    world.sync(path="a.parquet")
    old = _files(world)
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    stats = world.sync(path="a.parquet")
    assert stats.reads["files_hashed"] == 1
    assert _files(world) == old


def test_new_and_removed_files_follow_the_glob(world):
    world.parquet("preds/a.parquet", log_frame(5))
    b = world.parquet("preds/b.parquet", log_frame(6))
    world.sync(path="preds/*.parquet")
    b.unlink()
    c = world.parquet("preds/c.parquet", log_frame(7))
    stats = world.sync(path="preds/*.parquet")
    assert stats.reads["files_hashed"] == 1
    assert sorted(_files(world)) == [str(world.root / "preds/a.parquet"), str(c)]
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 12
    cursor = json.loads(world.query("SELECT cursor FROM _sync_state")[0][0])
    assert sorted(cursor["files"]) == sorted(_files(world))


def test_full_sync_rehashes(world):
    world.parquet("a.parquet", log_frame(5))
    world.sync(path="a.parquet")
    stats = world.sync(path="a.parquet", full=True)
    assert stats.reads["files_hashed"] == 1


def test_mapping_change_applies_without_rehashing(world):
    world.parquet("a.parquet", log_frame(10))
    world.sync(path="a.parquet")
    stats = world.sync(path="a.parquet", where="income >= 1050")
    assert stats.reads.get("files_hashed", 0) == 0
    assert world.log_row()["row_count"] == 5
