"""The usage family: usage.<metric> against numpy, idle cost and efficiency against pandas
over the same OpenCost answers the source stored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from mlreport.config import parse_config
from mlreport.metrics import Window, check_patterns, compute_metrics
from mlreport.policies import PolicyError, check_policies
from mlreport.sources import sync_source
from mlreport.warehouse import Warehouse
from tests.opencost.recorded import FakeOpencost
from tests.opencost.test_sync import START, make_source

W1 = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))
W2 = Window(datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))


@pytest.fixture
def config(tmp_path: Path):
    return parse_config("", None, tmp_path)


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield wh


def usage_frame(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for entity in ("credit-risk", "fraud-detector"):
        for h in range(24 * 7):
            ts = start + timedelta(hours=h)
            rows.append((entity, "requests", ts, float(rng.integers(0, 500)), "counter", None))
            mem = float(rng.normal(2e9, 3e8)) if h % 13 else None  # some steps have no value
            rows.append((entity, "memory", ts, mem, "gauge", "bytes"))
            rows.append((entity, "legacy", ts, float(rng.uniform()), None, None))
    return pl.DataFrame(
        rows,
        schema={
            "entity": pl.String,
            "metric": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "kind": pl.String,
            "unit": pl.String,
        },
        orient="row",
    ).with_columns(pl.lit("prom").alias("source"), pl.lit(3600.0).alias("step_seconds"))


def values(frame: pl.DataFrame) -> dict[tuple, float]:
    return {
        (r["metric"], r["entity"], r["window_start"], json.loads(r["dimensions"]).get("stat")): (
            r["value"],
            r["n"],
        )
        for r in frame.iter_rows(named=True)
    }


def test_counters_sum_and_gauges_describe_like_numpy(warehouse, config):
    frame = usage_frame(np.random.default_rng(3))
    warehouse.upsert("usage", frame, ("source", "entity", "metric", "ts"))
    got = values(compute_metrics(warehouse, config, [W1, W2], "usage.*", store=False))
    for w in (W1, W2):
        for entity in ("credit-risk", "fraud-detector"):
            part = frame.filter(
                (pl.col("entity") == entity) & (pl.col("ts") >= w.start) & (pl.col("ts") < w.end)
            )
            req = part.filter(pl.col("metric") == "requests")["value"].to_numpy()
            assert got[("usage.requests", entity, w.start, None)] == (req.sum(), len(req))
            mem = part.filter(pl.col("metric") == "memory")["value"].drop_nulls().to_numpy()
            for stat, want in (
                ("mean", mem.mean()),
                ("p95", np.percentile(mem, 95)),
                ("max", mem.max()),
            ):
                value, n = got[("usage.memory", entity, w.start, stat)]
                assert value == pytest.approx(want, rel=1e-12) and n == len(mem)
            legacy = part.filter(pl.col("metric") == "legacy")["value"].to_numpy()
            # rows without a kind are described as gauges, never summed
            assert got[("usage.legacy", entity, w.start, "p95")][0] == pytest.approx(
                np.percentile(legacy, 95)
            )
    units = dict(
        compute_metrics(warehouse, config, [W1], "usage.*", store=False)
        .select("metric", "unit")
        .unique()
        .iter_rows()
    )
    assert units == {"usage.requests": "count", "usage.memory": "bytes", "usage.legacy": "value"}


def test_one_usage_metric_by_name_and_entity_filter(warehouse, config):
    warehouse.upsert(
        "usage", usage_frame(np.random.default_rng(4)), ("source", "entity", "metric", "ts")
    )
    check_patterns(["usage.requests", "usage.*", "usage"])
    with pytest.raises(ValueError, match="matches no installed metric"):
        check_patterns(["usages.requests"])
    frame = compute_metrics(
        warehouse, config, [W1], "usage.requests", entities=["fraud-detector"], store=False
    )
    assert set(frame["metric"]) == {"usage.requests"}
    assert set(frame["entity"]) == {"fraud-detector"}


def test_policies_on_a_configured_usage_metric(tmp_path):
    good = parse_config(
        '[policies]\n"usage.requests" = { min = 10 }\n'
        '"usage.memory" = { max = 4e9, stat = "p95" }\n',
        None,
        tmp_path,
    )
    check_policies(good)
    bad = parse_config('[policies]\n"usage.memory" = { max = 1, stat = "p50" }\n', None, tmp_path)
    with pytest.raises(PolicyError, match="stat 'p50'"):
        check_policies(bad)


def test_no_usage_no_rows(warehouse, config):
    assert compute_metrics(warehouse, config, [W1], "usage.*", store=False).height == 0
    assert compute_metrics(warehouse, config, [W1], "cost.idle*", store=False).height == 0


# -- OpenCost: idle and efficiency ------------------------------------------------------------


@pytest.fixture
def opencost_synced(tmp_path, warehouse, monkeypatch):
    from mlreport.connectors.opencost import source as oc_source

    now = datetime(2026, 11, 8, 9, tzinfo=UTC)
    monkeypatch.setattr(oc_source, "utcnow", lambda: now)
    fake = FakeOpencost()
    fake.fill(START, date(2026, 11, 8))
    sync_source(warehouse, make_source(tmp_path, fake))
    rows = [
        {"day": pd.Timestamp(day, tz="UTC"), **alloc}
        for day, allocs in fake.days.items()
        if day < date(2026, 11, 8)
        for alloc in allocs.values()
    ]
    return pd.DataFrame(rows)


def test_idle_cost_and_share_equal_pandas(opencost_synced, warehouse, config):
    df = opencost_synced
    df["effective"] = (
        df.cpuCost
        + df.cpuCostAdjustment
        + df.gpuCost
        + df.gpuCostAdjustment
        + df.ramCost
        + df.ramCostAdjustment
        + df.pvCost
        + df.pvCostAdjustment
        + df.networkCost
        + df.networkCostAdjustment
        + df.loadBalancerCost
        + df.loadBalancerCostAdjustment
        + df.sharedCost
    )
    got = values(compute_metrics(warehouse, config, [W1, W2], "cost.idle*", store=False))
    for w in (W1, W2):
        part = df[(df.day >= w.start) & (df.day < w.end)]
        idle = part[part.name == "__idle__"].effective.sum()
        assert got[("cost.idle", "__idle__", w.start, None)][0] == pytest.approx(idle, abs=1e-8)
        share = got[("cost.idle_share", "__idle__", w.start, None)][0]
        assert share == pytest.approx(idle / part.effective.sum(), rel=1e-9)
    frame = compute_metrics(warehouse, config, [W1], "cost.idle", store=False)
    assert json.loads(frame["dimensions"][0]) == {"currency": "USD"}
    assert frame["unit"][0] == "USD"


def test_efficiency_equals_pandas_over_window_totals(opencost_synced, warehouse, config):
    df = opencost_synced
    got = values(compute_metrics(warehouse, config, [W1, W2], "cost.*efficiency", store=False))
    for w in (W1, W2):
        part = df[(df.day >= w.start) & (df.day < w.end)]
        for entity in ("credit-risk", "fraud-detector", "__unallocated__"):
            e = part[part.name == entity]
            cpu = (e.cpuCoreUsageAverage * 24).sum() / (e.cpuCoreRequestAverage * 24).sum()
            ram = (e.ramByteUsageAverage * 24).sum() / (e.ramByteRequestAverage * 24).sum()
            cpu_cost = (e.cpuCost + e.cpuCostAdjustment).sum()
            ram_cost = (e.ramCost + e.ramCostAdjustment).sum()
            total = (cpu * cpu_cost + ram * ram_cost) / (cpu_cost + ram_cost)
            assert got[("cost.cpu_efficiency", entity, w.start, None)][0] == pytest.approx(cpu)
            assert got[("cost.ram_efficiency", entity, w.start, None)][0] == pytest.approx(ram)
            assert got[("cost.efficiency", entity, w.start, None)][0] == pytest.approx(total)
        # idle requests nothing: its efficiency is undefined, not zero
        assert got[("cost.cpu_efficiency", "__idle__", w.start, None)][0] is None
        assert got[("cost.efficiency", "__idle__", w.start, None)][0] is None


def test_usage_metrics_from_opencost_hours(opencost_synced, warehouse, config):
    df = opencost_synced
    got = values(compute_metrics(warehouse, config, [W1], "usage.gpu_hours", store=False))
    part = df[(df.day >= W1.start) & (df.day < W1.end) & (df.name == "fraud-detector")]
    assert got[("usage.gpu_hours", "fraud-detector", W1.start, None)][0] == part.gpuHours.sum()
    ratios = compute_metrics(warehouse, config, [W1], "usage.*", store=False)
    assert not any("efficiency" in m for m in ratios["metric"])  # ratios are never averaged
