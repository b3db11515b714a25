"""The model-card report on the sample organisation: every format, the Model Card Toolkit
schema, numbers against the raw prediction log, escaping, and real rendering."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.browser import CHROMIUM, assert_not_blank, chromium, pdf_pages, pdf_text

from .conftest import HOSTILE, HOSTILE_NAME, SCHEMA, card, cards

WINDOW = ("2026-04-02 00:00:00+00", "2026-07-01 00:00:00+00")  # the demo's 90 days to as-of


def test_every_format_has_one_card_per_model_entity(outputs, doc):
    assert set(outputs) == {"html", "pdf", "json", "md"}
    names = [m["name"] for m in doc["sections"]["cards"]["models"]]
    assert names == sorted(["credit-risk", "fraud-detector", HOSTILE_NAME])  # not the service
    md = outputs["md"].read_text(encoding="utf-8")
    html = outputs["html"].read_text(encoding="utf-8")
    for heading in (
        "Model details",
        "Intended use",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Ethical considerations",
        "Caveats and recommendations",
    ):
        assert html.count(f"<h3>{heading}</h3>") == 3, heading
        assert md.count(f"**{heading}.**") == 3, heading
    assert html.count("<h3>Quantitative analyses</h3>") == 3


def test_the_cards_say_what_the_warehouse_holds(doc):
    c = card(doc, "credit-risk")
    d = c["details"]
    assert (d["owner"], d["team"], d["risk_tier"]) == ("risk-ml@example.com", "risk-ml", "high")
    assert d["description"].startswith("Gradient-boosted PD model")
    assert d["production"][0]["alias"] == "champion" and d["type"] == "classification"
    assert c["intended_use"] == HOSTILE  # JSON keeps the raw text
    assert [f["feature"] for f in c["factors"]] == ["sex", "age_band", "sex & age_band"]
    assert c["factors"][0]["groups"] == ["F", "M"]
    ref = c["training_data"]["reference"][0]
    assert (ref["kind"], ref["since"], ref["until"]) == (
        "window",
        "2026-01-05T00:00:00Z",
        "2026-03-01T00:00:00Z",
    )
    # a failing parity policy (configured for credit-risk) is an ethical consideration
    assert any(
        "Demographic parity ratio by age_band" in r["name"] for r in c["ethical_considerations"]
    )


def test_parity_without_a_policy_is_held_to_the_four_fifths_rule(doc):
    # fraud-detector has no parity policy; its age_band ratio is under 0.8
    risks = [r["name"] for r in card(doc, "fraud-detector")["ethical_considerations"]]
    assert any(
        r.startswith("Demographic parity ratio by age_band is 0.7")
        and r.endswith("outside the four-fifths rule.")
        for r in risks
    ), risks


def test_a_model_with_nothing_recorded_says_so(doc, outputs):
    c = card(doc, HOSTILE_NAME)
    assert c["intended_use"] is None and c["metrics"] == [] and c["quantitative"] == []
    assert c["details"]["owner"] is None
    assert "No prediction log is synced for this model" in " ".join(c["caveats"])
    mct = c["model_card"]
    assert "use_cases" not in mct["considerations"]  # left out, never invented
    assert mct["quantitative_analysis"]["performance_metrics"] == []
    html = outputs["html"].read_text(encoding="utf-8")
    article = html.split("<article")[
        1 + [m["name"] for m in doc["sections"]["cards"]["models"]].index(HOSTILE_NAME)
    ]
    assert article.count("not recorded") >= 9


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"shared model card schema absent: {SCHEMA}")
def test_each_card_validates_against_model_card_toolkit_v002(doc):
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    for m in doc["sections"]["cards"]["models"]:
        errors = [e.message for e in validator.iter_errors(m["model_card"])]
        assert errors == [], (m["name"], errors)
    broken = dict(card(doc, "credit-risk")["model_card"], extra="x")
    assert list(validator.iter_errors(broken))  # the check can fail


def _raw_groups(org: Path, feature: str) -> dict[str, tuple[int, float, float]]:
    """count, selection rate and accuracy per group of the labelled rows, from the parquet
    files with the config's mapping (prediction = p_default >= 0.5), without mlreport."""
    rows = duckdb.sql(
        f"SELECT {feature}, count(*), avg(CAST(p_default >= 0.5 AS INT)), "
        "avg(CASE WHEN CAST(p_default >= 0.5 AS INT) = defaulted THEN 1 ELSE 0 END) "
        f"FROM '{org}/predictions/credit-risk/*.parquet' WHERE defaulted IS NOT NULL "
        f"AND ts >= TIMESTAMPTZ '{WINDOW[0]}' AND ts < TIMESTAMPTZ '{WINDOW[1]}' GROUP BY 1"
    ).fetchall()
    return {str(g): (n, sel, acc) for g, n, sel, acc in rows}


def test_performance_metrics_carry_one_slice_per_group_with_exact_values(org, doc):
    metrics = card(doc, "credit-risk")["model_card"]["quantitative_analysis"]["performance_metrics"]
    overall = {m["type"]: m for m in metrics if "slice" not in m}
    assert {"accuracy", "roc_auc", "f1"} <= set(overall)
    by = {(m["slice"], m["type"]): float(m["value"]) for m in metrics if "slice" in m}
    slices = {s for s, _ in by}
    assert {"sex=F", "sex=M", "age_band=61+", "sex & age_band=F & 18-25"} <= slices
    assert len(slices) == 2 + 4 + 8
    for feature in ("sex", "age_band"):
        for group, (n, sel, acc) in _raw_groups(org, feature).items():
            s = f"{feature}={group}"
            assert by[(s, "count")] == n
            assert by[(s, "selection_rate")] == pytest.approx(sel, abs=1e-12)
            assert by[(s, "accuracy")] == pytest.approx(acc, abs=1e-12)
    labelled = duckdb.sql(
        "SELECT avg(CASE WHEN CAST(p_default >= 0.5 AS INT) = defaulted THEN 1 ELSE 0 END) "
        f"FROM '{org}/predictions/credit-risk/*.parquet' WHERE defaulted IS NOT NULL "
        f"AND ts >= TIMESTAMPTZ '{WINDOW[0]}' AND ts < TIMESTAMPTZ '{WINDOW[1]}'"
    ).fetchall()[0][0]
    assert float(overall["accuracy"]["value"]) == pytest.approx(labelled, abs=1e-12)


def test_entity_option_renders_one_card(org, tmp_path):
    out = cards(org, tmp_path, "--format", "json", "--entity", "fraud-detector")
    doc = json.loads(out["json"].read_text(encoding="utf-8"))
    assert [m["name"] for m in doc["sections"]["cards"]["models"]] == ["fraud-detector"]


def test_hostile_text_is_escaped_in_html_and_markdown(outputs, doc):
    html = outputs["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    md = outputs["md"].read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md and "[link](" not in md
    assert "&lt;script&gt;" in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "*b*" not in md and "`code`" not in md  # emphasis and code spans are escaped
    assert card(doc, HOSTILE_NAME)["model_card"]["model_details"]["name"] == HOSTILE_NAME


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_chromium_renders_the_cards(outputs, tmp_path):
    url = outputs["html"].resolve().as_uri()
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1800", url)
    assert_not_blank(png)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert "<script>alert" not in dom and "<img src=x" not in dom
    assert dom.count('class="entity card"') == 3
    assert "Quantitative analyses" in dom and "sex = F" in dom


def test_pdf_pages_and_text(outputs, tmp_path):
    pages = pdf_pages(outputs["pdf"], tmp_path)
    assert len(pages) >= 3
    assert_not_blank(pages[0])
    text = pdf_text(outputs["pdf"])
    assert '<script>alert("x")</script>' in text  # shown literally, not run
    for word in (
        "credit-risk",
        "fraud-detector",
        "Intended use",
        "Quantitative analyses",
        "age_band = 61+",
        "not recorded",
    ):
        assert word.lower() in text.lower(), word
    assert re.search(r"Probability of default|Real-time card transaction fraud scoring", text)
