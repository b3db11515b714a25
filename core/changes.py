"""What changed since the previous run: policy failures that are new or resolved, and the
largest moves of metric values, from two stored metrics runs.

Computed in the kernel from ``metric_values`` (never by a report), so every report's "Since
last run" block, the notification and ``mlreport diff`` say the same thing. The previous run
of a run is the latest stored one of the same scope (entities) with an earlier ``as_of``:
rendering again for the same as-of finds the same previous run, so outputs stay
byte-identical. Both runs are judged by the *current* policies, so a change means the data
moved, not the thresholds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import polars as pl

from mlreport.config import Config
from mlreport.metric_store import RunScope, StoredRun, has_scopes, load_run
from mlreport.metrics import Window, canonical_dimensions
from mlreport.policies import PolicyResult, evaluate
from mlreport.times import iso
from mlreport.warehouse import Warehouse

MOVES_SHOWN = 10  # the largest moves a report, a message or ``diff`` lists

Key = tuple[str, str, str]  # metric, entity, canonical dimensions


def previous_run(warehouse: Warehouse, run: StoredRun) -> StoredRun | None:
    """The run ``run`` follows: of the same scope (entities) and an earlier as-of, the latest
    that computed (or tried) every family ``run`` did — so an ad-hoc ``report delivery``
    during the day, which computes only delivery's families, does not become the nightly
    run's "previous" and hide the quality changes; failing that (a family newly installed),
    simply the latest. None for a first run or a run of ``metrics`` / ``check``."""
    if run.scope is None or not has_scopes(warehouse):
        return None
    rows = warehouse.con.execute(
        "SELECT run_id, families, failures FROM metric_runs WHERE as_of < ? AND run_id <> ? "
        "AND CAST(scope AS VARCHAR) IS NOT DISTINCT FROM ? "
        "ORDER BY as_of DESC, computed_at DESC, run_id",
        [run.scope.as_of, run.run_id, run.scope.entities_json],
    ).fetchall()
    if not rows:
        return None
    wanted = _attempted(run.families, run.failures)
    for run_id, families, failures in rows:
        if wanted <= _attempted(json.loads(families), json.loads(failures)):
            return load_run(warehouse, run_id)
    return load_run(warehouse, rows[0][0])


def _attempted(families: list[str], failures: dict[str, str]) -> set[str]:
    return set(families) | set(failures)


def main_window(run: StoredRun) -> Window | None:
    """The window a run is compared in: its stored main window; for runs stored before that
    was recorded, the window ending last and, of those, the longest (the report window,
    not one of its weeks)."""
    if run.scope is not None:
        return run.scope.window
    if run.values.is_empty():
        return None
    bounds = run.values.select("window_start", "window_end").unique()
    best = max(bounds.iter_rows(), key=lambda b: (b[1], b[1] - b[0]))
    return Window(best[0], best[1])


@dataclass
class Changes:
    """Two runs compared: what a report's block, a message and ``diff`` show."""

    before: StoredRun | None
    after: StoredRun
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    resolved_failures: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    moved: int = 0  # values that changed, of which ``moves`` lists the largest

    @property
    def changed(self) -> bool:
        """Whether a policy outcome changed (a first run counts as a change)."""
        return self.before is None or bool(self.new_failures or self.resolved_failures)

    def as_json(self, with_ids: bool = False) -> dict[str, Any]:
        """The block as JSON; run ids only on request (they differ between re-runs, and a
        report must be byte-identical for the same warehouse, config and as-of)."""
        out = {
            "previous": _run_json(self.before, with_ids) if self.before else None,
            "current": _run_json(self.after, with_ids),
            "new_failures": self.new_failures,
            "resolved_failures": self.resolved_failures,
            "moves": self.moves,
            "moved": self.moved,
        }
        if not with_ids:
            del out["current"]
        return out


def _run_json(run: StoredRun, with_ids: bool) -> dict[str, Any]:
    window = main_window(run)
    out: dict[str, Any] = {
        "as_of": iso(run.scope.as_of) if run.scope else None,
        "window": {"since": iso(window.start), "until": iso(window.end)} if window else None,
    }
    if with_ids:
        out["run_id"] = run.run_id
    return out


def compare(
    config: Config,
    before: StoredRun | None,
    after: StoredRun,
    entities: list[str] | None = None,
    patterns: list[str] | None = None,
    limit: int = MOVES_SHOWN,
) -> Changes:
    """Compare ``after`` with ``before`` in their main windows, limited to ``entities`` and
    metrics matching ``patterns`` (globs) when given; the ``limit`` largest moves (0: all)."""
    changes = Changes(before, after)
    if before is None:
        return changes
    old, new = _rows(before, entities, patterns), _rows(after, entities, patterns)
    old_policies, new_policies = _policies(config, old), _policies(config, new)
    old_metrics, new_metrics = set(before.values["metric"]), set(after.values["metric"])
    units = dict(zip(old["metric"], old["unit"], strict=True))
    units.update(zip(new["metric"], new["unit"], strict=True))
    changes.new_failures = _newly_failing(new_policies, old_policies, old_metrics, units)
    changes.resolved_failures = _newly_failing(old_policies, new_policies, new_metrics, units)
    changes.moves, changes.moved = _moves(old, new, limit)
    return changes


def since_last_run(
    warehouse: Warehouse,
    config: Config,
    run: StoredRun,
    entities: list[str] | None = None,
    patterns: list[str] | None = None,
) -> Changes:
    """``run`` compared with the run before it."""
    return compare(config, previous_run(warehouse, run), run, entities, patterns)


def _rows(run: StoredRun, entities: list[str] | None, patterns: list[str] | None):
    window = main_window(run)
    frame = run.select([window] if window else [], entities=entities)
    if patterns:
        names = [m for m in frame["metric"].unique().to_list() if _wanted(m, patterns)]
        frame = frame.filter(pl.col("metric").is_in(names))
    return frame


def _wanted(metric: str, patterns: list[str]) -> bool:
    """A metric named by a glob over metric names, or over its family (prefix) name."""
    family = metric.split(".")[0]
    return any(fnmatch(metric, p) or fnmatch(family, p) for p in patterns)


def _policies(config: Config, frame: pl.DataFrame) -> dict[Key, PolicyResult]:
    return {
        (p.metric, p.entity, canonical_dimensions(p.dimensions)): p for p in evaluate(config, frame)
    }


def _newly_failing(
    now: dict[Key, PolicyResult],
    then: dict[Key, PolicyResult],
    then_metrics: set[str],
    units: dict[str, str | None],
) -> list[dict[str, Any]]:
    """Results failing in ``now`` that were not failing in ``then``: passing there, or
    absent although ``then`` computed the metric (a metric it did not compute at all, say
    its family failed, is not compared)."""
    out = []
    for k, p in sorted(now.items()):
        other = then.get(k)
        if p.passed or (other is not None and not other.passed) or p.metric not in then_metrics:
            continue
        out.append(
            {
                "metric": p.metric,
                "entity": p.entity,
                "dimensions": p.dimensions,
                "unit": units.get(p.metric),
                "severity": p.severity,
                "min": p.min,
                "max": p.max,
                "failing_value": p.value,
                "other_value": other.value if other is not None else None,
            }
        )
    return out


def _moves(old: pl.DataFrame, new: pl.DataFrame, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Values of keys in both runs that changed, a value appearing or vanishing included
    (recovery time once a first failure is resolved); largest relative change first (from
    zero, or to or from no value, first of all), then by name; and how many changed."""
    before = {_key(r): _or_none(r["value"]) for r in old.iter_rows(named=True)}
    moved = []
    for r in new.iter_rows(named=True):
        k, after = _key(r), _or_none(r["value"])
        if k not in before:
            continue
        prior = before[k]
        if prior is None and after is None:
            continue
        both = prior is not None and after is not None
        if both and math.isclose(prior, after, rel_tol=1e-9, abs_tol=1e-12):
            continue
        change = after - prior if both else None
        moved.append(
            {
                "metric": r["metric"],
                "entity": r["entity"],
                "dimensions": _dims(k[2]),
                "unit": r["unit"],
                "before": prior,
                "after": after,
                "change": change,
                "relative": change / abs(prior) if both and prior != 0 else None,
            }
        )
    moved.sort(key=lambda m: (-_size(m["relative"]), m["metric"], m["entity"], _key(m)[2]))
    return (moved[:limit] if limit else moved), len(moved)


def _size(relative: float | None) -> float:
    return math.inf if relative is None else abs(relative)


def _or_none(value: Any) -> float | None:
    """A stored value, None when missing or not finite (NaN has no before or after)."""
    finite = isinstance(value, int | float) and math.isfinite(value)
    return float(value) if finite else None


def _key(row: dict[str, Any]) -> Key:
    dims = row["dimensions"]
    return (row["metric"], row["entity"], canonical_dimensions(dims))


def _dims(canonical: str) -> dict[str, Any]:
    return json.loads(canonical)


def report_changes(ctx: Any, patterns: list[str]) -> dict[str, Any] | None:
    """The "Since last run" block of a report: its run against the previous one, for its
    entities and metrics; None when the report has no stored run to compare."""
    if ctx.run is None or ctx.run.scope is None:
        return None
    changes = since_last_run(ctx.warehouse, ctx.config, ctx.run, ctx.entities, patterns)
    return changes.as_json()


__all__ = [
    "Changes",
    "RunScope",
    "compare",
    "main_window",
    "previous_run",
    "report_changes",
    "since_last_run",
]
