"""The canonical ``deployments`` and ``incidents`` tables, and how rows become them.

Every reader (CSV, JSON lines, CDEvents) produces a frame of text columns plus ``__line``;
:func:`validate` types it once, vectorised, and names the earliest bad line, so all formats
share one set of rules and error messages. ``sample_data`` writes its files from these specs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from mlreport.sources import SourceError

LINE = "__line"  # the physical, 1-based line a row came from (header = line 1)
UTC_US = pl.Datetime("us", "UTC")


# -- the canonical tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """What a file of one canonical table may and must contain."""

    table: str
    id_column: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    timestamps: tuple[str, ...]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    ordered: tuple[tuple[str, str], ...] = ()  # (earlier, later) timestamp pairs
    unique_ids: bool = True  # an id may appear once per file
    # enum columns read leniently: case, '-', ' ' and '/' ignored, then these synonyms mapped
    synonyms: dict[str, dict[str, str]] = field(default_factory=dict)


# How a deployment was rolled out (NULL: unknown); the names Kubernetes (RollingUpdate,
# Recreate) and Argo Rollouts (canary, blueGreen) use are read as these.
STRATEGIES = ("rolling", "recreate", "canary", "blue_green", "shadow")
STRATEGY_SYNONYMS = {
    "rollingupdate": "rolling",
    "rolling_update": "rolling",
    "ramped": "rolling",
    "bluegreen": "blue_green",
    "mirror": "shadow",
    "mirrored": "shadow",
}

DEPLOYMENTS = TableSpec(
    table="deployments",
    id_column="deployment_id",
    columns=(
        "deployment_id",
        "entity",
        "environment",
        "version",
        "commit_sha",
        "model_version",
        "started_at",
        "finished_at",
        "status",
        "kind",
        "trigger",
        "strategy",
    ),
    required=("deployment_id", "entity", "environment", "finished_at", "status"),
    timestamps=("started_at", "finished_at"),
    enums={
        "status": ("success", "failure", "rolled_back"),
        "kind": ("planned", "hotfix", "rollback"),
        "trigger": ("automated", "manual"),
        "strategy": STRATEGIES,
    },
    defaults={"kind": "planned"},
    ordered=(("started_at", "finished_at"),),
    synonyms={"strategy": STRATEGY_SYNONYMS},
)

INCIDENTS = TableSpec(
    table="incidents",
    id_column="incident_id",
    columns=(
        "incident_id",
        "entity",
        "environment",
        "severity",
        "detected_at",
        "resolved_at",
        "cause_deployment_id",
        "title",
    ),
    required=("incident_id", "entity", "detected_at"),
    timestamps=("detected_at", "resolved_at"),
    ordered=(("detected_at", "resolved_at"),),
)

SPECS = {"deployments": DEPLOYMENTS, "incidents": INCIDENTS}


# -- validation -------------------------------------------------------------------------------


@dataclass(order=True)
class Problem:
    line: int
    column: str
    message: str
    count: int = 1


def validate(
    frame: pl.DataFrame,
    spec: TableSpec,
    file: str,
    labels: dict[str, str] | None = None,
    earlier_ids: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Text columns to canonical types; the earliest bad line is raised as a SourceError.

    ``labels`` renames columns in messages (CDEvents name the JSON field instead).
    ``earlier_ids``: the id column and ``__line`` of the file's blocks read before this one,
    so an id repeated across blocks is caught like one repeated within a block.
    """
    labels = labels or {}
    frame = frame.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in spec.columns
    ).with_columns(pl.col(c).fill_null(pl.lit(v)) for c, v in spec.defaults.items())
    raw, frame = (
        frame,
        frame.with_columns(_lenient(pl.col(c), names) for c, names in spec.synonyms.items()),
    )
    typed = frame.with_columns(parse_timestamps(frame[c]) for c in spec.timestamps)
    problems = [
        *_required_problems(frame, spec),
        *_enum_problems(frame, raw, spec),
        *_timestamp_problems(frame, typed, spec),
        *_order_problems(typed, spec),
        *_duplicate_problems(frame, spec),
        *_earlier_duplicate_problems(frame, spec, earlier_ids),
    ]
    if problems:
        first = min(problems)
        label = labels.get(first.column, first.column)
        more = f" ({first.count - 1} more line(s) with this problem)" if first.count > 1 else ""
        raise SourceError(f"{file}: line {first.line}: column {label!r}: {first.message}{more}")
    return typed.select([*spec.columns, LINE])


def _first(frame: pl.DataFrame, bad: pl.Expr) -> tuple[int, Any, int] | None:
    hits = frame.filter(bad)
    if hits.height == 0:
        return None
    return int(hits[LINE].min()), hits.sort(LINE).row(0, named=True), hits.height


def _required_problems(frame: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    for column in spec.required:
        found = _first(frame, pl.col(column).is_null())
        if found:
            yield Problem(found[0], column, "a value is required here", found[2])


def _lenient(value: pl.Expr, synonyms: dict[str, str]) -> pl.Expr:
    """An enum value with case, '-', ' ' and '/' ignored and synonyms mapped."""
    key = value.str.to_lowercase().str.replace_all(r"[-\s/]+", "_")
    return key.replace(synonyms)


def _enum_problems(frame: pl.DataFrame, raw: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    """Values outside an enum; the message shows the value as the file wrote it."""
    for column, allowed in spec.enums.items():
        both = frame.select(LINE, column).with_columns(raw[column].alias("__raw"))
        found = _first(both, pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed))
        if found:
            value = found[1]["__raw"]
            hint = ""
            if column in spec.synonyms:
                hint = "; case, '-' and spaces are ignored, e.g. 'Blue-Green', 'RollingUpdate'"
            yield Problem(
                found[0],
                column,
                f"unknown value {_clip(value)!r} (allowed: {', '.join(allowed)}{hint})",
                found[2],
            )


def _timestamp_problems(
    raw: pl.DataFrame, typed: pl.DataFrame, spec: TableSpec
) -> Iterator[Problem]:
    both = raw.select(LINE, *[pl.col(c).alias(f"raw_{c}") for c in spec.timestamps]).with_columns(
        typed.select(spec.timestamps)
    )
    for column in spec.timestamps:
        found = _first(both, pl.col(f"raw_{column}").is_not_null() & pl.col(column).is_null())
        if found:
            value = found[1][f"raw_{column}"]
            yield Problem(found[0], column, timestamp_problem(value), found[2])


def _order_problems(typed: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    for earlier, later in spec.ordered:
        found = _first(typed, pl.col(later) < pl.col(earlier))
        if found:
            row = found[1]
            yield Problem(
                found[0],
                later,
                f"{later} {_iso(row[later])} is before {earlier} {_iso(row[earlier])}",
                found[2],
            )


def _duplicate_problems(frame: pl.DataFrame, spec: TableSpec) -> Iterator[Problem]:
    if not spec.unique_ids:
        return
    key = spec.id_column
    if frame[key].drop_nulls().n_unique() == frame[key].drop_nulls().len():
        return
    dupes = frame.filter(pl.col(key).is_not_null() & pl.col(key).is_duplicated())
    if dupes.height == 0:
        return
    dupes = dupes.sort(LINE)
    value = dupes[key][0]
    lines = dupes.filter(pl.col(key) == value)[LINE].to_list()
    yield Problem(
        int(lines[1]),
        key,
        f"duplicate {key} {_clip(value)!r}, also on line {lines[0]} "
        "(each id may appear once per file)",
        dupes.select(pl.col(key).n_unique()).item(),
    )


def _earlier_duplicate_problems(
    frame: pl.DataFrame, spec: TableSpec, earlier: pl.DataFrame | None
) -> Iterator[Problem]:
    """Ids of this block that an earlier block of the same file already had."""
    if not spec.unique_ids or earlier is None or earlier.height == 0:
        return
    key = spec.id_column
    hits = (
        frame.select(key, LINE)
        .filter(pl.col(key).is_not_null())
        .join(earlier.rename({LINE: "__first"}), on=key, how="inner")
        .sort(LINE)
    )
    if hits.height == 0:
        return
    row = hits.row(0, named=True)
    yield Problem(
        int(row[LINE]),
        key,
        f"duplicate {key} {_clip(row[key])!r}, also on line {row['__first']} "
        "(each id may appear once per file)",
        hits.select(pl.col(key).n_unique()).item(),
    )


def _clip(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "?"


# -- timestamps -------------------------------------------------------------------------------

_TIMESTAMP = (
    r"^(\d{4})-(\d{2})-(\d{2})"  # date
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"  # time, optional seconds
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"  # zone; none means UTC
)


_TIMESTAMP_RE = re.compile(_TIMESTAMP)
# Second 60 (a leap second): chrono would read it as the next second's start, which is a
# different, later time than the file says; refused instead (docs/sources-events.md).
_LEAP_SECOND = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:60"
# A year-like start, to name a year outside FIRST_TIME..LAST_TIME ("+10000", "-0001", "0000");
# at most 12 digits, so int() stays cheap (and under Python's limit on digits).
_YEAR_RE = re.compile(r"^([+-]?\d{1,12})-\d")

# The times a timestamp may be, in UTC: years 1..9999, what Python's datetime (and so every
# report and query result) can hold. Year 0 or 10000 would be stored but crash whoever reads it.
FIRST_TIME = datetime(1, 1, 1, tzinfo=UTC)
LAST_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# Exact formats tried first, in order, on the values not parsed yet: they cover nearly every
# file and are an order of magnitude faster than the general path below.
_QUICK_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
)


def parse_timestamps(values: pl.Series) -> pl.Series:
    """ISO 8601 text to ``Datetime("us", "UTC")``; null where the text is not a timestamp.

    A timestamp without a zone is UTC; fractions finer than a microsecond are truncated.
    Leap seconds and times outside :data:`FIRST_TIME` .. :data:`LAST_TIME` are null (see
    :func:`timestamp_problem` for why).
    """
    result = _parse_any_year(values)
    outside = ~result.is_between(FIRST_TIME, LAST_TIME).fill_null(True)
    if outside.any():
        result = result.scatter(outside.arg_true(), None)
    return result


def _parse_any_year(values: pl.Series) -> pl.Series:
    """:func:`parse_timestamps` without the range check: year 0, or 10000 after an offset.

    Only text matching the ISO pattern is parsed at all, so the quick formats cannot let
    through something the general path would refuse.
    """
    result = pl.Series(values.name, [None] * values.len(), dtype=UTC_US)
    todo = values.str.contains(_TIMESTAMP).fill_null(False)
    if values.str.contains(":60", literal=True).any():  # cheap: the regex only when needed
        todo &= ~values.str.contains(_LEAP_SECOND).fill_null(False)
    for fmt in _QUICK_FORMATS:
        if not todo.any():
            return result
        index = todo.arg_true()
        parsed = values.gather(index).str.to_datetime(fmt, time_unit="us", strict=False)
        if parsed.dtype.time_zone is None:  # type: ignore[union-attr]
            parsed = parsed.dt.replace_time_zone("UTC")
        done = parsed.is_not_null()
        result = result.scatter(index.filter(done), parsed.filter(done))
        todo = todo.scatter(index.filter(done), False)
    if todo.any():
        index = todo.arg_true()
        rest = pl.DataFrame({"v": values.gather(index)}).select(parse_timestamp(pl.col("v")))
        result = result.scatter(index, rest.to_series())
    return result


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """The general path of :func:`parse_timestamps`, as an expression over text."""
    g = text.str.extract_groups(_TIMESTAMP)
    naive = pl.concat_str(
        g.struct.field("1"),
        pl.lit("-"),
        g.struct.field("2"),
        pl.lit("-"),
        g.struct.field("3"),
        pl.lit(" "),
        g.struct.field("4").fill_null("00"),
        pl.lit(":"),
        g.struct.field("5").fill_null("00"),
        pl.lit(":"),
        g.struct.field("6").fill_null("00"),
    ).str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
    micros = g.struct.field("7").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    zone = g.struct.field("8").str.replace(":", "", literal=True)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    hours = zone.str.slice(1, 2).replace("", None).cast(pl.Int64, strict=False).fill_null(0)
    minutes = zone.str.slice(3, 2).replace("", None).cast(pl.Int64, strict=False).fill_null(0)
    offset = (
        pl.when(zone.str.to_uppercase() == "Z").then(0).otherwise(sign * (hours * 60 + minutes))
    )
    valid_zone = zone.is_null() | ((hours < 24) & (minutes < 60))
    value = naive + pl.duration(microseconds=micros) - pl.duration(minutes=offset.fill_null(0))
    return pl.when(valid_zone).then(value).otherwise(None).dt.replace_time_zone("UTC")


def timestamp_problem(value: str) -> str:
    """Why :func:`parse_timestamps` refused ``value``: the error message's text.

    Runs in Python on one value per column, only when a block has a bad timestamp.
    """
    shown = _clip(value)
    match = _TIMESTAMP_RE.match(value)
    if match and match.group(6) == "60":
        fixed = value[: match.start(6)] + "59" + value[match.end(6) :]
        if parse_timestamps(pl.Series([fixed]))[0] is not None:
            return (
                f"leap seconds are not supported: {shown!r} (use :59, e.g. {_clip(fixed)!r}; "
                "Python and DuckDB times have no second 60)"
            )
    year = _YEAR_RE.match(value)
    if year and not FIRST_TIME.year <= int(year.group(1)) <= LAST_TIME.year:
        return (
            f"year {year.group(1)} is outside 0001..9999: {shown!r} "
            "(write a four-digit year from 0001 to 9999)"
        )
    # A valid time that an offset moves out of range: 0001-01-01T00:30+01:00 is in year 0.
    micros = _parse_any_year(pl.Series([value])).cast(pl.Int64)[0] if match else None
    if micros is not None:
        edge, bound = (
            ("before", FIRST_TIME) if micros < _micros(FIRST_TIME) else ("after", LAST_TIME)
        )
        return (
            f"{shown!r} is {edge} {_iso(bound)} in UTC, outside the years 0001..9999 "
            "(timestamps are stored in UTC; check the year and the offset)"
        )
    return (
        f"not an ISO 8601 timestamp: {shown!r} (expected e.g. "
        "2026-03-01T14:30:00Z, 2026-03-01T16:30:00+02:00 or 2026-03-01)"
    )


def _micros(moment: datetime) -> int:
    return pl.Series([moment], dtype=UTC_US).cast(pl.Int64)[0]
