"""The streaming `git log -z` parser on its own: chunk boundaries, batches, generations."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlreport.connectors import gitlog

N = gitlog.NFIELDS

field_text = st.text(
    alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=12
)
commit_fields = st.lists(field_text, min_size=N, max_size=N)


def _stream(commits: list[list[str]]) -> bytes:
    return b"".join(f.encode() + b"\0" for c in commits for f in c)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _fields(blocks: list[bytes]) -> list[str]:
    return [f for b in blocks for f in gitlog.split_fields(b).rows() for f in f]


@settings(max_examples=200, deadline=None)
@given(
    commits=st.lists(commit_fields, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
    batch=st.integers(min_value=1, max_value=5),
)
def test_any_chunking_gives_the_same_commits(commits, cuts, batch):
    data = _stream(commits)
    blocks = list(gitlog.iter_commit_blocks(_split(data, cuts), batch))
    assert b"".join(blocks) == data
    assert all(b.endswith(b"\0") and b.count(b"\0") % N == 0 for b in blocks)
    assert all(b.count(b"\0") >= batch * N for b in blocks[:-1])
    assert _fields(blocks) == [f for c in commits for f in c]


def test_multibyte_character_split_across_chunks():
    data = _stream([["é🚀", "", "", "", "", "", "日本"]])
    chunks = [data[i : i + 1] for i in range(len(data))]  # one byte at a time
    [block] = gitlog.iter_commit_blocks(chunks, 10)
    row = gitlog.split_fields(block).row(0)
    assert row[0] == "é🚀" and row[6] == "日本"


def test_invalid_utf8_is_replaced_not_fatal():
    data = b"caf\xe9\0" + b"\0" * (N - 1)
    [block] = gitlog.iter_commit_blocks([data], 1)
    assert gitlog.split_fields(block).row(0)[0] == "caf\ufffd"


def test_output_cut_mid_commit_is_an_error():
    with pytest.raises(gitlog.LogFormatError, match="2 stray field"):
        list(gitlog.iter_commit_blocks([b"a\0b\0"], 5))
    with pytest.raises(gitlog.LogFormatError, match="middle of a commit"):
        list(gitlog.iter_commit_blocks([b"\0" * N + b"abc"], 5))


def test_misaligned_output_is_an_error():
    fields = ["not-a-sha", "", "A", "a@example.com", "0", "0", "subject"]
    [block] = gitlog.iter_commit_blocks([_stream([fields])], 1)
    with pytest.raises(gitlog.LogFormatError, match="not-a-sha"):
        gitlog.parse_block("repo", block)


def test_read_chunks_drains_a_pipe(tmp_path):
    payload = os.urandom(3 << 20)
    (tmp_path / "payload").write_bytes(payload)
    proc = subprocess.Popen(["cat", str(tmp_path / "payload")], stdout=subprocess.PIPE, bufsize=0)
    with proc:
        got = b"".join(gitlog.read_chunks(proc.stdout))
    assert got == payload


def test_in_background_yields_in_order_and_reraises():
    def items():
        yield from range(5)
        raise gitlog.LogFormatError("boom")

    got = []
    with pytest.raises(gitlog.LogFormatError, match="boom"):
        for item in gitlog.in_background(items(), depth=1):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_in_background_can_stop_early():
    def endless():
        n = 0
        while True:
            n += 1
            yield n

    items = gitlog.in_background(endless(), depth=2)
    assert next(items) == 1
    items.close()  # must not hang on the thread blocked on a full queue
    assert not [t for t in threading.enumerate() if t.name == "git-log" and t.is_alive()]


def test_generations_with_lookup_and_absent_parents():
    asked = []

    def lookup(shas):
        asked.append(shas)
        return {"s" * 40: 7}

    gens = gitlog.Generations(lookup)
    stored, absent = "s" * 40, "a" * 40
    a, b, c = "1" * 40, "2" * 40, "3" * 40
    out = gens.assign([a, b, c], [stored, f"{a} {absent}", f"{absent}"])
    assert out == [8, 9, 1]
    assert asked == [sorted([stored, absent])]  # one query, only for unknown parents
    assert gens.assign(["4" * 40], [f"{c} {b}"]) == [10]
    assert len(asked) == 1  # parents seen in this run are never asked for


def test_parse_block_shapes_rows():
    commits = [
        ["a" * 40, "", "Ann", "ann@example.com", "0", "253402300800", "root"],
        ["b" * 40, f"{'a' * 40} {'c' * 40}", "Bob", "bob@example.com", "", "-5", "merge"],
    ]
    batch = gitlog.parse_block("repo", _stream(commits))
    assert batch.shas == ["a" * 40, "b" * 40]
    assert batch.parents == ["", f"{'a' * 40} {'c' * 40}"]
    assert batch.odd_dates == ["a" * 40, "b" * 40]
    frame = gitlog.with_generations(batch.frame, [1, 2])
    rows = frame.to_dicts()
    assert rows[0]["parents"] == [] and rows[1]["parents"] == ["a" * 40, "c" * 40]
    assert rows[0]["authored_at"].isoformat() == "1970-01-01T00:00:00+00:00"
    assert rows[0]["committed_at"] is None  # beyond 9999-12-31
    assert rows[1]["authored_at"] is None  # git printed no date
    assert rows[1]["committed_at"].isoformat() == "1969-12-31T23:59:55+00:00"
    assert [r["generation"] for r in rows] == [1, 2]
    assert frame.columns == [
        "repo", "sha", "parents", "generation", "author_name", "author_email",
        "authored_at", "committed_at", "subject",
    ]  # fmt: skip
