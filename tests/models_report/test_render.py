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

from .conftest import HOSTILE, config, install, render, seed

ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
FILE_ESCAPED = "&lt;img src=&#34;file:///etc/passwd&#34;&gt;"


def test_hostile_names_are_text_in_html(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<img" not in html
    for where in (
        f"<title>Models {ESCAPED}</title>",
        f"<strong>credit {ESCAPED}</strong>",  # inventory
        f"<h2>credit {ESCAPED}</h2>",  # article
        f'<td class="wrap">depth {ESCAPED}</td>',  # param key
        f'<td class="wrap">6 {FILE_ESCAPED}</td>',  # param value
        f'<td class="wrap">loss {ESCAPED}</td>',  # metric key
        f'<td class="wrap">train {ESCAPED}</td>',  # dataset name
        f"file:///data/holdout.csv {FILE_ESCAPED}",  # dataset source
        f"<strong>idle {FILE_ESCAPED}</strong>",
        f"credit {ESCAPED} version 3 (champion) is in production without a description.",
    ):
        assert where in html, where


def test_hostile_names_are_text_inside_svg(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 12  # 4 monthly trends for each of 3 models
    for svg in svgs:
        ET.fromstring(svg)  # well-formed: nothing broke out of an attribute or element
        assert "<script" not in svg and "<img" not in svg
    assert sum(ESCAPED in s for s in svgs) == 4  # credit's name is in its chart titles


def test_html_is_self_contained(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert "<link" not in html.lower() and "url(" not in html and "@import" not in html
    refs = re.findall(r"""\b(?:src|href|action|data)\s*=\s*["']([^"']*)""", html)
    assert all(r.startswith("#") for r in refs), refs


def test_markdown_and_json(hostile_outputs):
    md = hostile_outputs["md"].read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md
    assert 'credit &lt;script&gt;alert("x")&lt;/script&gt;' in md
    assert '&lt;img src="file:///etc/passwd"&gt;' in md
    doc = json.loads(hostile_outputs["json"].read_text(encoding="utf-8"))
    m = doc["sections"]["models"]["models"][0]
    assert m["name"] == f"credit {HOSTILE}"  # JSON keeps the raw value
    assert m["lineage"][0]["run"]["datasets"][0]["name"] == f"train {HOSTILE}"


def test_same_inputs_give_identical_bytes(wh, tmp_path):
    install()
    seed(wh, hostile=True)
    cfg = config(tmp_path)
    a = render(wh, cfg, tmp_path / "a")
    b = render(wh, cfg, tmp_path / "b")
    for fmt in ("html", "json", "md"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_chromium_renders_the_html(hostile_outputs, tmp_path):
    url = hostile_outputs["html"].resolve().as_uri()
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1800", url)
    assert_not_blank(png)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert 'Models &lt;script&gt;alert("x")&lt;/script&gt;' in dom
    assert "<script>alert" not in dom and "<img" not in dom
    assert dom.count("<svg") == 12
    for text in (
        "Registry inventory",
        "Lifecycle in the window",
        "Production lineage",
        "Promotion and rollback history",
        "Hygiene findings",
    ):
        assert text.lower() in dom.lower(), text


def test_pdf_pages_and_text(hostile_outputs, tmp_path):
    pdf = hostile_outputs["pdf"]
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 5  # inventory, three models, findings
    assert_not_blank(pages[0])
    w, h = Image.open(pages[0]).size
    assert abs(w / h - 210 / 297) < 0.01  # A4
    text = pdf_text(pdf)
    first = text.split("\f")[0].lower()  # headings are upper-cased by CSS
    assert "production versions" in first and "rollbacks" in first
    assert 'credit <script>alert("x")</script>' in text  # shown literally, not run
    for word in (
        "Production lineage",
        "abc123",
        "rollback",
        "seen at sync",
        "without a description",
        "Page 1 of",
    ):
        assert word.lower() in text.lower(), word


@pytest.mark.slow
def test_pdf_is_deterministic(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert html_to_pdf(html) == hostile_outputs["pdf"].read_bytes()
