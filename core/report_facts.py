"""What every report type draws on, read from the stored run: the metric table, its series
by period, policy outcomes, which families are installed or failed, entity facts and notes.

A report type adds only its sections and templates on top of these (delivery, quality and
models do; the cost and governance reports will).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from mlreport.metrics import Window, canonical_dimensions, installed_families, split_window
from mlreport.policies import PolicyResult, evaluate, outcome
from mlreport.reporting import ReportContext
from mlreport.times import iso

Key = tuple[str, str, str]  # metric, entity, canonical dimensions


def key(row: dict[str, Any]) -> Key:
    return (row["metric"], row["entity"], canonical_dimensions(row["dimensions"]))


def key_of(metric: str, entity: str, dims: dict[str, Any]) -> Key:
    return (metric, entity, canonical_dimensions({k: v for k, v in dims.items() if v is not None}))


@dataclass
class MetricTable:
    """One window's rows (``rows``) and, when asked for, their series by period."""

    frame: pl.DataFrame
    rows: dict[Key, dict[str, Any]]
    periods: list[Window] = field(default_factory=list)
    series: dict[Key, dict[datetime, dict[str, Any]]] = field(default_factory=dict)


def metric_table(ctx: ReportContext, prefixes: tuple[str, ...], by: str | None = None):
    """The run's rows of metrics starting with any of ``prefixes``: for the report window,
    and for each ``by`` period of it when ``by`` is set."""
    current = _select(ctx, [ctx.window], prefixes)
    table = MetricTable(current, {key(r): r for r in current.iter_rows(named=True)})
    if by:
        table.periods = split_window(ctx.window, by)
        for r in _select(ctx, table.periods, prefixes).iter_rows(named=True):
            table.series.setdefault(key(r), {})[r["window_start"]] = r
    return table


def _select(ctx: ReportContext, windows: list[Window], prefixes: tuple[str, ...]):
    frames = [ctx.values(windows, p) for p in prefixes]
    return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]


def policy_outcomes(ctx: ReportContext, frame: pl.DataFrame) -> dict[Key, PolicyResult]:
    """Each policy result on ``frame``, keyed like the metric table."""
    return {
        (p.metric, p.entity, canonical_dimensions(p.dimensions)): p
        for p in evaluate(ctx.config, frame)
    }


def policy(
    policies: dict[Key, PolicyResult], metric: str, entity: str, dims: dict[str, Any]
) -> dict[str, Any] | None:
    """What a report shows of the policy on one value (None: no policy applies)."""
    return outcome(policies.get(key_of(metric, entity, dims)))


def installed(prefix: str) -> bool:
    """Whether an installed family provides metrics named ``<prefix>.*``."""
    return any(
        fam.name == prefix or any(m.name.startswith(prefix + ".") for m in fam.metrics)
        for fam in installed_families()
    )


def failed_families(ctx: ReportContext, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The families of ``prefixes`` that raised in the run, with their errors."""
    failures = ctx.run.failures if ctx.run else {}
    return {f: e for f, e in sorted(failures.items()) if f in prefixes}


def entity_info(ctx: ReportContext) -> dict[str, dict[str, Any]]:
    """Kind, owner, team and risk tier per entity name (the first kind when a name has two)."""
    frame = ctx.warehouse.query(
        "SELECT name, kind, owner, team, risk_tier FROM entities ORDER BY name, kind"
    )
    info: dict[str, dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        info.setdefault(r["name"], {k: r[k] for k in ("kind", "owner", "team", "risk_tier")})
    return info


def window_json(ctx: ReportContext) -> dict[str, str | None]:
    """The report window as every report's JSON shows it."""
    return {"since": iso(ctx.window.start), "until": iso(ctx.window.end)}


def periods_json(periods: list[Window]) -> list[dict[str, str | None]]:
    """The periods of a series (weeks, months) as every report's JSON shows them."""
    return [{"start": iso(w.start), "end": iso(w.end)} for w in periods]


def count_kinds(notes: list[dict[str, Any]]) -> dict[str, int]:
    """How many notes (or findings) of each kind, in the order the kinds first appear."""
    counts: dict[str, int] = {}
    for n in notes:
        counts[n["kind"]] = counts.get(n["kind"], 0) + 1
    return counts


def sort_notes(notes: list[dict[str, Any]], kinds: dict[str, str], *fields: str) -> None:
    """Notes in the order their kinds are declared, then by ``fields`` (None first)."""
    order = list(kinds)
    notes.sort(key=lambda n: (order.index(n["kind"]), *(n.get(f) or "" for f in fields)))
