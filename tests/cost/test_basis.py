"""A warehouse holding a FOCUS bill and OpenCost's allocation of the same spend: the bill's
figures keep their dimensions and count bill rows only; the allocation's figures carry
``basis = "allocation"``; nothing is added across the two, nothing is dropped; ROI takes the
bill's cost, else the allocation's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from mlreport.config import load_config
from mlreport.connectors.opencost import source as oc_source
from mlreport.metrics import MetricContext, Window, compute_metrics
from mlreport.plugins.cost import sql as cost_sql
from mlreport.plugins.cost.family import CostMetrics
from mlreport.plugins.roi import inputs
from mlreport.sources import sync_source
from mlreport.warehouse import Warehouse
from tests.focus.builder import FocusWorld, charge, write_csv
from tests.opencost.recorded import FakeOpencost
from tests.opencost.test_sync import COMPONENTS, START, make_source

OURS = [m.name for m in CostMetrics.metrics]
WEEK = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
BILL = [
    charge("100.5", tags={"ml-model": "fraud-detector"}, start="2026-11-02 00:00:00"),
    charge("-0.5", tags={"ml-model": "fraud-detector"}, start="2026-11-03 00:00:00"),
    charge("7.25", tags={"ml-model": "fraud-detector"}, start="2026-11-03 00:00:00", category="X"),
    charge("40", tags=None, start="2026-11-04 00:00:00"),  # the cluster's nodes, untagged
]


@pytest.fixture
def both(tmp_path, monkeypatch):
    world = FocusWorld(tmp_path)
    write_csv(
        tmp_path / "bill/nov.csv.gz",
        [{**r, "BillingPeriodStart": "2026-11-01 00:00:00"} for r in BILL],
    )
    world.config(path="bill/*.csv.gz", entity_tag="ml-model")
    world.sync()
    monkeypatch.setattr(oc_source, "utcnow", lambda: datetime(2026, 11, 8, 9, tzinfo=UTC))
    fake = FakeOpencost()
    fake.fill(START, date(2026, 11, 8))
    (tmp_path / "oc").mkdir()
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        sync_source(wh, make_source(tmp_path / "oc", fake))
    config = load_config(tmp_path / "mlreport.toml")
    return config, fake


def allocated(fake: FakeOpencost, name: str) -> float:
    """OpenCost's effective cost of allocation ``name`` over the week, from its answers."""
    total = 0.0
    for day, allocs in fake.days.items():
        if START <= day < date(2026, 11, 8) and name in allocs:
            a = allocs[name]
            total += sum(a[c] + (a[adj] if adj else 0) for c, adj in COMPONENTS.values())
    return total


def figures(frame) -> dict[tuple, float]:
    """The cost family's figures (``cost.*`` also selects the usage family's ``cost.idle``)."""
    out = {}
    for r in frame.filter(pl.col("metric").is_in(OURS)).iter_rows(named=True):
        dims = json.loads(r["dimensions"])
        key = (r["metric"], r["entity"], dims.pop("basis", "bill"), dims.get("service_category"))
        assert dims["currency"] == "USD"
        out[key] = r["value"]
    return out


def test_bill_and_allocation_of_the_same_spend_are_never_added(both):
    config, fake = both
    with Warehouse(config.warehouse.path) as wh:
        got = figures(compute_metrics(wh, config, [WEEK], "cost.*", store=False))
    # the bill: its rows only, dimensions as they always were
    assert got[("cost.total", "fraud-detector", "bill", None)] == 100.5 - 0.5 + 7.25
    assert got[("cost.total", "fraud-detector", "bill", "X")] == 7.25
    assert got[("cost.unattributed", "(all)", "bill", None)] == 40.0
    assert got[("cost.unattributed_share", "(all)", "bill", None)] == 40.0 / (107.25 + 40.0)
    # the allocation: every OpenCost figure, apart
    for name in ("fraud-detector", "credit-risk"):
        want = allocated(fake, name)
        assert got[("cost.total", name, "allocation", None)] == pytest.approx(want, rel=1e-12)
    idle = allocated(fake, "__idle__") + allocated(fake, "__unallocated__")
    assert got[("cost.unattributed", "(all)", "allocation", None)] == pytest.approx(idle, rel=1e-12)
    everything = idle + allocated(fake, "fraud-detector") + allocated(fake, "credit-risk")
    share = got[("cost.unattributed_share", "(all)", "allocation", None)]
    assert share == pytest.approx(idle / everything, rel=1e-12)
    # credit-risk is in no bill: it has no bill figure, only the allocation's
    assert ("cost.total", "credit-risk", "bill", None) not in got


def test_roi_takes_the_bill_else_the_allocation(both):
    config, fake = both
    with Warehouse(config.warehouse.path) as wh:
        ctx = MetricContext(wh, config, [WEEK])
        predictions = cost_sql.prediction_counts(wh, [WEEK])
        cloud = {
            (r["entity"], r["currency"]): r["effective"]
            for r in inputs._cloud(ctx, [WEEK], predictions).iter_rows(named=True)
        }
    assert cloud[("fraud-detector", "USD")] == 107.25
    assert cloud[("credit-risk", "USD")] == pytest.approx(allocated(fake, "credit-risk"), rel=1e-12)
