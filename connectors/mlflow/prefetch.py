"""Metric history read while runs are still being listed, spilled to Parquet until written.

Why: listing runs keeps one server worker busy for seconds per page while the rest of the
server (and this machine) idles; reading history meanwhile overlaps the two phases. Rows are
written to the warehouse only in the ``run_metrics`` stream, so what is read ahead waits in
small Parquet files (one per chunk of runs), not in memory. The read-ahead is used only if the
``run_metrics`` stream starts from the cursor it was computed against; else it is dropped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from mlreport.sources import SourceError

Chunk = list[str]


class HistoryPrefetch:
    """Chunks of run ids whose history is read in one background thread (which may fan out
    further), in the order they were added."""

    def __init__(self, read: Callable[[Chunk], pl.DataFrame | None], expected: dict) -> None:
        self.expected = expected  # the run_metrics cursor digests the chunks were chosen from
        self._read = read
        self._dir = Path(tempfile.mkdtemp(prefix="mlreport-mlflow-history-"))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlreport-history")
        self._chunks: list[tuple[Chunk, Future[Path | None]]] = []

    def add(self, chunk: Chunk) -> None:
        if chunk:
            n = len(self._chunks)
            self._chunks.append((chunk, self._pool.submit(self._spill, chunk, n)))

    def matches(self, old: dict, changed: list[str]) -> bool:
        """True if these chunks are exactly what the run_metrics stream would read now."""
        runs = {r for chunk, _ in self._chunks for r in chunk}
        return self.expected == old and runs == set(changed)

    def results(self) -> Iterator[tuple[Chunk, pl.DataFrame | None]]:
        """Each chunk with its rows (None: no points), waiting for those not read yet."""
        for chunk, future in self._chunks:
            path = future.result()
            yield chunk, (pl.read_parquet(path) if path is not None else None)
            if path is not None:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _spill(self, chunk: Chunk, n: int) -> Path | None:
        frame = self._read(chunk)
        if frame is None or frame.height == 0:
            return None
        path = self._dir / f"{n:06d}.parquet"
        try:
            frame.write_parquet(path, compression="uncompressed")
        except OSError as exc:
            raise SourceError(
                f"cannot keep metric history read ahead in {self._dir}: {exc}; "
                "point TMPDIR at a writable directory with free space"
            ) from None
        return path
