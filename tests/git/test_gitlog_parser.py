"""The streaming `git log -z` parser on its own: chunk boundaries, batches, generations."""

from __future__ import annotations

import os
import subprocess

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


@settings(max_examples=200, deadline=None)
@given(
    commits=st.lists(commit_fields, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
    batch=st.integers(min_value=1, max_value=5),
)
def test_any_chunking_gives_the_same_commits(commits, cuts, batch):
    data = _stream(commits)
    batches = list(gitlog.iter_token_batches(_split(data, cuts), batch))
    flat = [t for b in batches for t in b]
    assert flat == [f for c in commits for f in c]
    assert all(len(b) == batch * N for b in batches[:-1])
    assert all(0 < len(b) <= batch * N and len(b) % N == 0 for b in batches)


def test_multibyte_character_split_across_chunks():
    data = _stream([["é🚀", "", "", "", "", "", "日本"]])
    chunks = [data[i : i + 1] for i in range(len(data))]  # one byte at a time
    [tokens] = gitlog.iter_token_batches(chunks, 10)
    assert tokens[0] == "é🚀" and tokens[6] == "日本"


def test_invalid_utf8_is_replaced_not_fatal():
    data = b"caf\xe9\0" + b"\0" * (N - 1)
    [tokens] = gitlog.iter_token_batches([data], 1)
    assert tokens[0] == "caf\ufffd"


def test_output_cut_mid_commit_is_an_error():
    with pytest.raises(gitlog.LogFormatError, match="stray field"):
        list(gitlog.iter_token_batches([b"a\0b\0"], 5))
    with pytest.raises(gitlog.LogFormatError, match="middle of a commit"):
        list(gitlog.iter_token_batches([b"\0" * N + b"abc"], 5))


def test_read_chunks_drains_a_pipe(tmp_path):
    payload = os.urandom(3 << 20)
    (tmp_path / "payload").write_bytes(payload)
    proc = subprocess.Popen(["cat", str(tmp_path / "payload")], stdout=subprocess.PIPE, bufsize=0)
    with proc:
        got = b"".join(gitlog.read_chunks(proc.stdout))
    assert got == payload


def test_read_chunks_can_stop_early():
    proc = subprocess.Popen(["yes"], stdout=subprocess.PIPE, bufsize=0)
    try:
        chunks = gitlog.read_chunks(proc.stdout, chunk=4096, depth=2)
        assert next(chunks).startswith(b"y\n")
        proc.kill()
        chunks.close()  # must not hang on a full queue
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


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


def test_build_frame_shapes_rows():
    tokens = [
        "a" * 40, "", "Ann", "ann@example.com", "0", "253402300800", "root",
        "b" * 40, f"{'a' * 40} {'c' * 40}", "Bob", "bob@example.com", "", "-5", "merge",
    ]  # fmt: skip
    frame = gitlog.build_frame("repo", tokens, [1, 2])
    rows = frame.to_dicts()
    assert rows[0]["parents"] == [] and rows[1]["parents"] == ["a" * 40, "c" * 40]
    assert rows[0]["authored_at"].isoformat() == "1970-01-01T00:00:00+00:00"
    assert rows[0]["committed_at"] is None  # beyond 9999-12-31
    assert rows[1]["authored_at"] is None  # git printed no date
    assert rows[1]["committed_at"].isoformat() == "1969-12-31T23:59:55+00:00"
    assert gitlog.odd_dates(frame) == ["a" * 40, "b" * 40]
    assert gitlog.bad_shas(frame) == []
    assert frame.columns == [
        "repo", "sha", "parents", "generation", "author_name", "author_email",
        "authored_at", "committed_at", "subject",
    ]  # fmt: skip
