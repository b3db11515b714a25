"""The ``roi`` report's utilisation part over a real OpenCost sync (recorded answers in the
documented shape) plus gauge usage rows: efficiency, idle cost and usage statistics in the
JSON equal the values the report's metrics run stored, and numpy over the rows."""

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


def _stored(wh: Warehouse, metric: str, entity: str, **dims) -> float | None:
    rows = wh.con.execute(
        "SELECT value FROM metric_values WHERE metric = ? AND entity = ? AND window_start = ? "
        "AND window_end = ? AND dimensions = ?",
        [metric, entity, WINDOW.start, WINDOW.end, canonical_dimensions(dims)],
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
