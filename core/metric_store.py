"""Storing a metrics run and reading it back: the one route from metric to report.

``mlreport run`` (and ``report`` on its own) computes once and stores the run; reports then
read that run's rows of ``metric_values`` and the detail tables its families published, so a
number reaches a report by exactly one route.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from mlreport.metrics import METRIC_COLUMNS, MetricRun, Window
from mlreport.times import to_utc, utcnow
from mlreport.warehouse import Warehouse, registered

DETAILS_SCHEMA = "details"
RUN_COLUMN = "metric_run_id"  # the run that wrote a detail row (families keep ``run_id``)
KEY = ("run_id", "metric", "entity", "window_start", "window_end", "dimensions")


@dataclass(frozen=True)
class RunScope:
    """What a ``run`` or ``report`` computed a metrics run for: its as-of, main window and the
    entities it was limited to. "Since last run" compares runs of the same scope."""

    as_of: datetime
    window: Window
    entities: tuple[str, ...] | None = None

    @property
    def entities_json(self) -> str | None:
        return json.dumps(sorted(self.entities)) if self.entities else None


def store_run(warehouse: Warehouse, run: MetricRun, scope: RunScope | None = None) -> str:
    """Write the run's values, its record and its detail tables in one transaction."""
    run.run_id = uuid.uuid4().hex
    now = utcnow()
    rows = run.values.with_columns(
        pl.lit(run.run_id).alias("run_id"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("computed_at"),
    )
    with warehouse.transaction() as con:
        warehouse.upsert("metric_values", rows, KEY)
        for name, frame in sorted(run.details.items()):
            with registered(con, frame) as batch:
                con.execute(
                    f'CREATE OR REPLACE TABLE {DETAILS_SCHEMA}."{name}" AS '
                    f"SELECT ?::VARCHAR AS {RUN_COLUMN}, * FROM {batch}",
                    [run.run_id],
                )
        con.execute(
            "INSERT INTO metric_runs (run_id, computed_at, families, failures, details, as_of, "
            "window_start, window_end, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                now,
                json.dumps(run.families),
                json.dumps(run.failures, sort_keys=True),
                json.dumps(sorted(run.details)),
                scope.as_of if scope else None,
                scope.window.start if scope else None,
                scope.window.end if scope else None,
                scope.entities_json if scope else None,
            ],
        )
    return run.run_id


@dataclass
class StoredRun:
    """One stored metrics run as reports read it."""

    run_id: str
    values: pl.DataFrame
    families: list[str]
    failures: dict[str, str]
    detail_names: list[str]
    _details: dict[str, pl.DataFrame] = field(default_factory=dict)
    scope: RunScope | None = None  # None for runs of ``metrics`` and ``check``

    def select(
        self,
        windows: list[Window] | None = None,
        prefix: str | None = None,
        entities: list[str] | None = None,
    ) -> pl.DataFrame:
        """Rows in any of ``windows``, of metrics starting ``prefix``, of ``entities``."""
        frame = self.values
        if prefix:
            frame = frame.filter(pl.col("metric").str.starts_with(prefix))
        if entities:
            frame = frame.filter(pl.col("entity").is_in(entities))
        if windows is not None:
            bounds = ("window_start", "window_end")
            keys = pl.DataFrame(
                [(w.start, w.end) for w in windows],
                schema={c: frame.schema[c] for c in bounds},
                orient="row",
            ).unique()
            frame = frame.join(keys, on=list(bounds), how="semi")
        return frame

    def detail(self, name: str, warehouse: Warehouse) -> pl.DataFrame | None:
        """The rows ``details.<name>`` holds for this run; None when no family published it."""
        if name not in self.detail_names:
            return None
        if name not in self._details:
            self._details[name] = warehouse.query(
                f'SELECT * EXCLUDE ({RUN_COLUMN}) FROM {DETAILS_SCHEMA}."{name}" '
                f"WHERE {RUN_COLUMN} = ?",
                [self.run_id],
            )
        return self._details[name]


def has_scopes(warehouse: Warehouse) -> bool:
    """Whether runs record their scope (migration 008; a warehouse opened read-only may be
    older)."""
    return "as_of" in warehouse.columns("metric_runs")


def load_run(warehouse: Warehouse, run_id: str) -> StoredRun:
    """Read a stored run back; its values in the order ``run_metrics`` returns them."""
    scoped = has_scopes(warehouse)
    record = warehouse.con.execute(
        "SELECT families, failures, details, "
        + ("as_of, window_start, window_end, scope" if scoped else "NULL, NULL, NULL, NULL")
        + " FROM metric_runs WHERE run_id = ?",
        [run_id],
    ).fetchall()
    if not record:
        raise LookupError(f"no metrics run {run_id!r} in the warehouse")
    families, failures, details = (json.loads(v) for v in record[0][:3])
    as_of, start, end, entities = record[0][3:]
    scope = None
    if as_of is not None and start is not None and end is not None:
        names = tuple(json.loads(entities)) if entities else None
        scope = RunScope(to_utc(as_of), Window(to_utc(start), to_utc(end)), names)
    values = warehouse.query(
        f"SELECT {', '.join(METRIC_COLUMNS)}, band_table FROM metric_values WHERE run_id = ? "
        "ORDER BY metric, entity, window_start, dimensions, window_end",
        [run_id],
    )
    return StoredRun(run_id, _typed(values), families, failures, details, scope=scope)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("window_start").cast(pl.Datetime("us", "UTC")),
        pl.col("window_end").cast(pl.Datetime("us", "UTC")),
    )
