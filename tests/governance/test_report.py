"""The governance report on a hand-built warehouse: every format, numbers equal to the stored
values, hostile strings escaped, real rendering (Chromium, pdftoppm), identical bytes for the
same --as-of, and who signed."""

from __future__ import annotations

import json
import shutil

import pytest

from mlreport import plugin_manager
from mlreport.reporting import render_report
from mlreport.reports.governance.compliance import load_map
from mlreport.reports.renderers import JSON_DIGITS
from mlreport.signing import generate_key_pair
from mlreport.warehouse import Warehouse
from tests.browser import CHROMIUM, assert_not_blank, chromium, pdf_pages, pdf_text

from .world import HOSTILE, World, ago, config, context, future_schema, install

VALUES = [
    ("monitoring.coverage", "credit", {}, 0.9444444444444444),
    ("monitoring.log_days", "credit", {}, 85.0),
    ("monitoring.window_days", "credit", {}, 90.0),
    ("monitoring.longest_gap_days", "credit", {}, 3.0),
    ("monitoring.oldest_row_age_days", "credit", {}, 200.0),
    ("performance.accuracy", "credit", {}, 0.8712),
    ("drift.psi", "credit", {"feature": "income"}, 0.05),
    ("fairness.demographic_parity_ratio", "credit", {"feature": "sex"}, 0.91),
]
CONFIG = f"""
[policies."performance.accuracy"]
min = 0.9
[policies."drift.psi"]
max = 0.2

[[entities]]
kind = "model"
name = "credit"
risk_tier = "high"
intended_use = {json.dumps(HOSTILE)}
[entities.governance]
lawful_basis = "contract"
dpia_id = {json.dumps("DPIA " + HOSTILE)}
personal_data = ["income", "age"]
solely_automated = true
retention_days = 365
approval_tags = ["risk_approved=yes"]

[[entities]]
kind = "model"
name = {json.dumps("fraud " + HOSTILE)}
"""


def seed(wh: Warehouse) -> None:
    future_schema(wh)
    w = World(wh, "credit")
    w.version("1", "r1").version("2", "r2", tags={"risk_approved": "yes"}).run("r1").run("r2")
    w.alias("1", ago(120)).alias("2", ago(20), "1").dataset("r2", "loans", "training")
    w.deployment("s2", "staging", "2", ago(21)).deployment("p2", "production", "2", ago(20))
    w.incident("i1", ago(9), ago(8)).report_run("earlier", ago(30), signed=True)
    World(wh, f"fraud {HOSTILE}").entity(owner=HOSTILE)
    w.entity(risk_tier="high", intended_use=HOSTILE)  # as a sync writes the declaration


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("governance")
    secret, _, _ = generate_key_pair(tmp / "keys", False, None)
    text = CONFIG + f'\n[signing]\nkey_file = "{secret}"\nsigner = "Ada <ada@example.com>"\n'
    install(VALUES)
    try:
        with Warehouse(tmp / "wh.duckdb") as wh:
            seed(wh)
            cfg = config(tmp, text)
            runs = []
            for name in ("a", "b"):
                ctx = context(wh, cfg)
                formats = ["html", "json", "md"] + (["pdf"] if name == "a" else [])
                runs.append(render_report(ctx, "governance", formats, tmp / name))
                assert ctx.errors == []
            stored = wh.query(
                "SELECT metric, entity, dimensions, value FROM metric_values"
            ).to_dicts()
            yield runs, stored
    finally:
        plugin_manager.reset_plugins()


@pytest.fixture(scope="module")
def doc(outputs):
    return json.loads(outputs[0][0]["json"].read_text(encoding="utf-8"))


def sig(value):
    return None if value is None else float(f"{value:.{JSON_DIGITS}g}")


def model(doc, name):
    return next(m for m in doc["sections"]["models"]["models"] if m["name"] == name)


def evidence(m, eid):
    return next(e for e in m["evidence"] if e["id"] == eid)


def test_the_portfolio_summary(doc):
    s = doc["sections"]["summary"]
    assert [m["name"] for m in s["models"]] == ["credit", f"fraud {HOSTILE}"]
    assert s["risk_tiers"] == {"high": 1, "not declared": 1}
    assert s["policy_failures"] == 1  # accuracy 0.8712 < 0.9
    credit = model(doc, "credit")
    assert s["models"][0]["findings"] == len(credit["findings"])
    assert s["open_findings"] == sum(m["findings"] for m in s["models"])
    # every framework item of the shipped map, once
    assert sum(s["models"][0]["framework"].values()) == len(load_map().framework)


def test_json_numbers_are_the_stored_values(outputs, doc):
    _, stored = outputs
    # the JSON renderer writes floats with JSON_DIGITS significant digits
    by = {(r["metric"], r["entity"], r["dimensions"]): sig(r["value"]) for r in stored}
    credit = model(doc, "credit")
    facts = {f["label"]: f["value"] for f in evidence(credit, "monitoring.log_coverage")["facts"]}
    assert (
        facts["Days with logs (share of the window)"] == by[("monitoring.coverage", "credit", "{}")]
    )
    assert facts["Longest gap without logs"] == by[("monitoring.longest_gap_days", "credit", "{}")]
    perf = evidence(credit, "monitoring.performance_policy")
    assert perf["status"] == "partial"
    assert perf["rows"][0]["value"] == by[("performance.accuracy", "credit", "{}")] == 0.8712
    assert perf["facts"][-1]["threshold"] == "≥ 0.9"
    retention = evidence(credit, "monitoring.retention_held")
    assert retention["status"] == "partial"
    assert retention["facts"][0]["value"] == by[("monitoring.oldest_row_age_days", "credit", "{}")]
    assert credit["policy_failures"][0]["value"] == 0.8712


def test_each_model_has_its_evidence_compliance_and_findings(doc):
    credit = model(doc, "credit")
    status = {e["id"]: e["status"] for e in credit["evidence"]}
    assert status["lineage.run_commit_dataset"] == "met"
    assert status["delivery.staged_before_production"] == "met"
    assert status["change.approved_promotions"] == "met"
    assert status["change.incident_recovery"] == "met"
    assert status["records.signed_report_runs"] == "met"
    assert status["rollback.last_drill"] == "missing"
    item = next(c for c in credit["compliance"] if c["ref"] == "MANAGE 2.4")
    assert item["status"] == "partial" and item["to_close"]
    refs = {f["ref"] for f in credit["findings"]}
    assert "rollback.last_drill" in refs and "governance.human_review" in refs
    assert "governance.dpia_reviewed" in refs  # a DPIA without a review date
    every_missing = [e for e in credit["evidence"] if e["status"] == "missing"]
    assert all(e["summary"] for e in every_missing)
    fraud = model(doc, f"fraud {HOSTILE}")
    assert fraud["settings"] is None
    assert {f["ref"] for f in fraud["findings"]} >= {"intended_use", "risk_tier", "governance"}


def test_who_signed(doc):
    sig = doc["sections"]["signature"]
    assert sig["this_run"]["signer"] == "Ada <ada@example.com>"
    assert sig["this_run"]["signed_at"] == "2026-07-01T00:00:00Z"
    assert sig["previous"]["signer"] == "Ada <ada@example.com>"
    assert sig["previous"]["as_of"] == "2026-06-01T00:00:00Z"


def test_fingerprints_match_the_manifest(outputs, doc):
    tables = {
        t["table"]: {"rows": t["rows"], "hash": t["hash"]}
        for t in doc["sections"]["inputs"]["tables"]
    }
    assert tables == doc["manifest"]["inputs"]
    assert tables["deployments"]["rows"] == 2


def test_hostile_strings_are_escaped(outputs):
    (a, _), _ = outputs
    html = a["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    md = a["md"].read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md and "[x](http://evil)" not in md
    assert "&lt;script&gt;" in md and r"\[x\](http://evil) \| \*b\*" in md


def test_same_as_of_gives_identical_bytes(outputs):
    (a, b), _ = outputs
    for fmt in ("html", "json", "md"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdf_pages_render_with_text(outputs, tmp_path):
    (a, _), _ = outputs
    pages = pdf_pages(a["pdf"], tmp_path)
    assert pages
    assert_not_blank(pages[0])
    text = " ".join(pdf_text(a["pdf"]).split())
    assert "OPEN FINDINGS" in text and "POLICY FAILURES" in text
    assert "Annex IV 2(g)" in text and "signed by Ada <ada@example.com>" in text
    assert "No rollback (real or drill) is recorded in the window" in text


@pytest.mark.skipif(not shutil.os.path.exists(CHROMIUM), reason="chromium not installed")
def test_chromium_screenshot(outputs, tmp_path):
    (a, _), _ = outputs
    png = tmp_path / "shot.png"
    result = chromium(
        tmp_path, f"--screenshot={png}", "--window-size=1200,1600", a["html"].as_uri()
    )
    assert png.exists(), result.stderr
    assert_not_blank(png)
