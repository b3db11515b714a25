"""Evidence for the governance report: one function per evidence id of the compliance map,
each reading only what is stored (warehouse tables, the run's metric values and policy
outcomes, the registry history the lifecycle family published) and never computing a metric.

Each returns an :class:`Evidence`: met / partial / missing, one plain sentence saying why, the
numbers next to their thresholds (``facts``) and detail rows. A table or column the warehouse
does not have yet is "not recorded": the evidence is missing (or partial) and says so, rather
than failing the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mlreport.metrics import Window
from mlreport.policies import PolicyResult
from mlreport.reports.charts.numbers import format_value
from mlreport.reports.governance.settings import GovernanceSettings
from mlreport.reports.models_registry import Move, Registry
from mlreport.times import iso
from mlreport.warehouse import Warehouse

Key = tuple[str, str, str]  # metric, entity, canonical dimensions
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Fact:
    """One number (or short value) with its unit and the threshold it is held to."""

    label: str
    value: float | int | str | None
    unit: str = ""  # "ratio", "days", "hours", "minutes", a metric's unit; "" for counts
    threshold: str | None = None


@dataclass(frozen=True)
class Evidence:
    id: str
    status: str  # met | partial | missing
    summary: str  # one plain sentence
    facts: tuple[Fact, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "facts": [asdict(f) for f in self.facts],
            "rows": [dict(r) for r in self.rows],
        }


@dataclass
class Inputs:
    """What every evidence function may read for one model and the report window."""

    warehouse: Warehouse
    window: Window
    model: str
    settings: GovernanceSettings | None
    metrics: dict[Key, dict[str, Any]]  # the run's rows of this model in the window
    policies: dict[Key, PolicyResult]  # policy outcomes on those rows
    registry: Registry | None  # the lifecycle family's published registry history
    signing: dict[str, Any] = field(default_factory=dict)  # configured signer, key id
    cache: dict[str, Any] = field(default_factory=dict)

    # -- warehouse shape -----------------------------------------------------------------------

    def lacks(self, table: str, *columns: str) -> str | None:
        """Why ``table`` (with ``columns``) cannot be read, or None when it can."""
        if table not in self.warehouse.tables():
            return f"the warehouse has no {table} table yet"
        have = set(self.warehouse.columns(table))
        gone = [c for c in columns if c not in have]
        if gone:
            return f"the warehouse's {table} table has no {', '.join(gone)} column"
        return None

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return self.warehouse.query(sql, params).to_dicts()

    # -- the registry --------------------------------------------------------------------------

    def production(self) -> list[tuple[str, str, str]]:
        """(source, alias, version) held by production aliases at the window end."""
        if self.registry is None:
            return []
        held = self.registry.production_at(self.window.end)
        return sorted({(s, a, v) for s, n, a, v in held if n == self.model})

    def moves(self) -> list[Move]:
        """Production alias moves of this model inside the window, in time order."""
        if self.registry is None:
            return []
        w = self.window
        return [m for m in self.registry.moves if m.name == self.model and w.start <= m.at < w.end]

    def version_row(self, source: str, version: str) -> dict[str, Any]:
        if self.registry is None:
            return {}
        return self.registry.version_row(source, self.model, version) or {}

    # -- metric values -------------------------------------------------------------------------

    def rows_of(self, prefix: str) -> list[tuple[Key, dict[str, Any]]]:
        return sorted((k, r) for k, r in self.metrics.items() if k[0].startswith(prefix))

    def value(self, metric: str, **dims: Any) -> dict[str, Any] | None:
        """The row of ``metric`` whose dimensions are exactly ``dims`` (or, without ``dims``,
        the un-sliced one)."""
        want = json.dumps(dims, sort_keys=True) if dims else "{}"
        for k, r in self.metrics.items():
            if k[0] == metric and json.loads(k[2]) == json.loads(want):
                return r
        return None

    def policy(self, key: Key) -> PolicyResult | None:
        return self.policies.get(key)


def bounds(p: PolicyResult | None, unit: str | None = "") -> str | None:
    """A policy's threshold in words; ratios in % as their values are shown: "≥ 80%"."""
    if p is None:
        return None

    def shown(x: float) -> str:
        return format_value(x, unit) if unit == "ratio" else f"{x:g}"

    if p.min is not None and p.max is not None:
        return f"between {shown(p.min)} and {shown(p.max)}"
    if p.min is not None:
        return f"≥ {shown(p.min)}"
    return f"≤ {shown(p.max)}" if p.max is not None else None


def share_status(good: int, total: int) -> str:
    """met when every one is good, missing when none (or nothing to judge), partial between."""
    if total and good == total:
        return "met"
    return "partial" if good else "missing"


def when(value: Any) -> str | None:
    return iso(value) if value is not None else None


def as_tags(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


EvidenceFn = Callable[[Inputs], Evidence]


def functions() -> dict[str, EvidenceFn]:
    """Every evidence function by the compliance map id it measures."""
    from mlreport.reports.governance import (
        evidence_change,
        evidence_lineage,
        evidence_monitoring,
        evidence_release,
    )

    found: dict[str, EvidenceFn] = {}
    for module in (evidence_lineage, evidence_release, evidence_monitoring, evidence_change):
        found.update(module.EVIDENCE)
    return found


def collect(inputs: Inputs, ids: list[str]) -> dict[str, Evidence]:
    """The evidence of ``ids`` for one model; ids no function measures are left out (the
    compliance map then counts them as "not measured")."""
    fns = functions()
    return {i: fns[i](inputs) for i in ids if i in fns}
