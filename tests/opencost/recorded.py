"""OpenCost ``/allocation`` answers in the documented shape (opencost.io/docs/integrations/api:
``{"code": 200, "data": [ {name: allocation, ...} per step ]}``), served by an httpx transport
that checks the query parameters the way the server reads them.

The allocations are generated deterministically per day; :class:`FakeOpencost` keeps them, so
tests can revise a day (allocations settle) and compute expected totals from the same dicts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx

NAMES = ("credit-risk", "fraud-detector", "__idle__", "__unallocated__")
GIB = 1024**3


def allocation(name: str, day: date, rng: random.Random) -> dict:
    """One allocation as OpenCost returns it (fields of pkg/kubecost Allocation's JSON)."""
    start = datetime(day.year, day.month, day.day).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime(day.year, day.month, day.day) + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    idle = name == "__idle__"
    minutes = 1440.0
    cpu_req = 0.0 if idle else rng.choice([1.0, 2.0, 4.0])
    cpu_use = 0.0 if idle else round(cpu_req * rng.uniform(0.1, 0.9), 6)
    cores = rng.uniform(2, 6) if idle else cpu_req
    ram_req = 0.0 if idle else rng.choice([2, 4, 8]) * GIB
    ram_use = 0.0 if idle else round(ram_req * rng.uniform(0.2, 0.95))
    ram_bytes = rng.uniform(4, 12) * GIB if idle else ram_req
    gpu_hours = 24.0 if name == "fraud-detector" else 0.0
    cpu_cost = round(cores * 24 * 0.031611, 6)
    ram_cost = round(ram_bytes / GIB * 24 * 0.004237, 6)
    gpu_cost = round(gpu_hours * 0.95, 6)
    costs = {
        "cpuCost": cpu_cost,
        "gpuCost": gpu_cost,
        "ramCost": ram_cost,
        "pvCost": 0.0 if idle else round(rng.uniform(0, 0.3), 6),
        "networkCost": 0.0 if idle else round(rng.uniform(0, 0.05), 6),
        "loadBalancerCost": 0.6 if name == "credit-risk" else 0.0,
        "sharedCost": 0.0,
    }
    adjust = {"cpuCostAdjustment": 0.0 if idle else round(-0.1 * cpu_cost, 6)}
    cpu_eff = cpu_use / cpu_req if cpu_req else 0.0
    ram_eff = ram_use / ram_req if ram_req else 0.0
    total_eff = (cpu_eff * cpu_cost + ram_eff * ram_cost) / (cpu_cost + ram_cost)
    return {
        "name": name,
        "properties": {"cluster": "prod-eu", "labels": {"ml_model": name}},
        "window": {"start": start, "end": end},
        "start": start,
        "end": end,
        "minutes": minutes,
        "cpuCores": cores,
        "cpuCoreRequestAverage": cpu_req,
        "cpuCoreUsageAverage": cpu_use,
        "cpuCoreHours": cores * 24,
        "cpuEfficiency": cpu_eff,
        "gpuCount": gpu_hours / 24,
        "gpuHours": gpu_hours,
        "networkTransferBytes": 1.2e9,
        "networkReceiveBytes": 3.4e9,
        "pvBytes": 0.0,
        "pvByteHours": 0.0,
        "pvs": None,
        "ramBytes": ram_bytes,
        "ramByteRequestAverage": ram_req,
        "ramByteUsageAverage": ram_use,
        "ramByteHours": ram_bytes * 24,
        "ramEfficiency": ram_eff,
        "externalCost": 0.0,
        "totalEfficiency": total_eff,
        "rawAllocationOnly": None,
        "gpuCostAdjustment": 0.0,
        "ramCostAdjustment": 0.0,
        "pvCostAdjustment": 0.0,
        "networkCostAdjustment": 0.0,
        "loadBalancerCostAdjustment": 0.0,
        **costs,
        **adjust,
        "totalCost": sum(costs.values()) + sum(adjust.values()),
    }


@dataclass
class FakeOpencost:
    """The allocations a cluster has, by day, and the requests made for them."""

    days: dict[date, dict[str, dict]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    path: str = "/allocation"
    label: str = "label:ml_model"
    fail: list[httpx.Response] = field(default_factory=list)  # served first, in order

    def fill(self, first: date, last: date, seed: int = 1) -> None:
        rng = random.Random(seed)
        day = first
        while day <= last:
            self.days[day] = {n: allocation(n, day, rng) for n in NAMES}
            day += timedelta(days=1)

    def windows(self) -> list[str]:
        return [r.url.params["window"] for r in self.requests]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail:
            return self.fail.pop(0)
        if request.url.path != self.path:
            return httpx.Response(404, text="404 page not found")
        p = request.url.params
        if p.get("step") != "1d" or p.get("accumulate") != "false":
            return _error(400, "expected step=1d and accumulate=false")
        try:
            a, b = (
                datetime.fromisoformat(x.replace("Z", "+00:00")) for x in p["window"].split(",")
            )
        except (KeyError, ValueError):
            return _error(400, "error parsing window")
        data = []
        day = a.date()
        while day < b.date():
            allocs = self.days.get(day)
            if p.get("aggregate") != self.label and allocs:  # OpenCost: label not found
                allocs = {"__unallocated__": {**allocs["__unallocated__"]}}
            data.append(allocs)
            day += timedelta(days=1)
        return httpx.Response(200, json={"code": 200, "data": data})


def _error(status: int, message: str) -> httpx.Response:
    body = {"code": status, "data": None, "message": message}
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
