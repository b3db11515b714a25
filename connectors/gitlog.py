"""Streaming parser for ``git log -z``: NUL-split big chunks into column lists.

The parser never holds the whole log: it reads the pipe in large chunks, splits on NUL,
and hands out batches of commits as flat token lists (``FIELDS`` tokens per commit), which
become one polars frame per batch. There are no per-commit dicts or objects on the hot path.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO

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


class LogFormatError(ValueError):
    """The output does not have the shape LOG_FORMAT promises."""


def read_chunks(stream: IO[bytes], chunk: int = CHUNK, depth: int = 256) -> Iterator[bytes]:
    """Drain ``stream`` on a thread so git keeps writing while the caller parses and stores.

    The queue holds at most ``depth`` chunks, so a slow consumer holds back git rather than
    buffering the whole log in memory.
    """
    q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
    fd = stream.fileno()
    _widen_pipe(fd, chunk)
    stop = threading.Event()

    def pump() -> None:
        try:
            while not stop.is_set():
                data = os.read(fd, chunk)
                if not data:
                    break
                q.put(data)
                if len(data) < chunk // 8:
                    # A trickle: let the pipe fill a little before the next read, so this
                    # thread wakes (and takes the GIL from the parser) a few hundred times
                    # a second, not once per 4 KiB git writes.
                    time.sleep(NAP)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
            return
        q.put(None)

    thread = threading.Thread(target=pump, name="git-log-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Unblock the pump if it waits on a full queue; it then sees `stop` and exits.
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


def iter_token_batches(chunks: Iterable[bytes], batch: int) -> Iterator[list[str]]:
    """Yield flat token lists of ``batch`` commits (the last one shorter).

    Each chunk is cut at its last NUL, so a token (or a multi-byte character) split across
    two chunks is joined before decoding. Invalid UTF-8 becomes U+FFFD.
    """
    want = batch * NFIELDS
    tail = b""
    pending: list[str] = []
    for data in chunks:
        cut = data.rfind(b"\0")
        if cut < 0:
            tail += data
            continue
        head = tail + data[:cut] if tail else data[:cut]
        tail = data[cut + 1 :]
        pending.extend(head.decode("utf-8", "replace").split("\0"))
        while len(pending) >= want:
            yield pending[:want]
            del pending[:want]
    if tail:
        raise LogFormatError("git log output ends in the middle of a commit")
    if len(pending) % NFIELDS:
        raise LogFormatError(
            f"git log output has {len(pending) % NFIELDS} stray field(s) after the last commit"
        )
    if pending:
        yield pending


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


def build_frame(repo: str, tokens: list[str], generations: list[int]) -> pl.DataFrame:
    """One batch of commits as a frame shaped like the ``commits`` table."""
    raw = pl.DataFrame(
        {name: tokens[i::NFIELDS] for i, name in enumerate(FIELDS)},
        schema={name: pl.String for name in FIELDS},
    )
    parents = pl.col("parents")
    return raw.select(
        pl.lit(repo, dtype=pl.String).alias("repo"),
        pl.col("sha"),
        pl.when(parents == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(parents.str.split(" "))
        .alias("parents"),
        pl.Series("generation", generations, dtype=pl.Int64),
        pl.col("author_name"),
        pl.col("author_email"),
        _epoch("authored_at"),
        _epoch("committed_at"),
        pl.col("subject"),
    )


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
