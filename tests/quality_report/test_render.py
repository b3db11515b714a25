"""Escaping of hostile names, byte-identical output, and real rendering (Chromium, poppler)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from mlreport.reports.renderers import html_to_pdf
from tests.browser import CHROMIUM, assert_not_blank, chromium, pdf_pages, pdf_text

from . import fakes
from .conftest import install, render

H = fakes.HOSTILE
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def test_hostile_names_are_text_in_html(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<img" not in html and "<b>" not in html
    for where in (
        f"<title>Quality {ESCAPED}</title>",
        f'<div class="entity-name">credit {ESCAPED}</div>',  # entity
        f"<h2>credit {ESCAPED}</h2>",
        f'<td class="wrap">income {ESCAPED}</td>',  # drift feature
        f"<h4>sex {ESCAPED}</h4>",  # sensitive feature
        f'<td class="wrap">F {ESCAPED}</td>',  # group
        "M &lt;img src=&#34;file:///etc/passwd&#34;&gt;",
        "region &lt;b&gt;file:///etc/passwd&lt;/b&gt;",
    ):
        assert where in html, where


def test_hostile_names_are_text_inside_svg(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 8  # 4 trends, calibration, 1 histogram, disparity, SHAP
    for svg in svgs:
        ET.fromstring(svg)  # well-formed: nothing broke out of an attribute or element
        assert "<script" not in svg and "<img" not in svg
    assert sum(ESCAPED in s for s in svgs) >= 8  # the entity is in every chart title


def test_html_is_self_contained(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert "<link" not in html.lower() and "url(" not in html
    refs = re.findall(r"""\b(?:src|href|action|data)\s*=\s*["']([^"']*)""", html)
    assert all(r.startswith("#") for r in refs), refs


def test_markdown_and_json(hostile_outputs):
    md = hostile_outputs["md"].read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md
    assert 'credit &lt;script&gt;alert("x")&lt;/script&gt;' in md
    doc = json.loads(hostile_outputs["json"].read_text(encoding="utf-8"))
    m = doc["sections"]["models"]["models"][0]
    assert m["entity"] == f"credit {H}"  # JSON keeps the raw value
    assert m["drift"]["drifted"] == [f"income {H}"]
    assert [g["group"] for g in m["fairness"]["features"][0]["groups"]][0] == f"F {H}"


def test_same_inputs_give_identical_bytes(seeded, tmp_path):
    install(fakes.AllFamilies())
    wh, cfg = seeded(hostile=True)
    a = render(wh, cfg, tmp_path / "a")
    b = render(wh, cfg, tmp_path / "b")
    for fmt in ("html", "json", "md"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt


def test_chart_type_is_readable_in_print(hostile_outputs):
    """No text below 9 units in charts drawn 420–680 wide; meaning is in words too."""
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', html)]
    assert sizes and min(sizes) >= 9
    for words in (
        "reference (outline)",
        "current (solid)",
        "parity band",
        "below band",
        "policy ≥ 90%",
        "rows per bin",
        "(small)",
    ):
        assert words in html, words


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_chromium_renders_the_html(hostile_outputs, tmp_path):
    url = hostile_outputs["html"].resolve().as_uri()
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1800", url)
    assert_not_blank(png)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert 'Quality &lt;script&gt;alert("x")&lt;/script&gt;' in dom
    assert "<script>alert" not in dom and "<img" not in dom
    assert dom.count("<svg") >= 8
    for text in (
        "Confusion matrix",
        "Calibration",
        "Drift against the reference",
        "Fairness by sensitive feature",
        "What drives the model",
    ):
        assert text in dom, text


def test_pdf_pages_and_text(hostile_outputs, tmp_path):
    pdf = hostile_outputs["pdf"]
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 3  # scorecard, the model, notes
    assert_not_blank(pages[0])
    w, h = Image.open(pages[0]).size
    assert abs(w / h - 210 / 297) < 0.01  # A4
    text = pdf_text(pdf)
    first = text.split("\f")[0].lower()  # headings are upper-cased by CSS
    assert "policy failures" in first and "worst disparity" in first
    assert 'credit <script>alert("x")</script>' in text  # shown literally, not run
    for word in (
        "Confusion matrix",
        "true positive",
        "mean score in bin",
        "PSI",
        "drifted",
        "parity band",
        "Mean absolute SHAP",
        "Page 1 of",
    ):
        assert word.lower() in text.lower(), word


@pytest.mark.slow
def test_pdf_is_deterministic(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert html_to_pdf(html) == hostile_outputs["pdf"].read_bytes()
