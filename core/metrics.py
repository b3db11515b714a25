"""Metric families, windows, grading against band tables, and the ``metric_values`` history."""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatch, fnmatchcase
from typing import Any, ClassVar, TypedDict

import polars as pl

from mlreport.config import BandLevel, Config
from mlreport.times import iso, parse_time, utcnow
from mlreport.warehouse import Warehouse

log = logging.getLogger("mlreport")

METRIC_COLUMNS = [
    "metric",
    "entity",
    "window_start",
    "window_end",
    "dimensions",
    "value",
    "unit",
    "n",
    "band",
]


class MetricRow(TypedDict):
    """One row a family's ``compute`` returns (as a dict, or a column of a polars frame).

    ``dimensions`` is a dict (e.g. ``{"environment": "production", "stat": "p50"}``); the
    kernel adds ``band`` by grading ``value``."""

    metric: str
    entity: str
    window_start: datetime
    window_end: datetime
    dimensions: dict[str, Any]
    value: float | None
    unit: str
    n: int | None


@dataclass(frozen=True)
class Window:
    """A half-open interval ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


@dataclass(frozen=True)
class MetricInfo:
    name: str  # full dotted name
    unit: str
    description: str
    stats: tuple[str, ...] = ()  # e.g. ("p50", "p75", "p90")
    higher_is_better: bool | None = None


@dataclass
class MetricContext:
    warehouse: Warehouse
    config: Config
    windows: list[Window]
    entities: list[str] | None = None  # None: every entity
    # Families computed in one run share loaded data here, keyed by a name they choose.
    cache: dict[str, Any] = field(default_factory=dict)
    family: str = ""  # the family computing now (set by the kernel)
    # The windows whose detail rows a report will read (a subset of ``windows``): families
    # publish details for these only, so a weekly trend does not cost a confusion matrix a week.
    detail_windows: list[Window] = field(default_factory=list)
    published: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def span(self) -> Window:
        return Window(min(w.start for w in self.windows), max(w.end for w in self.windows))

    def publish(self, name: str, frame: pl.DataFrame) -> None:
        """Offer detail rows to reports as table ``details.<name>`` (``<family>_<what>``).

        Reports never call a family: what a chart needs beyond the metric values (the
        commits a deployment shipped, confusion counts, drift bins) is published here and
        stored with the run's values."""
        mine = not self.family or name.startswith(self.family + "_")
        if not DETAIL_NAME.fullmatch(name) or not mine:
            raise ValueError(
                f"family {self.family!r} cannot publish {name!r}: detail names are "
                f"'{self.family}_<lowercase words>'"
            )
        if "metric_run_id" in frame.columns:
            raise ValueError(f"{name}: the column metric_run_id is the kernel's; rename it")
        self.published[name] = frame


DETAIL_NAME = re.compile(r"[a-z][a-z0-9_]*")


class MetricFamily:
    """Base of metric plugins. ``compute`` returns rows with the keys of ``METRIC_COLUMNS``
    minus ``band`` (the kernel grades), as a polars frame or an iterable of dicts."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[MetricInfo, ...]] = ()
    band_tables: ClassVar[dict[str, dict[str, list[BandLevel]]]] = {}

    def compute(self, ctx: MetricContext) -> pl.DataFrame | Iterable[MetricRow]:
        raise NotImplementedError


# -- windows -------------------------------------------------------------------------------


def default_window(
    config: Config, since: Any = None, until: Any = None, as_of: Any = None
) -> Window:
    end = parse_time(until, "--until") or parse_time(as_of, "--as-of") or utcnow()
    start = parse_time(since, "--since") or end - timedelta(days=config.metrics.window_days)
    if start >= end:
        raise ValueError(f"--since ({start:%Y-%m-%d}) must be before --until ({end:%Y-%m-%d})")
    return Window(start, end)


def split_window(window: Window, by: str | None) -> list[Window]:
    """Cut ``window`` at ISO week (Monday) or calendar month boundaries."""
    if by is None:
        return [window]
    if by not in ("week", "month"):
        raise ValueError(f"--by must be week or month, not {by!r}")
    cuts = [window.start]
    day = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while True:
        if by == "week":
            day = day - timedelta(days=day.weekday()) + timedelta(days=7)
        else:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        if day >= window.end:
            break
        if day > cuts[-1]:
            cuts.append(day)
    cuts.append(window.end)
    return [Window(a, b) for a, b in zip(cuts, cuts[1:], strict=False)]


# -- bands ---------------------------------------------------------------------------------


@dataclass
class BandTables:
    """Named grading tables: metric (or ``metric:stat``) -> levels, best first.

    A value gets the first level with ``min <= value <= max`` (either bound optional).
    """

    tables: dict[str, dict[str, list[BandLevel]]] = field(default_factory=dict)

    def grade(self, table: str, metric: str, stat: str | None, value: float | None):
        levels = self.tables.get(table, {})
        key = f"{metric}:{stat}" if stat and f"{metric}:{stat}" in levels else metric
        if value is None or key not in levels:
            return None
        for level in levels[key]:
            if (level.min is None or value >= level.min) and (
                level.max is None or value <= level.max
            ):
                return level.band
        return None


def band_tables(config: Config, families: Iterable[type[MetricFamily]]) -> BandTables:
    tables: dict[str, dict[str, list[BandLevel]]] = {}
    for fam in families:
        for tname, metrics in fam.band_tables.items():
            tables.setdefault(tname, {}).update(metrics)
    for tname, metrics in config.metrics.band_tables.items():
        tables.setdefault(tname, {}).update(metrics)
    return BandTables(tables)


# -- computing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRequest:
    """Metrics wanted by a glob over names (or family names), for these windows, and whether
    the families' published detail rows are wanted for them too."""

    pattern: str
    windows: tuple[Window, ...]
    details: bool = False

    def wants(self, family: type[MetricFamily]) -> bool:
        return fnmatch(family.name, self.pattern) or any(
            name_matches(m.name, self.pattern) for m in family.metrics
        )


@dataclass
class MetricRun:
    """What one computation produced: graded rows, the families that computed or failed,
    and the detail frames they published. ``run_id`` is set once it is stored."""

    values: pl.DataFrame
    families: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    details: dict[str, pl.DataFrame] = field(default_factory=dict)
    run_id: str | None = None


def is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


def name_matches(declared: str, pattern: str) -> bool:
    """Whether a declared metric name meets a requested glob. A family whose metric names come
    from config (``usage.<query>``) declares a glob, which a request for one such name meets."""
    return fnmatch(declared, pattern) or (is_pattern(declared) and fnmatch(pattern, declared))


def declared_info(name: str, infos: dict[str, MetricInfo]) -> MetricInfo | None:
    """The declaration of metric ``name``: its own, else a declared glob it matches."""
    if name in infos:
        return infos[name]
    return next((i for n, i in infos.items() if is_pattern(n) and fnmatchcase(name, n)), None)


def installed_families() -> list[type[MetricFamily]]:
    """The registered metric families, by name."""
    from mlreport.plugin_manager import get_plugins

    registry = get_plugins().metrics()
    return [registry.get(n) for n in registry.names()]


def run_metrics(
    warehouse: Warehouse,
    config: Config,
    requests: Sequence[MetricRequest],
    entities: list[str] | None = None,
    isolate: bool = True,
) -> MetricRun:
    """Compute each family that a request wants exactly once, over the union of the windows
    its requests ask for, and grade the rows.

    With ``isolate`` a family that raises or returns malformed rows is recorded in
    ``failures`` and the others go on (the nightly job must not lose every report to one
    plugin); without it the error propagates.
    """
    families = installed_families()
    ctx = MetricContext(warehouse, config, [], entities)
    run = MetricRun(_as_frame([]))
    frames = []
    for fam in families:
        wanted = [r for r in requests if r.wants(fam)]
        if not wanted:
            continue
        ctx.windows = list(dict.fromkeys(w for r in wanted for w in r.windows))
        ctx.detail_windows = list(dict.fromkeys(w for r in wanted if r.details for w in r.windows))
        ctx.family, ctx.published = fam.name, {}
        try:
            frame = _keep(_checked(_as_frame(fam().compute(ctx)), fam), wanted, entities)
        except Exception as exc:
            if not isolate:
                raise
            run.failures[fam.name] = f"{type(exc).__name__}: {exc}"
            log.warning("metric family %s failed: %s", fam.name, run.failures[fam.name])
            continue
        finally:
            warehouse.settle()
        frames.append(frame)
        run.families.append(fam.name)
        run.details.update(ctx.published)
    result = pl.concat(frames, how="vertical") if frames else _as_frame([])
    result = _grade(result, config, band_tables(config, families))
    run.values = result.sort(["metric", "entity", "window_start", "dimensions"])
    return run


def metric_catalogue() -> list[str]:
    """Every metric name the installed families declare, sorted."""
    return sorted({m.name for fam in installed_families() for m in fam.metrics})


def check_patterns(patterns: Sequence[str]) -> None:
    """Refuse a glob that names no installed metric (or family), listing close names: a
    misspelt ``--metric`` must not look like an empty result."""
    names = metric_catalogue()
    families = sorted({n.split(".")[0] for n in names})
    for pattern in patterns:
        if any(name_matches(n, pattern) for n in names) or any(
            fnmatch(f, pattern) for f in families
        ):
            continue
        close = difflib.get_close_matches(pattern.rstrip("*").rstrip("."), names + families, 5, 0.5)
        hint = f"; close: {', '.join(close)}" if close else f"; families: {', '.join(families)}"
        raise ValueError(f"--metric {pattern!r} matches no installed metric{hint}")


REQUIRED = ("metric", "entity", "window_start", "window_end", "dimensions")


def _checked(frame: pl.DataFrame, family: type[MetricFamily]) -> pl.DataFrame:
    """A family's rows as the kernel can store them: every key column set, every metric one
    the family declares; anything else is the family's error, not a half-stored run."""
    missing = [c for c in REQUIRED if frame.get_column(c).null_count()]
    if missing:
        raise ValueError(
            f"rows without {', '.join(missing)} (each row needs {', '.join(REQUIRED)})"
        )
    declared = {m.name: m for m in family.metrics}
    names = set(frame.get_column("metric").unique().to_list())
    unknown = sorted(n for n in names if declared_info(n, declared) is None)
    if unknown and declared:
        raise ValueError(f"rows of undeclared metrics {', '.join(unknown[:5])}")
    return frame


def _keep(
    frame: pl.DataFrame, requests: list[MetricRequest], entities: list[str] | None
) -> pl.DataFrame:
    """The rows of metrics some request names. Windows are not filtered: a family may give
    window-free facts in a window of its own (``explain`` uses the reference window)."""
    names = frame.get_column("metric").unique().to_list()
    wanted = [m for m in names if any(fnmatch(m, r.pattern) for r in requests)]
    frame = frame.filter(pl.col("metric").is_in(wanted))
    return frame.filter(pl.col("entity").is_in(entities)) if entities else frame


def compute_metrics(
    warehouse: Warehouse,
    config: Config,
    windows: list[Window],
    pattern: str | Sequence[str] = "*",
    entities: list[str] | None = None,
    store: bool = True,
) -> pl.DataFrame:
    """Compute every family with a metric matching ``pattern`` (or any of several); grade;
    keep the history."""
    from mlreport.metric_store import store_run

    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    requests = [MetricRequest(p, tuple(windows)) for p in patterns]
    run = run_metrics(warehouse, config, requests, entities, isolate=False)
    if store and run.values.height and not warehouse.read_only:
        store_run(warehouse, run)
    return run.values


def _as_frame(rows: pl.DataFrame | Iterable[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "metric": pl.String,
        "entity": pl.String,
        "window_start": pl.Datetime("us", "UTC"),
        "window_end": pl.Datetime("us", "UTC"),
        "dimensions": pl.String,
        "value": pl.Float64,
        "unit": pl.String,
        "n": pl.Int64,
    }
    if not isinstance(rows, pl.DataFrame):
        rows = [{**r, "dimensions": canonical_dimensions(r.get("dimensions"))} for r in rows]
        return pl.DataFrame(rows, schema=schema)
    frame = rows
    if frame.height and frame.schema.get("dimensions") != pl.String:
        frame = frame.with_columns(
            pl.col("dimensions").map_elements(canonical_dimensions, pl.String)
        )
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def canonical_dimensions(dims: Any) -> str:
    if dims is None:
        return "{}"
    if isinstance(dims, str):
        dims = json.loads(dims)
    return json.dumps(dims, sort_keys=True, separators=(",", ":"))


def _grade(frame: pl.DataFrame, config: Config, tables: BandTables) -> pl.DataFrame:
    table = config.metrics.bands
    bands = [
        tables.grade(table, m, json.loads(d).get("stat"), v)
        for m, d, v in zip(frame["metric"], frame["dimensions"], frame["value"], strict=True)
    ]
    return frame.with_columns(
        pl.Series("band", bands, dtype=pl.String),
        pl.Series("band_table", [table if b else None for b in bands], dtype=pl.String),
    )


def to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The JSON shape of ``metrics --format json``: exactly METRIC_COLUMNS, ISO UTC times."""
    out = []
    for row in frame.select(METRIC_COLUMNS).iter_rows(named=True):
        row["window_start"] = iso(row["window_start"])
        row["window_end"] = iso(row["window_end"])
        row["dimensions"] = json.loads(row["dimensions"])
        out.append(row)
    return out
