"""Events files are streamed in blocks: same rows, lines and errors as reading them whole,
and a file's rows still commit together with its cursor entry.

A 150 MB CSV used to take 1.24 GB: the file was read whole and copied about 8 times.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlreport.connectors.events.files as files
from mlreport.connectors.events.canonical import DEPLOYMENTS, INCIDENTS, LINE
from mlreport.connectors.events.files import BOM, empty_frame, iter_table_file, read_blocks
from mlreport.sources import Rows, SourceError
from tests.events.conftest import deploy_csv, deploy_row

SPEC = DEPLOYMENTS.__class__(
    table="t",
    id_column="deployment_id",
    columns=("deployment_id", "entity", "title"),
    required=(),
    timestamps=(),
)


def _read(name: str, data: bytes, spec=SPEC, size: int | None = None) -> pl.DataFrame:
    """Every frame of the file, read in blocks of ``size`` bytes (None: one block)."""
    size = size or len(data) + 8
    saved = files.BLOCK_BYTES
    files.BLOCK_BYTES = size
    try:
        frames = list(iter_table_file(Path(name), io.BytesIO(data), spec))
    finally:
        files.BLOCK_BYTES = saved
    # polars reads an empty field as null, the csv module as "": the same after validation
    return pl.concat([empty_frame(spec), *frames]).with_columns(
        pl.col(c).replace("", None) for c in spec.columns
    )


def _fields():
    return st.text(alphabet=st.sampled_from(list('ab ,"\n\r\té') + ["x"] * 4), max_size=8)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_blocks_of_any_size_read_what_one_block_reads(data):
    rows = data.draw(st.lists(st.lists(_fields(), min_size=3, max_size=3), max_size=10))
    eol = data.draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=eol).writerows([["deployment_id", "entity", "title"], *rows])
    lines = buf.getvalue().split(eol)
    for _ in range(data.draw(st.integers(0, 3))):  # empty lines anywhere after the header
        lines.insert(data.draw(st.integers(1, len(lines))), "")
    raw = eol.join(lines).encode()
    if data.draw(st.booleans()):
        raw = BOM + raw
    size = data.draw(st.integers(1, 64))
    try:
        whole = _read("x.csv", raw)
    except SourceError as exc:  # a lone CR can make a row malformed: the same error then
        with pytest.raises(SourceError, match=re.escape(str(exc))):
            _read("x.csv", raw, size=size)
        return
    assert _read("x.csv", raw, size=size).equals(whole)


def test_json_lines_in_blocks(tmp_path):
    good = {"deployment_id": "d1", "entity": "s", "title": "t"}
    lines = [json.dumps({**good, "deployment_id": f"d{i}"}) for i in range(20)]
    lines[7] = json.dumps({"deployment_id": "d7", "entity": 3})  # an integer: the exact path
    lines.insert(12, "   ")
    raw = ("\n".join(lines) + "\n").encode()
    whole = _read("x.jsonl", raw)
    for size in (1, 30, 100, 500):
        assert _read("x.jsonl", raw, size=size).equals(whole)
    assert whole.filter(pl.col("deployment_id") == "d7")["entity"].to_list() == ["3"]
    assert whole[LINE].to_list()[-1] == 21


def test_blocks_are_whole_lines_and_know_where_they_start():
    raw = BOM + b"h1,h2\n" + b"a,b\r\n" * 5 + b"\n" + b"c,d"
    blocks = list(read_blocks(io.BytesIO(raw), 7))
    assert b"".join(b.data for b in blocks) == raw[len(BOM) :]
    assert all(b.data.endswith(b"\n") for b in blocks[:-1])
    for block in blocks:
        assert block.offset == raw.index(block.data, block.offset)
        assert block.first_line == raw[: block.offset].count(b"\n") + 1
    assert list(read_blocks(io.BytesIO(b""), 7)) == []
    assert list(read_blocks(io.BytesIO(BOM), 7)) == []


# -- through the source, with small blocks ----------------------------------------------------


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 300)
    monkeypatch.setattr(files, "SLOW_BATCH_ROWS", 3)


def _many(n: int, over: dict[int, dict[str, str]] | None = None) -> str:
    over = over or {}
    return deploy_csv(*[deploy_row(i, **over.get(i, {})) for i in range(1, n + 1)])


def _source(world):
    from mlreport.config import load_config
    from mlreport.sources import build_source

    config = load_config(world.root / "mlreport.toml")
    return build_source(config.sources[0], config, 0)


def test_a_file_streams_rows_and_checkpoints_once_after_its_last_block(world, small_blocks):
    world.write("a.csv", _many(40))
    world.write("b.csv", deploy_csv(deploy_row(100)))
    world.config(deployments=["a.csv", "b.csv"])
    source = _source(world)
    (stream,) = source.streams()
    kinds = [type(item).__name__ for item in source.read(stream, None)]
    assert kinds[-1] == "Checkpoint" and kinds.index("Checkpoint") > 3  # a.csv: many Rows
    assert kinds.count("Checkpoint") == 2 and kinds[-2] == "Rows"
    world.sync()
    assert len(world.rows("deployments")) == 41


def test_the_file_is_not_read_whole_before_its_first_rows(world, small_blocks):
    path = world.write("a.csv", _many(200))
    world.config(deployments="a.csv")
    source = _source(world)
    (stream,) = source.streams()
    opened: list = []
    real_open = Path.open

    def spy(self, *args, **kw):
        fh = real_open(self, *args, **kw)
        opened.append(fh)
        return fh

    items = source.read(stream, None)
    Path.open = spy
    try:
        first = next(items)
    finally:
        Path.open = real_open
    assert isinstance(first, Rows) and first.frame.height < 200
    assert opened[0].tell() < path.stat().st_size / 4
    items.close()


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        (
            {35: {"deployment_id": "d3"}},
            r"line 36: column 'deployment_id': duplicate deployment_id "
            r"'d3', also on line 4 \(each id may appear once per file\)",
        ),
        ({33: {"status": "nope"}}, r"line 34: column 'status': unknown value 'nope'"),
        ({30: {"version": '"1.0'}}, r"line 31: malformed CSV row: a quoted value is never closed"),
        ({29: {"version": '"1\n0"'}, 33: {"trigger": "x"}}, r"line 35: column 'trigger': unknown"),
    ],
    ids=["duplicate-across-blocks", "bad-value", "malformed-row", "multi-line-value"],
)
def test_errors_in_a_late_block_name_the_line_and_store_nothing(world, small_blocks, over, pattern):
    world.write("d.csv", _many(3))
    world.config(deployments="d.csv")
    world.sync()
    before = world.snapshot()
    world.write("d.csv", _many(40, over))
    with pytest.raises(SourceError, match=pattern):
        world.sync()
    assert world.snapshot() == before


def test_invalid_utf8_in_a_late_block(world, small_blocks):
    good = _many(30).encode()
    bad = good + deploy_row(31, version="1.\xff").encode("latin-1") + b"\n"
    world.write("d.csv", bad)
    world.config(deployments="d.csv")
    offset = bad.index(b"\xff")
    with pytest.raises(SourceError) as info:
        world.sync()
    assert str(info.value).endswith(
        f"line 32: column 'version': not valid UTF-8 (byte 0xff at byte offset {offset}); "
        "save the file as UTF-8"
    )


def test_a_multi_line_value_across_blocks_keeps_later_line_numbers(world, small_blocks):
    rows = [deploy_row(i) for i in range(1, 30)]
    rows[5] = deploy_row(6, version='"' + "long\n" * 80 + '1.0"')  # longer than a block
    rows[20] = deploy_row(21, trigger="bad")
    world.write("d.csv", deploy_csv(*rows))
    world.config(deployments="d.csv")
    with pytest.raises(SourceError, match=r"line 102: column 'trigger'"):  # 22 + 80 lines
        world.sync()
    rows[20] = deploy_row(21)
    world.write("d.csv", deploy_csv(*rows))
    world.sync()
    assert world.by_id("deployments")["d6"]["version"] == "long\n" * 80 + "1.0"


def test_a_required_json_key_first_seen_in_a_later_block(world, small_blocks):
    full = {"entity": "s", "environment": "p", "status": "success", "finished_at": "2026-01-01"}
    lines = [json.dumps({"deployment_id": f"d{i}", **full}) for i in range(1, 20)]
    world.write("d.jsonl", "\n".join(lines) + "\n")
    world.config(deployments="d.jsonl")
    world.sync()
    assert len(world.rows("deployments")) == 19
    lines[15] = json.dumps({"deployment_id": "d16", "entity": "s"})
    world.write("d.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"line 16: column 'environment': a value is required"):
        world.sync()
    head = [json.dumps({"deployment_id": f"h{i}", "entity": "s"}) for i in range(10)]
    world.write("d.jsonl", "\n".join(head + lines) + "\n")  # a block without the key
    with pytest.raises(SourceError, match=r"line 1: missing required column\(s\) 'environment'"):
        world.sync()


def test_same_size_new_content_is_hashed_then_read(world):
    path = world.write("i.csv", "incident_id,entity,detected_at\ni1,svc,2026-01-01\n")
    world.config(incidents="i.csv")
    world.sync()
    world.write("i.csv", "incident_id,entity,detected_at\ni2,svc,2026-01-01\n")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    stats = world.sync()
    assert stats.rows == 1 and sorted(world.by_id("incidents")) == ["i1", "i2"]
    assert stats.reads == {"files": 1, "bytes": 2 * st.st_size}  # the hash, then the rows
    assert world.sync().reads == {}


def test_incidents_spec_in_blocks():
    header = ",".join(INCIDENTS.columns)
    body = "".join(f'i{i},svc,prod,,2026-01-01T00:00:00Z,,,"t\n{i}"\n' for i in range(9))
    raw = (header + "\n" + body).encode()
    whole = _read("i.csv", raw, INCIDENTS)
    assert whole.height == 9 and whole[LINE].to_list() == list(range(2, 20, 2))
    assert _read("i.csv", raw, INCIDENTS, size=40).equals(whole)
