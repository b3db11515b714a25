"""The ``roi`` report over a real OpenCost sync (recorded answers in the documented shape):
efficiency, idle cost and usage statistics in the JSON equal the values the report's metrics
run stored, and numpy over the rows; a model whose cost comes only from OpenCost's allocation
shows it (labelled, per model, by category and in the portfolio), and a model with a FOCUS
bill as well shows both, apart, never added, with a note that ROI uses the bill."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mlreport.config import load_config
from mlreport.metrics import Window, canonical_dimensions
from mlreport.reporting import ReportContext, render_report
from mlreport.sources import sync_source
from mlreport.warehouse import Warehouse
from tests.cost.test_basis import BILL, allocated
from tests.focus.builder import FocusWorld, write_csv
from tests.opencost.recorded import FakeOpencost
from tests.opencost.test_sync import START, make_source

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
ENTITIES = """
[[entities]]
name = "fraud-detector"
kind = "model"
value_per_month = 3000
roi_start = 2026-11-01
"""
GPU = [float(v) for v in np.linspace(20, 95, 7 * 24)]


@pytest.fixture
def built(tmp_path, monkeypatch):
    from mlreport.connectors.opencost import source as oc_source

    monkeypatch.setattr(oc_source, "utcnow", lambda: datetime(2026, 11, 8, 9, tzinfo=UTC))
    fake = FakeOpencost()
    fake.fill(START, date(2026, 11, 8))
    source = make_source(tmp_path, fake)
    toml = tmp_path / "mlreport.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + ENTITIES, encoding="utf-8")
    wh = Warehouse(tmp_path / "w.duckdb")
    sync_source(wh, source)
    rows = [
        ("prom", "fraud-detector", "gpu_util", WINDOW.start + timedelta(hours=h), v, "gauge", "%")
        for h, v in enumerate(GPU)
    ]
    rows += [  # credit-risk's requests: its allocated cost per 1,000 predictions
        ("prom", "credit-risk", "requests", WINDOW.start + timedelta(days=d), 1000.0, "counter", "")
        for d in range(7)
    ]
    frame = pl.DataFrame(
        rows,
        schema=["source", "entity", "metric", "ts", "value", "kind", "unit"],
        orient="row",
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    wh.upsert("usage", frame, ("source", "entity", "metric", "ts"))
    config = load_config(tmp_path / "mlreport.toml")
    ctx = ReportContext(wh, config, WINDOW, WINDOW.end)
    out = render_report(ctx, "roi", ["json", "html"], tmp_path / "out")
    yield wh, json.loads(out["json"].read_text(encoding="utf-8"))
    wh.close()


@pytest.fixture
def both(tmp_path, monkeypatch):
    """A FOCUS bill (fraud-detector 107.25 USD, 40 USD untagged) and OpenCost's allocation of
    the same week in one warehouse; credit-risk is in the allocation only."""
    from mlreport.connectors.opencost import source as oc_source

    world = FocusWorld(tmp_path)
    write_csv(
        tmp_path / "bill/nov.csv.gz",
        [{**r, "BillingPeriodStart": "2026-11-01 00:00:00"} for r in BILL],
    )
    world.config(extra=ENTITIES, path="bill/*.csv.gz", entity_tag="ml-model")
    world.sync()
    monkeypatch.setattr(oc_source, "utcnow", lambda: datetime(2026, 11, 8, 9, tzinfo=UTC))
    fake = FakeOpencost()
    fake.fill(START, date(2026, 11, 8))
    (tmp_path / "oc").mkdir()
    config = load_config(tmp_path / "mlreport.toml")
    wh = Warehouse(config.warehouse.path)
    sync_source(wh, make_source(tmp_path / "oc", fake))
    ctx = ReportContext(wh, config, WINDOW, WINDOW.end)
    out = render_report(ctx, "roi", ["json", "html", "md"], tmp_path / "out")
    yield wh, fake, out
    wh.close()


def _stored(wh: Warehouse, metric: str, entity: str, window=WINDOW, **dims) -> float | None:
    rows = wh.con.execute(
        "SELECT value FROM metric_values WHERE metric = ? AND entity = ? AND window_start = ? "
        "AND window_end = ? AND dimensions = ?",
        [metric, entity, window.start, window.end, canonical_dimensions(dims)],
    ).fetchall()
    assert len(rows) == 1, (metric, entity, dims, rows)
    return rows[0][0]


def test_efficiency_idle_and_usage_as_stored(built):
    wh, report = built
    models = {m["entity"]: m for m in report["sections"]["models"]["models"]}
    assert list(models) == ["credit-risk", "fraud-detector"]  # no __idle__ / __unallocated__
    for entity in models:
        eff = models[entity]["efficiency"]
        for k in ("cpu_efficiency", "ram_efficiency", "efficiency"):
            assert eff[k]["value"] == pytest.approx(_stored(wh, f"cost.{k}", entity), rel=1e-12)
            assert 0 < eff[k]["value"] < 1
    usage = {(u["metric"], u["stat"]): u for u in models["fraud-detector"]["usage"]}
    assert usage[("usage.gpu_util", "mean")]["value"] == pytest.approx(np.mean(GPU), rel=1e-12)
    assert usage[("usage.gpu_util", "max")]["value"] == pytest.approx(95.0)
    assert usage[("usage.gpu_util", "p95")]["value"] == pytest.approx(
        np.percentile(GPU, 95), rel=1e-12
    )
    totals = {t["currency"]: t for t in report["sections"]["summary"]["totals"]}
    usd = totals["USD"]
    assert usd["idle"] == pytest.approx(_stored(wh, "cost.idle", "__idle__", currency="USD"))
    assert usd["idle_share"] == pytest.approx(
        _stored(wh, "cost.idle_share", "__idle__", currency="USD")
    )
    notes = report["sections"]["notes"]["notes"]
    assert not [n for n in notes if n["kind"] == "no_usage"]  # usage, efficiency and idle there
    # value 3000 a month against OpenCost cost of a week: fraud-detector is net positive
    roi = models["fraud-detector"]["roi"]
    assert roi["value"] == pytest.approx(3000 * 7 / (365.25 / 12), rel=1e-12)
    assert roi["value"] == pytest.approx(_stored(wh, "roi.value", "fraud-detector", currency="USD"))


ALLOC = {"currency": "USD", "basis": "allocation"}


def _monthly_as_stored(wh: Warehouse, entity: str, mc: dict, **dims) -> None:
    """Every month of a monthly-cost table equals the stored value, and its categories add up."""
    assert mc["categories"]
    for mo in mc["months"]:
        month = Window(datetime.fromisoformat(mo["start"]), datetime.fromisoformat(mo["end"]))
        assert mo["total"] == pytest.approx(_stored(wh, "cost.total", entity, month, **dims))
        assert sum(mo["by_category"].values()) == pytest.approx(mo["total"], rel=1e-12)
        for cat, v in mo["by_category"].items():
            want = _stored(wh, "cost.total", entity, month, **dims, service_category=cat)
            assert v == pytest.approx(want, rel=1e-12)


def test_allocation_only_model_shows_its_allocated_cost(built):
    wh, report = built
    models = {m["entity"]: m for m in report["sections"]["models"]["models"]}
    for entity in ("credit-risk", "fraud-detector"):  # no FOCUS bill: allocation only
        m = models[entity]
        assert m["cost"] == [] and m["monthly_cost"] == [] and m["currencies"] == []
        assert m["allocated_currencies"] == ["USD"]
        (a,) = m["allocated"]
        assert a["basis"] == "allocated (OpenCost)"
        assert a["total"] > 0
        assert a["total"] == pytest.approx(_stored(wh, "cost.total", entity, **ALLOC), rel=1e-12)
        assert a["rows"] > 0
        (mc,) = m["allocated_monthly_cost"]
        assert mc["basis"] == "allocated (OpenCost)"
        _monthly_as_stored(wh, entity, mc, **ALLOC)
    cr = models["credit-risk"]
    assert cr["per_1k"] == []
    (p,) = cr["allocated_per_1k"]
    assert p["basis"] == "allocated (OpenCost)" and p["predictions"] == 7000
    assert p["value"] == pytest.approx(cr["allocated"][0]["total"] / 7000 * 1000, rel=1e-12)
    stored = _stored(wh, "cost.per_1k_predictions", "credit-risk", **ALLOC)
    assert p["value"] == pytest.approx(stored, rel=1e-12)
    # ROI took the allocation (no bill): its TCO is the allocated cost
    fd = models["fraud-detector"]
    assert fd["roi"]["tco"] == pytest.approx(fd["allocated"][0]["total"], rel=1e-12)
    summary = report["sections"]["summary"]
    usd = {t["currency"]: t for t in summary["totals"]}["USD"]
    assert usd["models"] is None and usd["bill"] is None  # nothing billed
    alloc = usd["allocated"]
    want = sum(models[e]["allocated"][0]["total"] for e in models)
    assert alloc["models"] == pytest.approx(want, rel=1e-12) and alloc["models_count"] == 2
    idle = _stored(wh, "cost.unattributed", "(all)", **ALLOC)
    assert alloc["unattributed"] == pytest.approx(idle, rel=1e-12)
    share = _stored(wh, "cost.unattributed_share", "(all)", **ALLOC)
    assert alloc["unattributed_share"] == pytest.approx(share, rel=1e-12)
    assert alloc["total"] == pytest.approx(want + idle, rel=1e-12)
    rows = {r["entity"]: r for r in summary["models"]}
    assert rows["credit-risk"]["cost"] == []
    assert rows["credit-risk"]["allocated"] == [
        {"currency": "USD", "total": models["credit-risk"]["allocated"][0]["total"]}
    ]
    notes = report["sections"]["notes"]["notes"]
    kinds = {n["kind"] for n in notes}
    assert "no_cost" not in kinds and "two_bases" not in kinds
    # priced on the allocation: no "no predictions" note for credit-risk
    assert [n["entity"] for n in notes if n["kind"] == "no_predictions"] == ["fraud-detector"]


def test_bill_and_allocation_shown_apart_never_added(both):
    wh, fake, out = both
    report = json.loads(out["json"].read_text(encoding="utf-8"))
    models = {m["entity"]: m for m in report["sections"]["models"]["models"]}
    fd, cr = models["fraud-detector"], models["credit-risk"]
    bill = 100.5 - 0.5 + 7.25  # tests/cost/test_basis.py's bill for fraud-detector
    (cost,) = fd["cost"]
    assert "basis" not in cost
    assert cost["total"] == bill == _stored(wh, "cost.total", "fraud-detector", currency="USD")
    (a,) = fd["allocated"]
    want = allocated(fake, "fraud-detector")
    assert a["total"] == pytest.approx(want, rel=1e-12)
    assert a["total"] == pytest.approx(_stored(wh, "cost.total", "fraud-detector", **ALLOC))
    # the bill's categories are the bill's only; the allocation's are OpenCost's
    (mc,) = fd["monthly_cost"]
    assert set(mc["categories"]) == {"Compute", "X"}
    _monthly_as_stored(wh, "fraud-detector", mc, currency="USD")
    (amc,) = fd["allocated_monthly_cost"]
    assert "X" not in amc["categories"]
    _monthly_as_stored(wh, "fraud-detector", amc, **ALLOC)
    # credit-risk is in no bill
    assert cr["cost"] == [] and cr["allocated"][0]["total"] == pytest.approx(
        allocated(fake, "credit-risk"), rel=1e-12
    )
    # ROI uses the bill where there is one, the allocation otherwise
    assert fd["roi"]["tco"] == pytest.approx(bill, rel=1e-12)
    assert cr["roi"] is None  # no value settings
    usd = {t["currency"]: t for t in report["sections"]["summary"]["totals"]}["USD"]
    assert usd["models"] == bill and usd["unattributed"] == 40.0 and usd["bill"] == bill + 40
    idle = allocated(fake, "__idle__") + allocated(fake, "__unallocated__")
    alloc_models = allocated(fake, "fraud-detector") + allocated(fake, "credit-risk")
    assert usd["allocated"]["models"] == pytest.approx(alloc_models, rel=1e-12)
    assert usd["allocated"]["unattributed"] == pytest.approx(idle, rel=1e-12)
    assert usd["allocated"]["total"] == pytest.approx(alloc_models + idle, rel=1e-12)
    notes = [n for n in report["sections"]["notes"]["notes"] if n["kind"] == "two_bases"]
    assert [(n["entity"], n["message"][:80]) for n in notes] == [
        (
            "fraud-detector",
            "fraud-detector: bill and allocation describe the same spend; ROI uses the bill. ",
        )
    ]
    assert "107.25 USD" in notes[0]["message"]
    html = out["html"].read_text(encoding="utf-8")
    md = out["md"].read_text(encoding="utf-8")
    assert "Allocated (OpenCost)" in html and "allocated (OpenCost)" in html
    assert "Allocated (OpenCost)" in md
    assert "bill and allocation describe the same spend" in md
