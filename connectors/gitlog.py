"""Streaming parser for ``git log -z``: whole-commit blocks split into columns by polars.

The log is never held whole: a thread drains the pipe in large chunks, the chunks are
regrouped into blocks of whole commits by counting NULs, and each block is decoded once and
split into one string column per field inside polars. Only the sha and parents columns become
Python strings (generation numbers need them); there are no per-commit dicts or objects.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar

import polars as pl

# %at/%ct are the raw Unix seconds of the commit header: the exact instant, whatever the
# time-zone offset says (git accepts offsets like +5959 that no datetime parser does).
# An unparseable date comes out empty, never as a wrong instant.
FIELDS = ("sha", "parents", "author_name", "author_email", "authored_at", "committed_at", "subject")
LOG_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%s"
NFIELDS = len(FIELDS)

# `--topo-order --reverse` prints every parent before its children, so generation numbers
# can be computed in one pass. `--stdin` takes the tips (and `^excluded` tips) on stdin, so
# thousands of refs never hit the command-line length limit.
LOG_ARGS = (
    "log",
    "-z",
    "--topo-order",
    "--reverse",
    "--no-color",
    "--encoding=UTF-8",
    f"--format={LOG_FORMAT}",
    "--stdin",
)

CHUNK = 1 << 20
NAP = 0.004  # seconds; at git's ~20 MB/s the 1 MiB pipe is far from full meanwhile
# Seconds for 0001-01-01 .. 9999-12-31T23:59:59 UTC: what a datetime can hold everywhere.
MIN_EPOCH, MAX_EPOCH = -62_135_596_800, 253_402_300_799
_SHA = r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$"
T = TypeVar("T")


class LogFormatError(ValueError):
    """The output does not have the shape LOG_FORMAT promises."""


class GitTimeout(TimeoutError):
    """git wrote nothing for the allowed time (it is blocked, e.g. on a FIFO under .git)."""


def read_chunks(
    stream: IO[bytes], chunk: int | None = None, timeout: float | None = None
) -> Iterator[bytes]:
    """Read a pipe in big chunks, reusing one buffer.

    When git writes only a trickle, wait a moment before the next read so the pipe fills:
    a few hundred large reads instead of one per 4 KiB that git writes. With ``timeout``,
    waiting that many seconds for the next output raises :class:`GitTimeout`; time the
    caller spends elsewhere (storing the previous batch) does not count.
    """
    chunk = chunk or CHUNK
    fd = stream.fileno()
    _widen_pipe(fd, chunk)
    buf = bytearray(chunk)  # os.read(fd, 1 MiB) would allocate a fresh 1 MiB per call
    view = memoryview(buf)
    poller = None
    if timeout is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)  # POLLHUP (git exited) is reported anyway
    while True:
        if poller is not None and not poller.poll(timeout * 1000):
            raise GitTimeout(f"no output for {timeout:g} s")
        n = os.readv(fd, [buf])
        if not n:
            break
        yield bytes(view[:n])
        if n < chunk // 8:
            time.sleep(NAP)


_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def in_background(items: Iterable[T], depth: int = 2, name: str = "git-log") -> Iterator[T]:
    """Iterate ``items`` on a thread, ``depth`` items ahead of the caller.

    Used so reading and parsing git's output overlap with the warehouse storing the previous
    batch (DuckDB releases the GIL). Errors are re-raised in the caller. Closing the iterator
    stops the thread at its next item; the caller must first make the source end (kill git).
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            q.put(_Failed(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's own cleanup runs on this thread, now
        q.put(_DONE)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        # Unblock the thread if it waits on a full queue; it then sees `stop` and ends.
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def _widen_pipe(fd: int, size: int) -> None:
    """Ask Linux for a bigger pipe buffer: fewer, larger reads and fewer stalls of git."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError, ValueError):
        pass  # not Linux, or above the system's pipe-max-size: the default buffer works


def iter_commit_blocks(chunks: Iterable[bytes], batch: int) -> Iterator[bytes]:
    """Regroup raw chunks into blocks of whole commits, at least ``batch`` each (but the last).

    Every field ends with NUL, so a commit ends at every ``NFIELDS``-th NUL: counting NULs
    per chunk (in C) finds the last commit boundary without looking at single fields. A
    field or a multi-byte character split across two chunks is thus always decoded whole.
    """
    pieces: list[bytes] = []
    commits = 0  # whole commits in `pieces`
    carry = b""  # bytes after the last boundary seen
    open_fields = 0  # NULs in `carry`
    for data in chunks:
        total = open_fields + data.count(b"\0")
        if total < NFIELDS:
            carry += data
            open_fields = total
            continue
        open_fields = total % NFIELDS
        cut = len(data)
        for _ in range(open_fields + 1):  # back over the open fields to the boundary
            cut = data.rfind(b"\0", 0, cut)
        pieces.append(carry + data[: cut + 1] if carry else data[: cut + 1])
        carry = data[cut + 1 :]
        commits += total // NFIELDS
        if commits >= batch:
            yield b"".join(pieces)
            pieces, commits = [], 0
    if open_fields:
        raise LogFormatError(
            f"git log output has {open_fields} stray field(s) after the last commit"
        )
    if carry:
        raise LogFormatError("git log output ends in the middle of a commit")
    if pieces:
        yield b"".join(pieces)


class Generations:
    """Commit-graph generation numbers: 1 for a root, else 1 + the highest parent's.

    Commits must arrive parents first. A parent not seen in this run is asked of ``lookup``
    (the warehouse, on incremental syncs); a parent nobody knows (a shallow clone's boundary)
    counts as absent.
    """

    def __init__(self, lookup: Callable[[list[str]], dict[str, int]] | None = None) -> None:
        self.known: dict[str, int] = {}
        self.lookup = lookup

    def assign(self, shas: list[str], parents: list[str]) -> list[int]:
        """Generation of each commit; ``parents`` holds space-separated parent shas."""
        known = self.known
        if self.lookup is not None:
            self._fetch_unknown(shas, parents)
        get = known.get
        out = []
        append = out.append
        for sha, ps in zip(shas, parents, strict=True):
            if not ps:
                g = 1
            elif len(ps) <= 64:  # one parent (40 or 64 hex digits): the common case
                g = get(ps, 0) + 1
            else:
                g = max(get(p, 0) for p in ps.split(" ")) + 1
            known[sha] = g
            append(g)
        return out

    def _fetch_unknown(self, shas: list[str], parents: list[str]) -> None:
        batch = set(shas)
        wanted = {
            p
            for ps in parents
            if ps
            for p in ps.split(" ")
            if p not in self.known and p not in batch
        }
        if wanted:
            self.known.update(self.lookup(sorted(wanted)))


def build_frame(repo: str, raw: pl.DataFrame) -> pl.DataFrame:
    """Commits as a frame shaped like the ``commits`` table, but for ``generation``.

    ``raw`` has one string column per field of ``FIELDS``.
    """
    parents = pl.col("parents")
    return raw.select(
        pl.lit(repo, dtype=pl.String).alias("repo"),
        pl.col("sha"),
        pl.when(parents == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(parents.str.split(" "))
        .alias("parents"),
        pl.col("author_name"),
        pl.col("author_email"),
        _epoch("authored_at"),
        _epoch("committed_at"),
        pl.col("subject"),
    )


def split_fields(block: bytes) -> pl.DataFrame:
    """A block of whole commits as one string column per field.

    Decoded once and split on NUL inside polars: no Python string per field.
    Invalid UTF-8 becomes U+FFFD.
    """
    text = pl.Series("t", [block.decode("utf-8", "replace")], dtype=pl.String)
    tokens = text.str.split("\0").explode()
    tokens = tokens.head(len(tokens) - 1)  # the empty string after the final NUL
    return pl.DataFrame(
        [tokens.gather_every(NFIELDS, i).alias(name) for i, name in enumerate(FIELDS)]
    )


@dataclass
class Batch:
    """Parsed commits: what generation numbers need, and the rest as a frame."""

    shas: list[str]
    parents: list[str]  # space-separated parent shas per commit
    frame: pl.DataFrame  # every commits column but ``generation``
    odd_dates: list[str]  # shas whose dates could not be stored


def parse_block(repo: str, block: bytes) -> Batch:
    raw = split_fields(block)
    frame = build_frame(repo, raw)
    bad = bad_shas(frame)
    if bad:
        raise LogFormatError(f"{bad[0][:60]!r} is not a commit id")
    return Batch(
        raw.get_column("sha").to_list(),
        raw.get_column("parents").to_list(),
        frame,
        odd_dates(frame),
    )


def parse_batches(
    stream: IO[bytes], repo: str, batch: int, timeout: float | None = None
) -> Iterator[Batch]:
    """Read ``git log -z`` output from ``stream`` as batches of about ``batch`` commits.

    The pipe is drained on a thread of its own, so git never waits while a batch is parsed.
    ``timeout``: seconds git may go without output (see :func:`read_chunks`).
    """
    chunks = in_background(read_chunks(stream, timeout=timeout), depth=256, name="git-log-reader")
    try:
        for block in iter_commit_blocks(chunks, batch):
            yield parse_block(repo, block)
    finally:
        chunks.close()


def with_generations(frame: pl.DataFrame, generations: list[int]) -> pl.DataFrame:
    return frame.insert_column(3, pl.Series("generation", generations, dtype=pl.Int64))


def _epoch(name: str) -> pl.Expr:
    secs = pl.col(name).cast(pl.Int64, strict=False)
    ok = secs.is_between(MIN_EPOCH, MAX_EPOCH)
    return (
        pl.when(ok)
        .then(pl.from_epoch(secs, time_unit="s"))
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias(name)
    )


def bad_shas(frame: pl.DataFrame) -> list[str]:
    """Values in the sha column that are not object names (a sign of misaligned output)."""
    bad = frame.filter(~pl.col("sha").str.contains(_SHA)).get_column("sha")
    return bad.head(3).to_list()


def odd_dates(frame: pl.DataFrame) -> list[str]:
    """Shas whose author or committer date git could not give as a storable instant."""
    missing = frame.select(
        pl.col("sha").filter(pl.col("authored_at").is_null() | pl.col("committed_at").is_null())
    ).get_column("sha")
    return missing.to_list()
