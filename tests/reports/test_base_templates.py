"""Another report type reuses the packaged document, stylesheet and renderers."""

from __future__ import annotations

import json

from mlreport import hookimpl
from mlreport.plugin_manager import get_plugins
from mlreport.reporting import ReportType, Section, render_report

from .conftest import context


class Costs(Section):
    name = "costs"
    title = "Costs"
    template = "finops/costs.html.j2"
    markdown = "finops/costs.md.j2"

    def data(self, ctx):
        n = ctx.warehouse.con.execute("SELECT count(*) FROM deployments").fetchone()[0]
        return {"rows": [{"entity": "a<b>", "cost": 12.5}], "deployments": n}


class FinOps(ReportType):
    name = "finops"
    title = "Model costs"
    sections = (Costs,)
    inputs = ("deployments",)


class Plugin:
    @hookimpl
    def register_reports(self, register):
        register("finops", FinOps)


def test_a_plugin_report_uses_the_packaged_document(warehouse, make_config, tmp_path):
    templates = tmp_path / "tpl" / "finops"
    templates.mkdir(parents=True)
    (templates / "costs.html.j2").write_text(
        '<table class="data">{% for r in data.rows %}<tr><td>{{ r.entity }}</td>'
        '<td class="num">{{ r.cost|value("count") }}</td></tr>{% endfor %}</table>\n'
    )
    (templates / "costs.md.j2").write_text(
        "{% for r in data.rows %}- {{ r.entity|md }}\n{% endfor %}"
    )
    get_plugins().register_module(Plugin(), "finops-test")
    config = make_config(top='templates = "tpl"\n')
    out = render_report(
        context(warehouse, config), "finops", ["html", "json", "md"], tmp_path / "o"
    )
    html = out["html"].read_text()
    assert '<p class="eyebrow">Finops report</p>' in html and "<h1>Model costs</h1>" in html
    assert "<td>a&lt;b&gt;</td>" in html and ">12<" in html
    assert "@page" in html  # the packaged stylesheet, inline
    assert "Provenance" in html
    assert json.loads(out["json"].read_text())["sections"]["costs"]["deployments"] == 292
    assert "- a&lt;b&gt;" in out["md"].read_text()
