"""Policies: thresholds on metric values, evaluated by ``mlreport check`` and ``run``.

They fail closed: a policy naming a metric, stat or entity that does not exist is refused with
"did you mean", and one that finds no value to check is an error unless marked ``optional``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from mlreport.config import Config


class PolicyError(ValueError):
    """A policy names something that does not exist, or could not be evaluated."""


def check_policies(config: Config, entities: list[str] | None = None) -> None:
    """Refuse policies on a metric no installed family declares, a stat the metric does not
    emit, or (given the known ``entities``) an entity nobody reports on."""
    from mlreport.metrics import declared_info, installed_families

    infos = {m.name: m for fam in installed_families() for m in fam.metrics}
    problems = []
    for metric, policy in sorted(config.policies.items()):
        where = f"[policies] {metric!r}"
        info = declared_info(metric, infos)
        if info is None:
            problems.append(f"{where}: no installed metric family has it{_close(metric, infos)}")
            continue
        stats = info.stats
        if policy.stat is not None and policy.stat not in stats:
            known = f"; it has {', '.join(stats)}" if stats else "; it has no stat"
            problems.append(f"{where}: stat {policy.stat!r} is not one of the metric's{known}")
        if policy.entity is not None and entities is not None and policy.entity not in entities:
            problems.append(
                f"{where}: no entity {policy.entity!r}{_close(policy.entity, entities)}"
            )
    if problems:
        raise PolicyError("\n".join(problems))


def _close(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unevaluated(config: Config, results: list[PolicyResult]) -> list[str]:
    """Policies (not ``optional``) that found no value to check, as messages."""
    checked = {r.metric for r in results}
    out = []
    for metric, policy in sorted(config.policies.items()):
        if metric in checked or policy.optional:
            continue
        scope = f" for entity {policy.entity!r}" if policy.entity else ""
        stat = f" with stat {policy.stat!r}" if policy.stat else ""
        out.append(
            f"policy {metric!r}{scope}{stat} could not be evaluated: no value in the window "
            "(is the family failing, or the entity idle?); mark it optional = true if that "
            "is expected"
        )
    return out


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
