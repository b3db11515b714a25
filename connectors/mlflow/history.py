"""Metric history of chunks of runs: one read per metric key and batch of runs, several in
flight at once where the backend allows it, handed back chunk by chunk in order."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import polars as pl

from mlreport.connectors.mlflow.ordered_map import ordered_map
from mlreport.connectors.mlflow.rows import metric_frame, metric_row


def read_histories(
    backend: Any, chunks: list[list[str]], current: dict, concurrency: int, runs_per_read: int
) -> Iterator[tuple[list[str], pl.DataFrame | None]]:
    """Each chunk of runs with every point of each of their keys (None: no points), in
    chunk order. ``current`` maps a run to (metrics digest, its metric keys);
    ``runs_per_read`` is the batch for a backend that names none (``bulk_runs``).

    Over HTTP the reads (one per key and ~100 runs) run ``concurrency`` at a time in one
    continuous stream across chunks, so the server never waits for us to write a chunk;
    at most ``2 × concurrency`` answers are held ahead of the one being written."""
    size = getattr(backend, "bulk_runs", runs_per_read)
    units = (
        (i, key, ids[j : j + size])
        for i, chunk in enumerate(chunks)
        for key, ids in _by_key(chunk, current)
        for j in range(0, len(ids), size)
    )
    workers = concurrency if getattr(backend, "threadsafe", False) else 1
    answers = ordered_map(partial(_points, backend), units, workers, ahead=2 * workers)
    rows: list[dict] = []
    done = 0
    for (i, _, _), points in answers:
        while done < i:  # every read of chunk `done` is in: it is complete
            yield chunks[done], metric_frame(rows)
            rows, done = [], done + 1
        rows += points
    for i in range(done, len(chunks)):
        yield chunks[i], metric_frame(rows)
        rows = []


def _points(backend: Any, unit: tuple[int, str, list[str]]) -> list[dict]:
    _, key, run_ids = unit
    bulk = getattr(backend, "metric_history_bulk", None)
    if bulk is not None:
        return [metric_row(run_id, point) for run_id, point in bulk(run_ids, key)]
    return [
        metric_row(run_id, point)
        for run_id in run_ids
        for point in backend.metric_history(run_id, key)
    ]


def _by_key(run_ids: list[str], current: dict) -> list[tuple[str, list[str]]]:
    """(key, the runs of ``run_ids`` that have it), keys sorted: one bulk read each."""
    by_key: dict[str, list[str]] = {}
    for run_id in run_ids:
        for key in current[run_id][1]:
            by_key.setdefault(key, []).append(run_id)
    return sorted(by_key.items())
