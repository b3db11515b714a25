"""The ``roi`` report over a real pipeline (FOCUS files and a prediction log synced, metrics
computed and stored, the report rendered): its numbers against the stored metric values and
a hand computation, currencies apart, notes that say what to set, hostile names escaped, and
byte-identical output for the same ``as_of``."""

from __future__ import annotations

import json

import pytest

from mlreport.metrics import canonical_dimensions
from mlreport.warehouse import Warehouse
from tests.reports import roi_world as w


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("roi")
    w.build(root)
    outputs = w.render(root, root / "out", ("html", "json", "md"))
    return root, outputs


def _report(world) -> dict:
    return json.loads(world[1]["json"].read_text(encoding="utf-8"))


def _models(world) -> dict[str, dict]:
    return {m["entity"]: m for m in _report(world)["sections"]["models"]["models"]}


def _stored(world, metric: str, entity: str, window: w.Window, **dims) -> float | None:
    """The value the report's own metrics run stored."""
    with Warehouse(world[0] / "wh.duckdb", read_only=True) as wh:
        run = wh.con.execute(
            "SELECT run_id FROM metric_values GROUP BY run_id ORDER BY max(computed_at) DESC "
            "LIMIT 1"
        ).fetchone()[0]
        rows = wh.con.execute(
            "SELECT value FROM metric_values WHERE run_id = ? AND metric = ? AND entity = ? "
            "AND window_start = ? AND window_end = ? AND dimensions = ?",
            [run, metric, entity, window.start, window.end, canonical_dimensions(dims)],
        ).fetchall()
    assert len(rows) == 1, (metric, entity, window, dims, rows)
    return rows[0][0]


def test_models_shown_in_order(world):
    assert list(_models(world)) == ["batch", "fraud", w.RANKER, "search"]


def test_fraud_cost_by_month_and_category(world):
    m = _models(world)["fraud"]
    assert m["currencies"] == ["USD"]
    mc = m["monthly_cost"][0]
    assert mc["categories"] == ["Compute", "Storage"]
    assert [x["total"] for x in mc["months"]] == pytest.approx(w.FRAUD_CLOUD)
    assert [x["by_category"] for x in mc["months"]] == [
        {"Compute": 40.0, "Storage": 10.0},
        {"Compute": 60.0, "Storage": 10.0},
        {"Compute": 80.0, "Storage": 10.0},
    ]
    for i, month in enumerate(w.MONTHS):
        got = mc["months"][i]["total"]
        assert got == pytest.approx(_stored(world, "cost.total", "fraud", month, currency="USD"))
    cost = m["cost"][0]
    assert cost["total"] == pytest.approx(210.0)
    assert cost["total"] == pytest.approx(
        _stored(world, "cost.total", "fraud", w.WINDOW, currency="USD")
    )
    assert m["credits"] == [{"currency": "USD", "rows": 1, "amount": -20.0}]
    notes = _report(world)["sections"]["notes"]["notes"]
    assert [n["message"] for n in notes if n["kind"] == "credits"] == [
        "fraud: 1 negative cost row (credits, refunds or corrections), -20.00 USD in total, "
        "netted into the amounts shown."
    ]


def test_fraud_cost_per_1k_predictions(world):
    p = _models(world)["fraud"]["per_1k"][0]
    assert p["value"] == pytest.approx(210.0 / 800 * 1000, rel=1e-12)
    assert p["predictions"] == 800
    hand = [c / w.PREDICTIONS[i] * 1000 for i, c in enumerate(w.FRAUD_CLOUD)]
    assert [x["value"] for x in p["months"]] == pytest.approx(hand, rel=1e-12)
    stored = _stored(world, "cost.per_1k_predictions", "fraud", w.MONTHS[1], currency="USD")
    assert p["months"][1]["value"] == pytest.approx(stored, rel=1e-12)


def test_fraud_roi_table_against_hand_computation(world):
    m = _models(world)["fraud"]
    r = m["roi"]
    flows = [w.fraud_month(i) for i in range(3)]
    value = sum(v for v, _ in flows)
    tco = sum(t for _, t in flows)
    assert r["currency"] == "USD"
    assert r["value"] == pytest.approx(value, rel=1e-12)
    assert r["tco"] == pytest.approx(tco, rel=1e-12)
    assert r["net"] == pytest.approx(value - tco, rel=1e-12)
    assert r["roi"] == pytest.approx((value - tco) / tco, rel=1e-12)
    assert r["payback_months"] == 2  # cumulative value 100 < 151.8, then 400 >= 313.8
    npv = sum((v - t) / 1.1 ** (k / 12) for k, (v, t) in enumerate(flows))
    assert r["npv"] == pytest.approx(npv, rel=1e-12)
    for k in ("value", "tco", "net", "roi", "payback_months", "npv"):
        assert r[k] == pytest.approx(_stored(world, f"roi.{k}", "fraud", w.WINDOW, currency="USD"))
    assert m["settings"] == {
        "value_per_prediction": 1.0,
        "value_per_true_positive": 0.0,
        "cost_per_false_positive": 0.0,
        "value_per_month": 0.0,
        "people_cost_per_month": 100.0,
        "tooling_cost_per_month": 0.0,
        "roi_start": "2026-01-01",
        "discount_rate": 0.1,
        "currency": "USD",
        "configured_currency": "USD",
    }
    vc = m["value_vs_cost"]
    assert vc["since"] == "roi_start" and vc["payback_month"] == 2
    assert vc["payback_label"] == "Feb 2026"
    cum_v = [sum(v for v, _ in flows[: k + 1]) for k in range(3)]
    cum_t = [sum(t for _, t in flows[: k + 1]) for k in range(3)]
    assert [x["cumulative_value"] for x in vc["months"]] == pytest.approx(cum_v, rel=1e-12)
    assert [x["cumulative_tco"] for x in vc["months"]] == pytest.approx(cum_t, rel=1e-12)
    assert m["verdict"]["status"] == "pays_back"


def test_a_model_that_never_pays_back(world):
    m = _models(world)[w.RANKER]
    r = m["roi"]
    flows = [w.ranker_month(i) for i in range(3)]
    assert r["currency"] == "EUR"  # taken from its cloud cost
    assert r["value"] == pytest.approx(sum(v for v, _ in flows), rel=1e-12)
    assert r["tco"] == pytest.approx(sum(t for _, t in flows), rel=1e-12)
    assert r["payback_months"] is None and r["has_payback_months"] and r["months"] == 3
    assert r["npv"] is None  # no discount rate
    assert m["verdict"] == {
        "status": "does_not_pay_back",
        "text": "does not pay back within 3 months from roi_start",
    }
    assert m["value_vs_cost"]["payback_month"] is None
    assert m["per_1k"] == []  # no predictions


def test_model_without_settings_or_predictions(world):
    m = _models(world)["batch"]
    assert m["roi"] is None and m["settings"] is None and m["value_vs_cost"] is None
    assert m["verdict"]["status"] == "not_computed"
    assert m["cost"][0]["total"] == pytest.approx(90.0)
    notes = _report(world)["sections"]["notes"]["notes"]
    mine = {n["kind"]: n["message"] for n in notes if n["entity"] == "batch"}
    assert "set `value_per_prediction`" in mine["no_value_settings"]
    assert 'entity = "batch"' in mine["no_predictions"]


def test_currencies_are_never_added(world):
    summary = _report(world)["sections"]["summary"]
    totals = {t["currency"]: t for t in summary["totals"]}
    assert set(totals) == {"EUR", "USD"}
    assert totals["EUR"]["models"] == pytest.approx(120.0)
    assert totals["USD"]["models"] == pytest.approx(210.0 + 90.0)
    assert totals["USD"]["unattributed"] == pytest.approx(50.0)
    assert totals["USD"]["unattributed_share"] == pytest.approx(50.0 / 350.0)
    assert totals["USD"]["bill"] == pytest.approx(350.0)
    assert totals["EUR"]["unattributed"] is None or totals["EUR"]["unattributed"] == 0
    assert summary["verdicts"]["pays_back"] == ["fraud"]
    assert summary["verdicts"]["does_not_pay_back"] == [w.RANKER]
    assert summary["verdicts"]["not_computed"] == ["batch"]
    assert summary["verdicts"]["net_negative"] == ["search"]
    kinds = {n["kind"] for n in _report(world)["sections"]["notes"]["notes"]}
    assert {"mixed_currencies", "credits", "unattributed", "no_predictions"} <= kinds
    md = world[1]["md"].read_text(encoding="utf-8")
    assert "300\\.00 USD" in md and "120\\.00 EUR" in md and "420" not in md


def test_hostile_names_escaped(world):
    html = world[1]["html"].read_text(encoding="utf-8")
    assert "<img" not in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert "<script" not in html and "AI &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    md = world[1]["md"].read_text(encoding="utf-8")
    assert "<img" not in md and "\\*x\\*" in md
    ranker = _models(world)[w.RANKER]["monthly_cost"][0]
    assert ranker["categories"] == [w.HOSTILE_CATEGORY, "Compute"]
    assert ranker["months"][2]["by_category"] == {w.HOSTILE_CATEGORY: 40.0}


def test_byte_identical_across_runs(world, tmp_path):
    first = w.render(world[0], tmp_path / "a", ("html", "json", "md"))
    second = w.render(world[0], tmp_path / "b", ("html", "json", "md"))
    for fmt in ("html", "json", "md"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt


def test_settings_without_cost_currency_or_start(world):
    m = _models(world)["search"]
    r = m["roi"]
    tco = 10 * w.days(w.WINDOW) / w.MONTH_DAYS
    assert r["currency"] is None  # no cloud cost and no `currency`: nothing to take one from
    assert r["value"] == 0.0 and r["tco"] == pytest.approx(tco, rel=1e-12)
    assert r["roi"] == pytest.approx(-1.0) and not r["has_payback_months"]
    assert r["tco"] == pytest.approx(_stored(world, "roi.tco", "search", w.WINDOW))
    assert m["verdict"]["status"] == "net_negative"
    vc = m["value_vs_cost"]
    assert vc["since"] == "window" and vc["payback_month"] is None
    monthly = [10 * w.days(x) / w.MONTH_DAYS for x in w.MONTHS]
    assert [x["tco"] for x in vc["months"]] == pytest.approx(monthly, rel=1e-12)
    assert vc["months"][-1]["cumulative_tco"] == pytest.approx(sum(monthly), rel=1e-12)
    notes = _report(world)["sections"]["notes"]["notes"]
    mine = {n["kind"] for n in notes if n["entity"] == "search"}
    assert {"no_cost", "roi", "no_usage"} <= mine
    idle = [n["message"] for n in notes if n["kind"] == "no_usage" and n["entity"] is None]
    assert idle == [
        "No idle cost: it comes from OpenCost's __idle__ allocation; configure an `opencost` "
        "source for the clusters the models run on."
    ]
    assert any("set `roi_start`" in n["message"] for n in notes if n["entity"] == "search")


def test_limited_to_entities(world, tmp_path):
    out = w.render(world[0], tmp_path / "one", ("json",), entities=["fraud"])
    report = json.loads(out["json"].read_text(encoding="utf-8"))
    assert [m["entity"] for m in report["sections"]["models"]["models"]] == ["fraud"]
    usd = report["sections"]["summary"]["totals"]
    assert [(t["currency"], t["models"], t["unattributed"]) for t in usd] == [("USD", 210.0, None)]
    assert "scoped" in {n["kind"] for n in report["sections"]["notes"]["notes"]}
