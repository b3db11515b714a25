"""The demo's governance story: settings with deliberate gaps, a signing key made on the fly
(never printed), and the governance report and model cards among the outputs."""

from __future__ import annotations

import json

import pytest

from tests.demo.test_demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-governance")
    return out, run_demo(out)


def governance(printed) -> dict:
    path = next(p for p in printed if p.name == "governance.json")
    return json.loads(path.read_text(encoding="utf-8"))


def model(doc, name):
    return next(m for m in doc["sections"]["models"]["models"] if m["name"] == name)


@pytest.mark.slow
def test_demo_writes_governance_and_model_cards(demo):
    _, printed = demo
    names = {p.name for p in printed}
    for stem in ("governance", "model-card"):
        assert {f"{stem}.{ext}" for ext in ("html", "pdf", "json", "md")} <= names


@pytest.mark.slow
def test_demo_governance_tells_its_gaps(demo):
    _, printed = demo
    doc = governance(printed)
    fraud = model(doc, "fraud-detector")
    texts = [f["text"] for f in fraud["findings"]]
    assert "DPIA DPIA-2025-017 has no review date." in texts
    approvals = next(e for e in fraud["evidence"] if e["id"] == "change.approved_promotions")
    assert approvals["status"] != "met"
    assert any(r["version"] == "9" and not r["approved"] for r in approvals["rows"])
    credit = model(doc, "credit-risk")
    assert credit["settings"]["retention_days"] == 400
    assert [m["name"] for m in doc["sections"]["summary"]["models"]] == [
        "credit-risk",
        "fraud-detector",
    ]


@pytest.mark.slow
def test_demo_signs_with_a_key_it_made_and_never_prints(demo):
    out, printed = demo
    key = out / "keys" / "mlreport.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0
    secret_line = key.read_text(encoding="utf-8").splitlines()[1]
    doc = governance(printed)
    assert doc["sections"]["signature"]["this_run"]["status"] == "signed"
    assert doc["sections"]["signature"]["this_run"]["signer"].startswith("Sample Org")
    for p in printed:
        if p.suffix in (".html", ".json", ".md"):
            assert secret_line not in p.read_text(encoding="utf-8"), p
    statement = printed[0].parent / "governance.intoto.json.minisig"
    assert statement.exists()
