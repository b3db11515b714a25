"""The ``opencost`` source: daily allocations by a Kubernetes label into ``costs`` and ``usage``.

Each sync asks ``GET /allocation`` (Kubecost: ``/model/allocation``) for whole UTC days with
``step=1d``, ``accumulate=false`` and ``aggregate=label:<key>``, ``chunk_days`` days per
request. OpenCost keeps revising recent days (late metrics, reconciliation with the bill), so
the cursor only passes a day once it is ``settle_days`` old: younger days are re-read and their
rows replaced (upsert on the row's day, name and component). Today is read tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl

from mlreport.config import Config
from mlreport.connectors.http_options import HttpSource
from mlreport.connectors.opencost.options import OpencostOptions
from mlreport.connectors.opencost.rows import AllocationRows, allocation_sets
from mlreport.sources import Checkpoint, Rows, SourceError, Stream
from mlreport.times import utcnow


class OpencostSource(HttpSource):
    """Kubernetes cost allocation per label value (an entity), day by day."""

    Options = OpencostOptions

    def __init__(self, name: str, options: OpencostOptions, config: Config) -> None:
        super().__init__(name, options, config)
        self.options: OpencostOptions = options
        self._fetched: dict[tuple[date, date], tuple[pl.DataFrame, pl.DataFrame]] = {}

    def streams(self) -> list[Stream]:
        return [
            Stream("costs", "costs", ("source", "row_id"), "entity"),
            # usage rows keep __idle__ / __unallocated__ as their entity, so they add no entities
            Stream("usage", "usage", ("source", "entity", "metric", "ts")),
        ]

    def check(self) -> str:
        today = utcnow().date()
        costs, _ = self._fetch(today - timedelta(days=1), today)
        return f"ok: {self.options.url}{self.options.path} ({costs.height} cost rows yesterday)"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        today = utcnow().date()
        first = self._first_day(cursor)
        settled_by = today - timedelta(days=self.options.settle_days)
        day = first
        while day < today:
            end = min(day + timedelta(days=self.options.chunk_days), today)
            costs, usage = self._fetch(day, end)
            yield Rows(costs if stream.table == "costs" else usage)
            settled = max(first, min(end, settled_by))
            yield Checkpoint({"settled_until": settled.isoformat(), **self._identity()})
            day = end

    def _identity(self) -> dict[str, str]:
        """What the stored rows depend on: a new label or API re-reads from ``start``."""
        return {"aggregate": self.options.aggregate, "api": self.options.api}

    def _first_day(self, cursor: Any) -> date:
        start = self.options.start
        if not isinstance(cursor, dict) or any(
            cursor.get(k) != v for k, v in self._identity().items()
        ):
            return start
        try:
            return max(start, date.fromisoformat(cursor["settled_until"]))
        except (KeyError, TypeError, ValueError):
            return start

    def _fetch(self, first: date, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows of the whole days ``[first, end)``; one request, shared by both streams."""
        if (first, end) in self._fetched:
            return self._fetched[(first, end)]
        opts = self.options
        window = f"{first.isoformat()}T00:00:00Z,{end.isoformat()}T00:00:00Z"
        params = {
            "window": window,
            "step": "1d",
            "aggregate": opts.aggregate,
            "accumulate": "false",
        }
        params["includeIdle" if opts.api == "opencost" else "idle"] = "true"
        where = f"source {self.name!r}: GET {opts.path} window {window}"
        try:
            body = self.client.get_json(opts.path, params=params)
        except SourceError as exc:
            raise SourceError(f"source {self.name!r}: {exc}") from None
        finally:
            self.count("requests", self.client.requests - self.reads.get("requests", 0))
        provider = "OpenCost" if opts.api == "opencost" else "Kubecost"
        rows = AllocationRows(where, provider, opts.currency, opts.label, opts.entity_map)
        for alloc_set in allocation_sets(body, where):
            for key, alloc in alloc_set.items():
                rows.add(key, alloc)
        costs, usage = rows.frames()
        _check_days(costs, first, end, where)
        self._fetched[(first, end)] = (costs, usage)
        return costs, usage


def _check_days(costs: pl.DataFrame, first: date, end: date, where: str) -> None:
    """Refuse allocations outside the asked days (a proxy's cache, a server on local time)."""
    if costs.height == 0:
        return
    days = costs.get_column("charge_period_start").dt.date()
    low, high = days.min(), days.max()
    if low < first or high >= end:
        raise SourceError(
            f"{where}: the answer holds days {low} .. {high}, outside the asked window; "
            "check that the server runs on UTC and no proxy caches the API"
        )
