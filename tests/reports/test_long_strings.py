"""Very long user strings: shown clipped in HTML, PDF and Markdown (whole in JSON), and a PDF
that takes too long fails clearly instead of hanging the run.

An unbroken incident title of 8,000 characters cost WeasyPrint 7 s and 100,000 did not finish
in 15 minutes. The HTML, JSON and Markdown are rendered and checked before the PDF, so without
the ``clip`` filter these tests fail fast instead of hanging.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jinja2
import pytest

from mlreport.reporting import ReportError, render_report
from mlreport.reports.charts.svg import LABEL_LIMIT, NAME_LIMIT
from mlreport.reports.charts.trend import Point, Series, TrendSpec, trend_chart
from mlreport.reports.quality.charts import disparity_svg
from mlreport.reports.renderers import (
    CLIP_LIMIT,
    RENDER_TIMEOUT,
    RENDER_TIMEOUT_ENV,
    clip_filter,
    clip_text,
    md_escape,
    render_timeout,
)
from mlreport.warehouse import Warehouse

from .conftest import context, render

N = 100_000
TITLE = "T" * N  # one incident title
ENTITY = "E" * N  # the entity "search-api", everywhere it is named
SHOWN = CLIP_LIMIT - 1  # characters kept before the ellipsis


def _lengthen(wh: Warehouse) -> None:
    """One incident title and one entity name become 100,000 characters without a space."""
    wh.con.execute(
        "UPDATE incidents SET title = ? "
        "WHERE incident_id = (SELECT min(incident_id) FROM incidents WHERE entity = 'search-api')",
        [TITLE],
    )
    for table in ("deployments", "incidents", "repo_entities"):
        wh.con.execute(f"UPDATE {table} SET entity = ? WHERE entity = 'search-api'", [ENTITY])
    wh.con.execute("UPDATE entities SET name = ? WHERE name = 'search-api'", [ENTITY])


def _runs(text: str, char: str) -> list[int]:
    """Lengths of the runs of ``char`` in ``text``."""
    return [len(m) for m in re.findall(f"{re.escape(char)}+", text)]


@pytest.fixture
def long_warehouse(warehouse: Warehouse) -> Warehouse:
    _lengthen(warehouse)
    return warehouse


def test_json_keeps_whole_strings_and_html_md_show_them_clipped(
    long_warehouse, make_config, tmp_path
):
    out = render(long_warehouse, make_config(), tmp_path, ("html", "json", "md"))
    data = json.loads(out["json"].read_text(encoding="utf-8"))
    entities = data["sections"]["entities"]["entities"]
    entity = next(e for e in entities if e["name"] == ENTITY)
    assert TITLE in [r["title"] for r in entity["incidents"]["rows"]]
    assert ENTITY in [r["entity"] for r in data["sections"]["summary"]["rows"]]

    html = out["html"].read_text(encoding="utf-8")
    shown = re.sub(r'title="[^"]*"', "", html)  # the text a reader sees, not the tooltips
    assert max(_runs(shown, "T")) == SHOWN
    assert f'<span class="clipped" title="{TITLE}">{"T" * SHOWN}…</span>' in html
    assert f"<h2>{'E' * SHOWN}…" in re.sub(r'<span class="clipped" title="[^"]*">', "", html)
    # sentences around the name (notes, headlines) are cut at 600; chart labels at 300
    assert max(_runs(shown, "E")) < 600
    assert html.count(TITLE) == 1  # the whole title lives in its tooltip only

    md = out["md"].read_text(encoding="utf-8")
    assert max(_runs(md, "T"), default=0) <= SHOWN
    assert f"**{'E' * SHOWN}…**" in md
    assert max(_runs(md, "E")) < 600


def test_pdf_of_a_100k_title_and_entity_holds_the_clipped_strings(
    long_warehouse, make_config, tmp_path
):
    out = render(long_warehouse, make_config(), tmp_path, ("html", "pdf"))
    assert out["pdf"].read_bytes().startswith(b"%PDF")
    # -raw: the content stream's order, so a clipped string wrapped over lines stays together
    text = subprocess.run(
        ["pdftotext", "-raw", str(out["pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    assert "T" * SHOWN + "…" in flat
    assert max(_runs(flat, "T")) == SHOWN
    assert "E" * SHOWN + "…" in flat
    assert "credit-risk" in text and "fraud-detector" in text


def test_a_pdf_over_the_time_limit_fails_clearly_and_the_others_are_written(
    warehouse, make_config, tmp_path, monkeypatch
):
    monkeypatch.setenv(RENDER_TIMEOUT_ENV, "0.001")
    ctx = context(warehouse, make_config())
    outputs = render_report(ctx, "delivery", ["html", "pdf", "json", "md"], tmp_path)
    (message,) = ctx.errors
    assert message.startswith("report delivery (pdf): report 'delivery'")
    assert "0.001 s" in message and RENDER_TIMEOUT_ENV in message
    assert sorted(outputs) == ["html", "json", "md"]  # the formats after the pdf too
    for name in ("delivery.html", "delivery.json", "delivery.md"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert not (tmp_path / "delivery.pdf").exists()
    manifest = json.loads((tmp_path / "delivery.manifest.json").read_text())
    assert sorted(manifest["outputs"]) == ["html", "json", "md"]


def test_the_time_limit_comes_from_the_config_unless_the_environment_says(make_config):
    config = make_config(top="[output]\nrender_timeout = 7\n")
    assert render_timeout(config.output.render_timeout) == 7


def test_the_time_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(RENDER_TIMEOUT_ENV, raising=False)
    assert render_timeout() == RENDER_TIMEOUT == 120
    monkeypatch.setenv(RENDER_TIMEOUT_ENV, "2.5")
    assert render_timeout() == 2.5
    monkeypatch.setenv(RENDER_TIMEOUT_ENV, "0")
    assert render_timeout() is None  # no limit: printed in this process
    for bad in ("soon", "-1", "inf", "nan"):
        monkeypatch.setenv(RENDER_TIMEOUT_ENV, bad)
        with pytest.raises(ReportError, match=RENDER_TIMEOUT_ENV):
            render_timeout()


def test_without_a_limit_the_pdf_is_the_same(warehouse, make_config, tmp_path, monkeypatch):
    limited = render(warehouse, make_config(), tmp_path / "a", ("html", "pdf"))["pdf"]
    monkeypatch.setenv(RENDER_TIMEOUT_ENV, "0")
    direct = render(warehouse, make_config(), tmp_path / "b", ("html", "pdf"))["pdf"]
    assert limited.read_bytes() == direct.read_bytes()


def _filters(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=autoescape)
    env.filters.update(clip=clip_filter, clip_text=clip_text, md=md_escape)
    return env


def test_clip_filter_keeps_short_values_and_cuts_long_ones():
    html, md = _filters(True), _filters(False)
    for value in ("search-api", "x" * CLIP_LIMIT, None, 42, 0.5):
        expected = html.from_string("{{ v }}").render(v=value)
        assert html.from_string("{{ v|clip }}").render(v=value) == expected
        assert md.from_string("{{ v|clip }}").render(v=value) == str(value)
    long = "<b>" + "x" * 300
    cut = "&lt;b&gt;" + "x" * (CLIP_LIMIT - 4) + "…"
    assert html.from_string("{{ v|clip }}").render(v=long) == (
        f'<span class="clipped" title="&lt;b&gt;{"x" * 300}">{cut}</span>'
    )
    assert html.from_string("{{ v|clip_text }}").render(v=long) == cut
    assert md.from_string("{{ v|clip|md }}").render(v=long) == (
        "&lt;b&gt;" + "x" * (CLIP_LIMIT - 4) + "…"
    )
    assert md.from_string("{{ v|clip(10) }}").render(v=long) == "<b>xxxxxx…"


def test_the_hostile_sample_is_unchanged_by_clipping(hostile_outputs):
    """Normal-length strings are shown whole: nothing in the hostile sample is clipped."""
    for fmt in ("html", "md"):
        text = Path(hostile_outputs[fmt]).read_text(encoding="utf-8")
        assert 'class="clipped"' not in text and "…" not in text


def test_charts_clip_the_user_strings_they_draw_and_describe():
    points = [Point("6 Apr", 1.0), Point("13 Apr", 2.0)]
    svg = str(
        trend_chart(
            TrendSpec(
                label="Deployments per week, " + ENTITY,
                unit="count",
                series=[Series(TITLE, points), Series("production", points)],
            )
        )
    )
    assert len(svg) < 5_000
    assert f">{'T' * 14}…</text>" in svg  # the legend slot holds 15 characters
    assert max(_runs(svg, "T")) == NAME_LIMIT - 1  # in <desc>
    assert max(_runs(svg, "E")) < LABEL_LIMIT  # in <title> and aria-label
    groups = [{"group": g, "small": False, "outside": False, "value": 0.5} for g in (TITLE, "M")]
    fair = {
        "feature": ENTITY,
        "disparity": [{"label": "Selection rate", "band": None, "groups": groups}],
    }
    svg = str(disparity_svg(fair, "credit-risk"))
    assert len(svg) < 5_000 and max(_runs(svg, "T")) == NAME_LIMIT - 1
