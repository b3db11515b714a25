"""The ``prometheus`` source: named PromQL queries over ``/api/v1/query_range`` into ``usage``.

Each query is its own stream with its own cursor (the last evaluation time read and a
fingerprint of the query). A sync reads the steps after the cursor, plus the last
``reread_steps`` steps again (late scrapes, remote-write delay), up to the last step that has
ended, ``max_points`` steps per request. A counter's row at ``ts`` holds
``increase(query[step])`` evaluated at ``ts + step``: the increase during ``[ts, ts + step)``
with Prometheus' reset handling and extrapolation (docs/sources-prometheus.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl

from mlreport.config import Config
from mlreport.connectors.http_options import USAGE_SCHEMA, HttpSource
from mlreport.connectors.prometheus.options import PrometheusOptions, PromQuery
from mlreport.sources import Checkpoint, Rows, SourceError, Stream
from mlreport.times import utcnow

log = logging.getLogger("mlreport.prometheus")

UNLABELLED = "__unallocated__"  # series without the entity label stay visible under this name


class PrometheusSource(HttpSource):
    """Serving and resource usage per entity from Prometheus."""

    Options = PrometheusOptions

    def __init__(self, name: str, options: PrometheusOptions, config: Config) -> None:
        super().__init__(name, options, config)
        self.options: PrometheusOptions = options

    def streams(self) -> list[Stream]:
        return [
            Stream(f"usage:{q}", "usage", ("source", "entity", "metric", "ts"))
            for q in self.options.queries
        ]

    def check(self) -> str:
        body = self._get("/api/v1/status/buildinfo", {}, "status")
        version = (body.get("data") or {}).get("version", "?") if isinstance(body, dict) else "?"
        return f"ok: {self.options.url} (Prometheus {version})"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        name = stream.name.split(":", 1)[1]
        query = self.options.queries[name]
        step = query.step_seconds
        first, previous = self._first(query, cursor)
        last = int(utcnow().timestamp()) // step * step
        chunk = self.options.max_points
        t = first
        while t <= last:
            end = min(t + (chunk - 1) * step, last)
            yield Rows(self._range(name, query, t, end))
            yield Checkpoint({"last": max(end, previous), "fingerprint": query.fingerprint()})
            t = end + step

    def _first(self, query: PromQuery, cursor: Any) -> tuple[int, int]:
        """The first evaluation time to read, and the cursor's last one (or -1)."""
        step = query.step_seconds
        start = -(-int(query.start.timestamp()) // step) * step  # start rounded up to a step
        first = start + step if query.kind == "counter" else start
        if isinstance(cursor, dict) and cursor.get("fingerprint") == query.fingerprint():
            last = cursor.get("last")
            if isinstance(last, int):
                return max(first, last + step - query.reread_steps * step), last
        return first, -1

    def _range(self, name: str, query: PromQuery, start: int, end: int) -> pl.DataFrame:
        params = {
            "query": query.promql,
            "start": str(start),
            "end": str(end),
            "step": str(query.step_seconds),
        }
        body = self._get("/api/v1/query_range", params, name)
        where = f"source {self.name!r}: query {name!r}"
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or body.get("status") != "success":
            raise SourceError(f"{where}: the answer is not a successful query_range result")
        for warning in body.get("warnings") or []:
            log.warning("%s: Prometheus warns: %s", where, str(warning)[:300])
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise SourceError(f"{where}: expected a matrix result, got {data.get('resultType')!r}")
        result = data["result"]
        if not result:
            log.warning("%s: no series between %s and %s", where, _iso(start), _iso(end))
        if len(result) > self.options.max_series:
            raise SourceError(
                f"{where}: {len(result)} series, more than max_series = "
                f"{self.options.max_series}; aggregate by the entity label or narrow the selector"
            )
        shift = query.step_seconds if query.kind == "counter" else 0
        rows = []
        for series in result:
            entity = _entity(series, query.label, where)
            for ts, value in _values(series, where):
                rows.append((entity, datetime.fromtimestamp(ts - shift, UTC), value))
        frame = pl.DataFrame(rows, schema=["entity", "ts", "value"], orient="row")
        return (
            frame.select(
                pl.col("entity").cast(pl.String),
                pl.lit(name).alias("metric"),
                pl.col("ts").cast(pl.Datetime("us", "UTC")),
                pl.col("value").cast(pl.Float64),
                pl.lit(query.kind).alias("kind"),
                pl.lit(query.unit).cast(pl.String).alias("unit"),
                pl.lit(float(query.step_seconds)).alias("step_seconds"),
            )
            if rows
            else pl.DataFrame(schema=USAGE_SCHEMA)
        )

    def _get(self, path: str, params: dict[str, str], what: str) -> Any:
        try:
            return self.client.get_json(path, params=params)
        except SourceError as exc:
            raise SourceError(f"source {self.name!r}: query {what!r}: {exc}") from None
        finally:
            self.count("requests", self.client.requests - self.reads.get("requests", 0))


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entity(series: Any, label: str, where: str) -> str:
    if not isinstance(series, dict) or not isinstance(series.get("metric"), dict):
        raise SourceError(f"{where}: a series without its 'metric' labels")
    value = series["metric"].get(label)
    return value if isinstance(value, str) and value else UNLABELLED


def _values(series: dict, where: str) -> Iterator[tuple[int, float | None]]:
    """(unix seconds, value) pairs; NaN and infinities are stored as NULL."""
    for pair in series.get("values") or []:
        try:
            ts, text = pair
            value = float(text)
            seconds = int(round(float(ts)))
        except (TypeError, ValueError):
            raise SourceError(f'{where}: a sample {pair!r} is not [time, "value"]') from None
        yield seconds, value if math.isfinite(value) else None
