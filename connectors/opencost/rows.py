"""OpenCost allocation sets -> ``costs`` and ``usage`` rows.

One allocation (a label value on one day) gives a cost row per component and usage rows for
its resource hours and efficiency. Components carry OpenCost's reconciliation adjustments:
``list_cost`` is the on-demand price OpenCost computed, ``effective_cost`` adds the
``*CostAdjustment`` it applied; ``billed_cost`` stays NULL (an allocation is not an invoice).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import polars as pl

from mlreport.connectors.http_options import USAGE_SCHEMA
from mlreport.sources import SourceError

# component -> (cost field, adjustment field or None, FOCUS ServiceCategory)
COMPONENTS: dict[str, tuple[str, str | None, str]] = {
    "cpu": ("cpuCost", "cpuCostAdjustment", "Compute"),
    "gpu": ("gpuCost", "gpuCostAdjustment", "Compute"),
    "ram": ("ramCost", "ramCostAdjustment", "Compute"),
    "pv": ("pvCost", "pvCostAdjustment", "Storage"),
    "network": ("networkCost", "networkCostAdjustment", "Networking"),
    "loadBalancer": ("loadBalancerCost", "loadBalancerCostAdjustment", "Networking"),
    "shared": ("sharedCost", None, "Other"),
}
# usage metric -> (kind, unit)
USAGE = {
    "cpu_core_hours": ("counter", "core-hours"),
    "gpu_hours": ("counter", "gpu-hours"),
    "ram_byte_hours": ("counter", "byte-hours"),
    "cpu_core_request_hours": ("counter", "core-hours"),
    "cpu_core_usage_hours": ("counter", "core-hours"),
    "ram_byte_request_hours": ("counter", "byte-hours"),
    "ram_byte_usage_hours": ("counter", "byte-hours"),
    "cpu_efficiency": ("ratio", "ratio"),
    "ram_efficiency": ("ratio", "ratio"),
    "total_efficiency": ("ratio", "ratio"),
}
SPECIAL = ("__idle__", "__unallocated__", "__unmounted__")

COST_SCHEMA = {
    "row_id": pl.String,
    "charge_period_start": pl.Datetime("us", "UTC"),
    "charge_period_end": pl.Datetime("us", "UTC"),
    "billed_cost": pl.Decimal(38, 10),
    "effective_cost": pl.Decimal(38, 10),
    "list_cost": pl.Decimal(38, 10),
    "currency": pl.String,
    "provider": pl.String,
    "service_name": pl.String,
    "service_category": pl.String,
    "resource_id": pl.String,
    "region": pl.String,
    "tags": pl.String,
    "entity": pl.String,
}


def entity_of(name: str, entity_map: dict[str, str]) -> str | None:
    """The entity an allocation name (a label value) belongs to; None for OpenCost's own
    ``__idle__``/``__unallocated__`` buckets, which stay visible by name in tags and usage."""
    for pattern, entity in entity_map.items():
        if fnmatchcase(name, pattern):
            return entity
    return None if name in SPECIAL else name


def allocation_sets(body: Any, where: str) -> list[dict[str, dict]]:
    """The ``data`` list of an allocation answer: one name -> allocation map per step."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise SourceError(f"{where}: the answer has no 'data' list of allocation sets")
    code = body.get("code")
    if code not in (None, 200):
        raise SourceError(f"{where}: the answer says code {code}: {body.get('message', '')}"[:400])
    sets = []
    for i, item in enumerate(body["data"]):
        if item is None:  # an empty step
            continue
        if not isinstance(item, dict):
            raise SourceError(f"{where}: data[{i}] is not an object of allocations")
        sets.append(item)
    return sets


class AllocationRows:
    """Collects the rows of one request's allocation sets."""

    def __init__(self, where: str, provider: str, currency: str, label: str, entity_map):
        self.where, self.provider, self.currency = where, provider, currency
        self.label, self.entity_map = label, entity_map
        self.costs: list[dict[str, Any]] = []
        self.usage: list[dict[str, Any]] = []

    def add(self, key: str, alloc: Any) -> None:
        if not isinstance(alloc, dict):
            raise SourceError(f"{self.where}: allocation {key!r} is not an object")
        name = alloc.get("name") or key
        if not isinstance(name, str):
            raise SourceError(f"{self.where}: allocation {key!r}: name is not a string")
        start, end = self._window(name, alloc)
        entity = entity_of(name, self.entity_map)
        cluster = (alloc.get("properties") or {}).get("cluster")
        day = start.strftime("%Y-%m-%d")
        for component, (field, adjust, category) in COMPONENTS.items():
            listed = self._number(name, day, alloc, field)
            effective = listed + (self._number(name, day, alloc, adjust) if adjust else 0.0)
            tags = {"opencost.allocation": name, "opencost.component": component}
            tags[self.label] = name
            self.costs.append(
                {
                    "row_id": f"{day}|{name}|{component}",
                    "charge_period_start": start,
                    "charge_period_end": end,
                    "billed_cost": None,
                    "effective_cost": effective,
                    "list_cost": listed,
                    "currency": self.currency,
                    "provider": self.provider,
                    "service_name": f"Kubernetes {component}",
                    "service_category": category,
                    "resource_id": name,
                    "region": cluster if isinstance(cluster, str) else None,
                    "tags": json.dumps(tags, sort_keys=True),
                    "entity": entity,
                }
            )
        self._usage(name, day, alloc, entity or name, start, end)

    def _usage(self, name, day, alloc, entity, start: datetime, end: datetime) -> None:
        seconds = (end - start).total_seconds()
        minutes = alloc.get("minutes")
        hours = (
            self._number(name, day, alloc, "minutes") if minutes is not None else seconds / 60
        ) / 60
        values = {
            "cpu_core_hours": self._number(name, day, alloc, "cpuCoreHours"),
            "gpu_hours": self._number(name, day, alloc, "gpuHours"),
            "ram_byte_hours": self._number(name, day, alloc, "ramByteHours"),
            "cpu_core_request_hours": self._number(name, day, alloc, "cpuCoreRequestAverage")
            * hours,
            "cpu_core_usage_hours": self._number(name, day, alloc, "cpuCoreUsageAverage") * hours,
            "ram_byte_request_hours": self._number(name, day, alloc, "ramByteRequestAverage")
            * hours,
            "ram_byte_usage_hours": self._number(name, day, alloc, "ramByteUsageAverage") * hours,
            "cpu_efficiency": self._number(name, day, alloc, "cpuEfficiency"),
            "ram_efficiency": self._number(name, day, alloc, "ramEfficiency"),
            "total_efficiency": self._number(name, day, alloc, "totalEfficiency"),
        }
        for metric, value in values.items():
            kind, unit = USAGE[metric]
            self.usage.append(
                {
                    "entity": entity,
                    "metric": metric,
                    "ts": start,
                    "value": value,
                    "kind": kind,
                    "unit": unit,
                    "step_seconds": seconds,
                }
            )

    def _window(self, name: str, alloc: dict) -> tuple[datetime, datetime]:
        window = alloc.get("window") if isinstance(alloc.get("window"), dict) else alloc
        try:
            start = _utc(window["start"])
            end = _utc(window["end"])
        except (KeyError, TypeError, ValueError):
            raise SourceError(
                f"{self.where}: allocation {name!r}: window start/end missing or not RFC 3339"
            ) from None
        if end <= start:
            raise SourceError(f"{self.where}: allocation {name!r}: window ends before it starts")
        return start, end

    def _number(self, name: str, day: str, alloc: dict, field: str) -> float:
        value = alloc.get(field, 0.0)
        if value is None:
            return 0.0
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise SourceError(
                f"{self.where}: allocation {name!r} on {day}: field {field!r} is {value!r}, "
                "not a finite number"
            )
        return float(value)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        costs = pl.DataFrame(
            self.costs,
            schema={
                **COST_SCHEMA,
                "billed_cost": pl.Float64,
                "effective_cost": pl.Float64,
                "list_cost": pl.Float64,
            },
        )
        costs = costs.with_columns(
            pl.col(c).cast(pl.Decimal(38, 10))
            for c in ("billed_cost", "effective_cost", "list_cost")
        )
        return costs, pl.DataFrame(self.usage, schema=USAGE_SCHEMA)


def _utc(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(text)
    from mlreport.times import to_utc

    return to_utc(value)
