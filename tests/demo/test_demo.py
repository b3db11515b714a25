"""`mlreport demo`: the whole pipeline on the sample organisation, offline, reproducibly.

These tests need the git and events sources, the dora metrics and the delivery report with
its renderers; they fail (not skip) when one of those is missing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import cli

REPRODUCIBLE = (".html", ".json", ".md")
RUN_RECORDS = (".manifest.json", ".intoto.json")  # per-run ids and times: not reproducible


def run_demo(out: Path) -> list[Path]:
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    assert result.stderr == ""  # quiet on success: no library warnings, no notes without -v
    return [Path(line) for line in result.stdout.splitlines() if line.strip()]


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every HTML, JSON and Markdown output under ``folder``.

    Manifests and in-toto statements are left out: each records its own run id (and the
    PDF's hash; a statement also its signing time). The staging
    folders under ``.runs`` are named per run, so the published days are read through their
    links.
    """
    published = [folder] + sorted(p for p in folder.iterdir() if _published_day(p))
    return {
        f"{d.name}/{p.name}" if d != folder else p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for d in published
        for p in sorted(d.iterdir())
        if p.suffix in REPRODUCIBLE and p.is_file() and not p.name.endswith(RUN_RECORDS)
    }


def _published_day(p: Path) -> bool:
    """A day of the archive (a link to its run's folder), not the staging area."""
    return p.is_dir() and not p.name.startswith(".")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out)


@pytest.mark.slow
def test_demo_prints_its_outputs_and_writes_the_delivery_report(demo):
    out, printed = demo
    assert printed, "demo printed no output paths"
    for path in printed:
        assert path.is_absolute() and path.is_file(), path
    reports = out / "reports"
    assert reports / "index.html" in printed
    delivery = {p.suffix: p for p in printed if p.name.startswith("delivery")}
    assert sorted(delivery) == [".html", ".json", ".md", ".pdf"]
    assert delivery[".pdf"].read_bytes().startswith(b"%PDF")
    for entity in ("credit-risk", "fraud-detector", "recsys-api"):
        assert entity in delivery[".html"].read_text(encoding="utf-8")
        assert entity in delivery[".md"].read_text(encoding="utf-8")


@pytest.mark.slow
def test_demo_twice_into_the_same_folder_is_byte_identical(demo):
    out, printed = demo
    before = digests(out / "reports")
    for name in ("delivery.html", "delivery.json", "delivery.md", "check.json", "index.html"):
        assert any(key.endswith(name) for key in before), name
    again = run_demo(out)
    assert sorted(again) == sorted(printed)
    assert digests(out / "reports") == before


@pytest.mark.slow
def test_demo_warehouse_holds_every_event_and_commit(demo):
    """Through the real git and events sources, the warehouse says what the files say."""
    from mlreport.warehouse import Warehouse
    from tests.demo.records import manifest, records

    out, _ = demo
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    with Warehouse(out / "mlreport.duckdb", read_only=True) as wh:
        deployments = wh.con.sql(
            f"SELECT deployment_id, entity, environment, version, commit_sha, model_version, "
            f"strftime(started_at, '{fmt}') AS started_at, "
            f"strftime(finished_at, '{fmt}') AS finished_at, status, kind, trigger, "
            "strategy FROM deployments ORDER BY entity, deployment_id"
        ).pl()
        incidents = wh.con.sql(
            f"SELECT incident_id, entity, environment, severity, "
            f"strftime(detected_at, '{fmt}') AS detected_at, "
            f"strftime(resolved_at, '{fmt}') AS resolved_at, cause_deployment_id, title "
            "FROM incidents ORDER BY incident_id"
        ).pl()
        commits = dict(wh.con.sql("SELECT repo, count(*) FROM commits GROUP BY repo").fetchall())
    files = records()
    want_deployments = sorted(
        ({"strategy": None, **d} for deps, _ in files.values() for d in deps),
        key=lambda d: (d["entity"], d["deployment_id"]),
    )
    assert deployments.to_dicts() == want_deployments
    want_incidents = sorted(
        (i for _, incs in files.values() for i in incs), key=lambda i: i["incident_id"]
    )
    assert incidents.to_dicts() == want_incidents
    assert commits == {
        f"{repo}-repo": info["commits"] for repo, info in manifest()["repos"].items()
    }


@pytest.mark.slow
def test_demo_policy_check_tells_the_three_stories(demo):
    """check.json holds the DORA policy results: the struggling team fails, the others pass."""
    import json

    out, printed = demo
    check = json.loads((printed[0].parent / "check.json").read_text(encoding="utf-8"))
    results = {(r["metric"], r["entity"]): r for r in check}
    assert ("dora.change_failure_rate", "fraud-detector") in results, (
        "no DORA policy results: is the dora metrics plugin loaded? (mlreport plugins --all)"
    )
    for metric in ("dora.change_failure_rate", "dora.recovery_time"):
        assert results[(metric, "credit-risk")]["passed"]
        assert results[(metric, "recsys-api")]["passed"]
        assert not results[(metric, "fraud-detector")]["passed"]
    frequency = {
        e: results[("dora.deployment_frequency", e)]["value"]
        for e in ("credit-risk", "recsys-api", "fraud-detector")
    }
    assert frequency["credit-risk"] > frequency["recsys-api"] > frequency["fraud-detector"]


@pytest.mark.slow
def test_demo_html_in_headless_chromium_and_pdf_through_pdftoppm(demo, tmp_path):
    """The real renderers on the real demo: a Chromium screenshot, PDF pages as PNG, PDF text."""
    import shutil
    import subprocess

    from PIL import Image

    from tests.browser import chromium

    for tool in ("chromium", "pdftoppm", "pdftotext"):
        assert shutil.which(tool), f"{tool} is not installed: run .ci/run or apt-get install it"
    _, printed = demo
    html = next(p for p in printed if p.suffix == ".html" and p.name.startswith("delivery"))
    pdf = html.with_suffix(".pdf")
    shot = tmp_path / "delivery.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1800", html.as_uri())
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1800)
    lo, hi = image.getextrema()
    assert hi - lo > 150, "the screenshot is blank"

    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4  # summary, one page per entity, notes
    assert Image.open(pages[0]).convert("L").getextrema()[0] < 100  # ink on page 1
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    first_page = text.split("\f")[0]
    for entity in ("credit-risk", "fraud-detector", "recsys-api"):
        assert entity in first_page
    assert "DORA 2023" in first_page
    for band in ("Elite", "Low"):
        assert band in first_page


@pytest.mark.slow
def test_a_sync_with_nothing_new_reports_no_rows(demo):
    out, _ = demo
    args = ["--config", str(out / "mlreport.toml"), "sync"]
    CliRunner().invoke(cli, args)  # whatever the demo left to sync
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) >= 6
    assert all(line.split("\t")[1] == "0 rows" for line in lines), lines


@pytest.mark.slow
def test_the_pdf_drift_table_keeps_feature_names_and_headers_whole(demo):
    from tests.browser import pdf_text

    out, printed = demo
    (pdf,) = [p for p in printed if p.name == "quality.pdf"]
    text = pdf_text(pdf)
    assert "credit_history_months" in text and "employment_years" in text  # not "credit_histo"
    assert "\nJENSEN" in text.split("WASSERSTEIN", 1)[1][:40]  # its own word, not "…STEIJENSEN"


@pytest.mark.slow
def test_demo_runs_verify_and_are_in_the_history(demo):
    """Every demo run writes in-toto statements its folder verifies against, and is recorded."""
    import json

    from mlreport.plugin_manager import add_plugin_commands

    out, _ = demo
    add_plugin_commands(cli)
    day = next(p for p in (out / "reports").iterdir() if _published_day(p))
    key = out / "keys" / "mlreport.pub"  # the demo signs with a key it made (sample_data)
    verified = CliRunner().invoke(cli, ["verify", str(day), "--key", str(key)])
    assert verified.exit_code == 0, verified.output
    # delivery, quality, models, governance, model-card and check
    assert "match 7 statement(s)" in verified.output
    history = CliRunner().invoke(
        cli, ["--config", str(out / "mlreport.toml"), "history", "--format", "json"]
    )
    rows = json.loads(history.stdout)
    assert {r["report"] for r in rows} == {
        "delivery",
        "quality",
        "models",
        "roi",
        "governance",
        "model-card",
    }
    assert all(r["status"] == "ok" and r["signature"] == "signed" for r in rows)


@pytest.mark.slow
def test_the_demo_run_computes_cost_and_roi_from_the_sample_bill(demo):
    """The demo's run stores the cost and ROI figures of its window (docs/sample-data.md):
    every team has cloud cost, the GPU model costs most per 1,000 predictions, fraud-detector
    pays back in its fifth month and credit-risk never does."""
    from mlreport.warehouse import Warehouse

    out, _ = demo
    with Warehouse(out / "mlreport.duckdb", read_only=True) as wh:
        rows = wh.con.execute(
            "SELECT metric, entity, value, n FROM metric_values "
            "WHERE (metric LIKE 'cost.%' OR metric LIKE 'roi.%') "
            'AND dimensions = \'{"currency":"USD"}\' ORDER BY ALL'
        ).fetchall()
    got = {(m, e): (v, n) for m, e, v, n in rows}
    for entity in ("credit-risk", "fraud-detector", "recsys-api"):
        assert got[("cost.total", entity)][0] > 0
    per_1k = {e: got[("cost.per_1k_predictions", e)][0] for e in ("credit-risk", "fraud-detector")}
    assert per_1k["fraud-detector"] > 3 * per_1k["credit-risk"]
    assert got[("cost.unattributed", "(all)")][0] > 0
    assert got[("roi.payback_months", "fraud-detector")] == (5.0, 8)
    assert got[("roi.payback_months", "credit-risk")] == (None, 6)
    assert got[("roi.roi", "fraud-detector")][0] > 1 > 0 > got[("roi.roi", "credit-risk")][0]
