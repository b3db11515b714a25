"""The scans behind the ``cost`` family: sums of cost rows and counts of predictions per window.

Both return small frames (sufficient statistics): cost sums per window, source, entity,
allocation, currency and service category; prediction counts per window and entity. Window
bounds travel as parameters. A cost row is in a window when its ``charge_period_start`` is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mlreport.engines import DEFAULT_ENGINE, ViewScan, view_connection
from mlreport.metrics import MetricContext, Window
from mlreport.prediction_logs import prediction_logs
from mlreport.sources import source_options
from mlreport.sql import quote_identifier
from mlreport.warehouse import Warehouse

WINDOWS = (
    "(SELECT unnest(?::INTEGER[]) AS i, unnest(?::TIMESTAMPTZ[]) AS ws, "
    "unnest(?::TIMESTAMPTZ[]) AS we)"
)


def _params(windows: Sequence[Window]) -> list:
    return [list(range(len(windows))), [w.start for w in windows], [w.end for w in windows]]


def check_files(warehouse: Warehouse) -> None:
    """Refuse to compute over export files that changed since their sync: the views read the
    files in place, and a file rewritten since (by a re-delivery, or by hand) would be
    counted unchecked. Compares sizes only (no read); the next sync re-fingerprints."""
    rows = warehouse.con.execute("SELECT export, files FROM cost_exports ORDER BY 1").fetchall()
    for export, files in rows:
        for f in json.loads(files):
            path = Path(f["path"])
            size = path.stat().st_size if path.exists() else None
            if size != f["bytes"]:
                now = "is gone" if size is None else f"has {size} bytes, not {f['bytes']}"
                raise ValueError(
                    f"source {export!r}: {path} {now} since the last sync; run "
                    f"`mlreport sync {export}` first"
                )


# `basis`: rows of these providers (the opencost source's) allocate spend a bill also holds
# (docs/metrics-cost.md); every other row, and every FOCUS export's, is a bill line.
ALLOCATORS = ("OpenCost", "Kubecost")
ALLOCATORS_SQL = "(" + ", ".join(f"'{p}'" for p in ALLOCATORS) + ")"

# The heavy group-by: few group keys make the scan cheap (a row is direct when it has an
# entity, shared when `shared_source`, its source kept for shared rows only, is set, else
# unattributed). `{relation}` is `cost_rows` on DuckDB, or one source's view on its engine.
SUMS_SQL = """
    SELECT w.i, r.entity, r.shared_source, r.currency, r.service_category,
           CASE WHEN r.provider IN {allocators} THEN 'allocation' ELSE 'bill' END AS basis,
           sum(r.effective_cost) AS effective, sum(r.billed_cost) AS billed,
           sum(r.list_cost) AS list, count(*) AS n
    FROM (SELECT entity, CASE WHEN allocation = 'shared' THEN source END AS shared_source,
                 currency, service_category, provider, effective_cost, billed_cost, list_cost,
                 charge_period_start
          FROM {relation} WHERE charge_period_start >= ? AND charge_period_start < ?) r
    JOIN {windows} w ON r.charge_period_start >= w.ws AND r.charge_period_start < w.we
    GROUP BY ALL
"""
SUM_KEYS = ["i", "entity", "shared_source", "currency", "service_category", "basis"]


def sums_sql(relation: str) -> str:
    return SUMS_SQL.format(relation=relation, windows=WINDOWS, allocators=ALLOCATORS_SQL)


def engine_scans(ctx: MetricContext) -> list[tuple[ViewScan, Any]]:
    """The ``focus`` sources whose group-by runs on another engine (``engine = "spark"``),
    each with its view defined there (docs/engines.md)."""
    from mlreport.connectors.focus.scans import view_scan

    out = []
    for name, opts in source_options(ctx.config, "focus").items():
        if getattr(opts, "engine", DEFAULT_ENGINE) != DEFAULT_ENGINE:
            scan = view_scan(ctx.warehouse, name, opts)
            if scan is not None:  # not synced yet: no rows anywhere
                out.append((scan, view_connection(ctx, scan)))
    return out


def file_sums(ctx: MetricContext) -> list[tuple[str, str]]:
    """``(source, SQL)`` of the DuckDB ``focus`` sources whose sums can be taken from their
    files directly (connectors/focus/sums.py: one pass, mapped after grouping), i.e. whose
    view the last sync built with the options the config has now."""
    from mlreport.connectors.focus.sums import sums_sql, synced_files

    out = []
    for name, opts in source_options(ctx.config, "focus").items():
        if getattr(opts, "engine", DEFAULT_ENGINE) != DEFAULT_ENGINE:
            continue
        files = synced_files(ctx.warehouse, name, opts.digest())
        if files:
            out.append((name, sums_sql(name, opts, files, ALLOCATORS_SQL)))
    return out


def cost_sums(
    warehouse: Warehouse,
    windows: Sequence[Window],
    remote: Sequence[tuple[ViewScan, Any]] = (),
    direct: Sequence[tuple[str, str]] = (),
) -> pl.DataFrame:
    """Exact (DECIMAL) sums of effective, billed and list cost and row counts per window
    index ``i``, entity, allocation (``direct``, ``shared`` or null), currency, service
    category and basis (``bill`` or ``allocation``), with the shared rows' ``shared_split``
    (``none`` for sources that are not FOCUS exports). The sources in ``remote`` are summed
    on their engine, those in
    ``direct`` (``file_sums``) from their files, the rest through ``cost_rows``."""
    span = [min(w.start for w in windows), max(w.end for w in windows)]
    params = span + _params(windows)
    moved = [scan.source for scan, _ in remote] + [source for source, _ in direct]
    relation, local_params = "cost_rows", params
    if moved:
        marks = ", ".join("?" for _ in moved)
        relation = f"(SELECT * FROM cost_rows WHERE source NOT IN ({marks}))"
        local_params = moved + params
    frame = warehouse.query(sums_sql(relation), local_params)
    if remote or direct:
        parts = [frame] + [_remote_sums(scan, con, params) for scan, con in remote]
        parts += [warehouse.query(sql, _params(windows)) for _, sql in direct]
        parts = [p.select([pl.col(c).cast(t) for c, t in frame.schema.items()]) for p in parts]
        sums = [c for c in frame.columns if c not in SUM_KEYS]
        frame = pl.concat(parts).group_by(SUM_KEYS).agg(pl.col(c).sum() for c in sums)
    # One row order whatever the engines: the float steps after (shares, splits) add in it.
    frame = frame.sort(SUM_KEYS, nulls_last=True)
    splits = warehouse.query("SELECT export AS shared_source, shared_split FROM cost_exports")
    frame = frame.join(splits, on="shared_source", how="left").with_columns(
        pl.col("shared_split").fill_null("none"),
        pl.when(pl.col("entity").is_not_null())
        .then(pl.lit("direct"))
        .when(pl.col("shared_source").is_not_null())
        .then(pl.lit("shared"))
        .alias("allocation"),
    )
    return frame


def _remote_sums(scan: ViewScan, con: Any, params: list) -> pl.DataFrame:
    """The group-by over one source's view on its engine: only the small result comes back."""
    sql = sums_sql(quote_identifier(scan.view))
    return pl.from_arrow(con.execute(sql, params).arrow())


def prediction_counts(warehouse: Warehouse, windows: Sequence[Window]) -> pl.DataFrame:
    """Predictions per window index ``i`` and entity: rows of the entity's prediction logs;
    for an entity without a log, the sum of its ``requests`` usage rows."""
    frames = []
    logged: set[str] = set()
    for log in prediction_logs(warehouse):
        logged.add(log.entity)
        sql = (
            f"SELECT w.i, count(*) AS predictions FROM {quote_identifier(log.view)} p "
            f"JOIN {WINDOWS} w ON p.ts >= w.ws AND p.ts < w.we GROUP BY w.i"
        )
        part = warehouse.query(sql, _params(windows))
        frames.append(part.with_columns(pl.lit(log.entity).alias("entity")))
    usage = warehouse.query(
        f"SELECT w.i, u.entity, sum(u.value) AS predictions FROM usage u "
        f"JOIN {WINDOWS} w ON u.ts >= w.ws AND u.ts < w.we "
        "WHERE u.metric = 'requests' AND u.value IS NOT NULL GROUP BY ALL",
        _params(windows),
    )
    frames.append(usage.filter(~pl.col("entity").is_in(sorted(logged))))
    schema = {"i": pl.Int64, "entity": pl.String, "predictions": pl.Float64}
    frames = [f.select([pl.col(c).cast(t) for c, t in schema.items()]) for f in frames]
    out = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return out.group_by(["i", "entity"]).agg(pl.col("predictions").sum())
