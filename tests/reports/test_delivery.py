"""The delivery report's content: numbers, notes, determinism, template overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlreport.metrics import compute_metrics, to_records
from mlreport.plugin_manager import get_plugins
from mlreport.reports import delivery

from . import fakedora
from .conftest import AS_OF, context, render


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_html_json_md_are_byte_identical_across_runs(warehouse, make_config, tmp_path):
    config = make_config()
    first = render(warehouse, config, tmp_path / "a")
    second = render(warehouse, config, tmp_path / "b")
    for fmt in ("html", "json", "md"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt
    manifest = _json(tmp_path / "a" / "delivery.manifest.json")
    assert (
        manifest["outputs"]["html"]["sha256"]
        == _json(tmp_path / "b" / "delivery.manifest.json")["outputs"]["html"]["sha256"]
    )


def test_json_holds_every_summary_number(warehouse, make_config, tmp_path):
    config = make_config()
    out = render(warehouse, config, tmp_path, formats=("json",))
    summary = _json(out["json"])["sections"]["summary"]
    ctx = context(warehouse, config)
    expected = to_records(compute_metrics(warehouse, config, [ctx.window], "dora.*", store=False))
    wanted = {
        (r["metric"], r["entity"], r["dimensions"].get("stat")): r
        for r in expected
        if r["dimensions"].get("stat") in (None, "p50")
    }
    rows = {row["entity"]: row for row in summary["rows"]}
    assert sorted(rows) == ["credit-risk", "fraud-detector", "search-api"]
    checked = 0
    for row in summary["rows"]:
        for col in summary["columns"]:
            cell = row["metrics"][col["key"]]
            ref = wanted[(col["metric"], row["entity"], col["stat"])]
            # JSON keeps 13 significant digits (byte-stable across parallel float sums)
            assert cell["value"] == (
                None if ref["value"] is None else float(f"{ref['value']:.13g}")
            )
            assert cell["n"] == ref["n"]
            assert cell["band"] == ref["band"]
            assert cell["band_table"] == ("dora-2023" if ref["band"] else None)
            checked += 1
    assert checked == 12
    assert (
        summary["totals"]["deployments"]
        == warehouse.con.execute(
            "SELECT count(*) FROM deployments WHERE environment = 'production' "
            "AND finished_at >= ? AND finished_at < ?",
            [ctx.window.start, ctx.window.end],
        ).fetchone()[0]
    )
    assert summary["window"] == {"since": "2026-04-01T00:00:00Z", "until": "2026-06-30T00:00:00Z"}
    assert summary["as_of"] == "2026-06-30T00:00:00Z"


def test_summary_marks_small_samples_policies_and_headlines(warehouse, make_config, tmp_path):
    out = render(warehouse, make_config(), tmp_path)
    rows = {r["entity"]: r for r in _json(out["json"])["sections"]["summary"]["rows"]}
    fraud = rows["fraud-detector"]["metrics"]
    assert fraud["deployment_frequency"]["n"] == 4
    assert fraud["deployment_frequency"]["small_sample"] is True
    assert rows["search-api"]["metrics"]["deployment_frequency"]["small_sample"] is False
    cfr = rows["search-api"]["metrics"]["change_failure_rate"]
    assert cfr["policy"] == {"min": None, "max": 0.15, "severity": "error", "passed": True}
    assert rows["search-api"]["headline"].startswith("Strongest: lead time (Elite)")
    html = out["html"].read_text()
    assert "High · DORA 2023" in html and "small sample" in html
    assert "Meets policy" in html


def test_policy_breach_leads_the_headline(warehouse, make_config, tmp_path):
    config = make_config('"dora.deployment_frequency" = { min = 5 }\n')
    out = render(warehouse, config, tmp_path, formats=("json", "md"))
    rows = {r["entity"]: r for r in _json(out["json"])["sections"]["summary"]["rows"]}
    assert rows["credit-risk"]["headline"].startswith(
        "Policy breach: deployment frequency is 3 / week (policy ≥ 5 / week)"
    )
    assert "❌ policy" in out["md"].read_text()


def test_entity_section_trends_lead_times_and_tables(warehouse, make_config, tmp_path):
    out = render(warehouse, make_config(), tmp_path, formats=("json",))
    data = _json(out["json"])["sections"]["entities"]
    assert len(data["weeks"]) == 14  # 1 Apr (Wed) .. 30 Jun: 12 full weeks and two partial
    credit = next(e for e in data["entities"] if e["name"] == "credit-risk")
    freq = credit["trends"][0]
    assert freq["metric"] == "dora.deployment_frequency"
    points = freq["series"][0]["points"]
    assert [p["start"] for p in points] == [w["start"] for w in data["weeks"]]
    assert sum(p["n"] for p in points) == 39  # every production deployment, once
    assert [b["band"] for b in freq["bands"]] == ["low", "medium", "high", "elite"]
    lt = credit["lead_time"]
    assert lt["available"] and lt["n"] == sum(b["count"] for b in lt["bins"]) == 140
    changes = fakedora.deployment_changes(
        warehouse, make_config(), context(warehouse, make_config()).window, ["credit-risk"]
    )
    hours = sorted(changes["lead_time_hours"].to_list())
    assert lt["p50"] == pytest.approx(delivery.quantile(hours, 0.5))
    deps = credit["deployments"]
    assert deps["total"] == 45 and len(deps["rows"]) == delivery.MAX_ROWS
    assert deps["hidden"] == 45 - delivery.MAX_ROWS
    assert deps["other_environments"] == 45
    assert sum(deps["by_status"].values()) == 45
    times = [r["finished_at"] for r in deps["rows"]]
    assert times == sorted(times, reverse=True)
    assert sum(r["changes"] or 0 for r in deps["rows"]) > 0
    ops = {o["metric"]: o for o in credit["operations"]}
    assert set(ops) == {
        "ops.time_to_restore",
        "ops.time_to_detect",
        "ops.automation_rate",
        "dora.rework_rate",
    }
    assert ops["ops.automation_rate"]["value"] is not None
    html = out["json"].with_suffix(".html")
    assert not html.exists()


def test_quality_notes_cover_every_kind(warehouse, make_config, tmp_path):
    out = render(warehouse, make_config(), tmp_path, formats=("json", "md", "html"))
    notes = _json(out["json"])["sections"]["quality"]["notes"]
    kinds = {(n["kind"], n["entity"]) for n in notes}
    assert ("unmapped_repository", "fraud-detector") in kinds
    assert ("unlinked_deployments", "fraud-detector") in kinds
    assert ("open_failures", "search-api") in kinds
    assert ("small_sample", "fraud-detector") in kinds
    assert ("no_activity", "legacy-batch") in kinds
    md = out["md"].read_text()
    assert "**Data-quality notes**" in md and "legacy-batch had no deployments" in md
    summary = _json(out["json"])["sections"]["summary"]
    assert summary["note_count"] == len(notes)
    kpi = f'<div class="label">Data-quality notes</div><div class="value">{len(notes)}</div>'
    assert kpi in out["html"].read_text()


def test_markdown_is_a_short_pr_comment(warehouse, make_config, tmp_path):
    md = render(warehouse, make_config(), tmp_path, formats=("md",))["md"].read_text()
    lines = md.splitlines()
    assert lines[0] == "## Software delivery performance"
    header = next(line for line in lines if line.startswith("| Entity |"))
    assert header.count("|") == 6
    assert any(
        line.startswith("| **search-api** (production) | 6.1 / week · High |") for line in lines
    )
    assert "Bands: DORA 2023." in md
    assert len(lines) < 40
    assert not any(line != line.rstrip() for line in lines)


def test_entity_filter_and_title(warehouse, make_config, tmp_path):
    out = render(
        warehouse, make_config(), tmp_path, entities=["credit-risk"], title="Q2 delivery review"
    )
    data = _json(out["json"])
    assert data["title"] == "Q2 delivery review"
    assert [r["entity"] for r in data["sections"]["summary"]["rows"]] == ["credit-risk"]
    assert "search-api" not in out["html"].read_text()
    assert "<title>Q2 delivery review</title>" in out["html"].read_text()


def test_empty_warehouse_renders(tmp_path, make_config):
    from mlreport.warehouse import Warehouse

    with Warehouse(tmp_path / "empty.duckdb") as wh:
        out = render(wh, make_config(), tmp_path / "out")
    data = _json(out["json"])["sections"]
    assert data["summary"]["rows"] == []
    assert "No entity had deployments or incidents" in out["html"].read_text()
    assert [n["kind"] for n in data["quality"]["notes"]] == ["no_activity"]


def test_without_a_dora_plugin_the_report_says_so(warehouse, make_config, tmp_path):
    for name in ("fakedora", "mlreport.plugins.dora"):
        get_plugins().block(name)
    out = render(warehouse, make_config(), tmp_path, formats=("json", "html"))
    data = _json(out["json"])["sections"]
    assert data["quality"]["notes"][0]["kind"] == "no_metrics"
    credit = next(e for e in data["entities"]["entities"] if e["name"] == "credit-risk")
    assert credit["lead_time"]["available"] is False
    assert credit["deployments"]["total"] == 45
    assert "not available from the installed metric plugins" in out["html"].read_text()


def test_user_templates_override_fragments_and_markdown(warehouse, make_config, tmp_path):
    custom = tmp_path / "my-templates"
    (custom / "delivery").mkdir(parents=True)
    (custom / "delivery" / "summary.html.j2").write_text(
        '<p class="house-style">{{ data.rows|length }} entities for {{ report.title }}</p>\n'
    )
    (custom / "base.md.j2").write_text("# House summary: {{ report.title|md }}\n")
    config = make_config(top='templates = "my-templates"\n')
    out = render(warehouse, config, tmp_path / "out", title="Ops <b>review</b>")
    html = out["html"].read_text()
    assert '<p class="house-style">3 entities for Ops &lt;b&gt;review&lt;/b&gt;</p>' in html
    assert '<table class="scorecard">' not in html  # the packaged fragment was replaced
    assert "Weekly trends" in html  # other fragments still come from the package
    assert out["md"].read_text() == "# House summary: Ops &lt;b&gt;review&lt;/b&gt;\n"


def test_as_of_moves_the_window(warehouse, make_config, tmp_path):
    from datetime import timedelta

    out = render(warehouse, make_config(), tmp_path, as_of=AS_OF - timedelta(days=30))
    data = _json(out["json"])
    assert data["window"]["until"] == "2026-05-31T00:00:00Z"
    assert data["sections"]["summary"]["as_of"] == "2026-05-31T00:00:00Z"
    assert '<meta name="dcterms.created" content="2026-05-31T00:00:00Z">' in out["html"].read_text()
