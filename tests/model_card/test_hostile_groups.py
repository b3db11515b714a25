"""Cards of a log whose entity, sensitive feature and group names are hostile (the quality
report's fake families), with no lifecycle family: escaping, the schema, determinism."""

from __future__ import annotations

import importlib
import json

import pytest

from mlreport import plugin_manager
from mlreport.reporting import render_report
from mlreport.warehouse import Warehouse
from tests.quality_report import fakes
from tests.quality_report.conftest import config, context

from .conftest import SCHEMA


@pytest.fixture
def rendered(tmp_path):
    p = plugin_manager.Plugins()
    for name in ("mlreport.reports.renderers", "mlreport.reports.model_card"):
        p.register_module(importlib.import_module(name), name)
    p.register_module(fakes.AllFamilies(), "fakes")
    plugin_manager._plugins = p
    try:
        with Warehouse(tmp_path / "wh.duckdb") as wh:
            fakes.seed_log(wh, hostile=True)
            cfg = config(tmp_path)
            yield [
                render_report(context(wh, cfg), "model-card", ["html", "json", "md"], tmp_path / d)
                for d in ("a", "b")
            ]
    finally:
        plugin_manager.reset_plugins()


def test_hostile_feature_and_group_names_are_text(rendered):
    out = rendered[0]
    html = out["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img" not in html and "<b>" not in html
    assert "sex &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; = F &lt;script&gt;" in html
    md = out["md"].read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md and "<b>" not in md
    assert "F &lt;script&gt;alert" in md
    doc = json.loads(out["json"].read_text(encoding="utf-8"))
    (c,) = doc["sections"]["cards"]["models"]
    assert c["name"] == f"credit {fakes.HOSTILE}"
    slices = {
        m.get("slice") for m in c["model_card"]["quantitative_analysis"]["performance_metrics"]
    }
    assert f"sex {fakes.HOSTILE}=F {fakes.HOSTILE}" in slices  # JSON keeps the raw names
    assert any("No plugin provides lifecycle.* metrics" in x for x in c["caveats"])
    assert c["details"]["production"] == [] and c["details"]["versions"] == []


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"shared model card schema absent: {SCHEMA}")
def test_a_card_without_registry_validates(rendered):
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    doc = json.loads(rendered[0]["json"].read_text(encoding="utf-8"))
    for m in doc["sections"]["cards"]["models"]:
        jsonschema.validate(
            m["model_card"], schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )


def test_same_inputs_give_identical_bytes(rendered):
    a, b = rendered
    for fmt in ("html", "json", "md"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt
