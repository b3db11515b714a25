"""Policies: thresholds on metric values, evaluated by ``mlreport check`` and ``run``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from mlreport.config import Config


@dataclass
class PolicyResult:
    metric: str
    entity: str
    dimensions: dict[str, Any]
    value: float | None
    min: float | None
    max: float | None
    severity: str
    passed: bool

    @property
    def message(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        where = f"{self.entity}" + (f" ({dims})" if dims else "")
        bound = []
        if self.min is not None:
            bound.append(f">= {self.min:g}")
        if self.max is not None:
            bound.append(f"<= {self.max:g}")
        state = "ok" if self.passed else ("FAIL" if self.severity == "error" else "WARN")
        value = "no data" if self.value is None else f"{self.value:.4g}"
        return f"{state:4} {self.metric} {where}: {value} (policy {' and '.join(bound)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "entity": self.entity,
            "dimensions": self.dimensions,
            "value": self.value,
            "min": self.min,
            "max": self.max,
            "severity": self.severity,
            "passed": self.passed,
        }


def evaluate(config: Config, values: pl.DataFrame) -> list[PolicyResult]:
    """Check each policy against matching metric rows.

    A policy without ``stat`` checks rows that have no ``stat`` dimension or ``stat = p50``.
    A value of null (no data) passes: an empty window is reported, not failed.
    """
    results = []
    for metric, policy in sorted(config.policies.items()):
        rows = values.filter(pl.col("metric") == metric)
        if policy.entity:
            rows = rows.filter(pl.col("entity") == policy.entity)
        for row in rows.iter_rows(named=True):
            dims = json.loads(row["dimensions"])
            stat = dims.get("stat")
            if (policy.stat and stat != policy.stat) or (
                not policy.stat and stat not in (None, "p50")
            ):
                continue
            value = row["value"]
            ok = value is None or (
                (policy.min is None or value >= policy.min)
                and (policy.max is None or value <= policy.max)
            )
            results.append(
                PolicyResult(
                    metric,
                    row["entity"],
                    dims,
                    value,
                    policy.min,
                    policy.max,
                    policy.severity,
                    ok,
                )
            )
    return results


def outcome(p: PolicyResult | None) -> dict[str, Any] | None:
    """What a report shows of a policy check: its bounds, severity and whether it passed."""
    if p is None:
        return None
    return {"min": p.min, "max": p.max, "severity": p.severity, "passed": p.passed}


def chart_bound(config: Config, metric: str, entity: str) -> dict[str, Any] | None:
    """The line a trend chart draws for ``metric`` of ``entity``: the bound of the policy that
    applies to its headline (no stat, or p50); ``max`` first when a policy has both."""
    for name, p in sorted(config.policies.items()):
        if name == metric and p.entity in (None, entity) and p.stat in (None, "p50"):
            if p.max is not None:
                return {"kind": "max", "value": p.max}
            if p.min is not None:
                return {"kind": "min", "value": p.min}
    return None


def failed(results: list[PolicyResult]) -> bool:
    return any(not r.passed and r.severity == "error" for r in results)
