"""The HTML in a real headless Chromium, the PDF through poppler: pages, text, pixels."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from mlreport.reports.renderers import html_to_pdf
from tests.browser import CHROMIUM, chromium

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")


def _not_blank(png: Path) -> None:
    image = Image.open(png).convert("L")
    lo, hi = image.getextrema()
    assert hi - lo > 150, "no contrast: blank page"
    histogram = image.histogram()
    dark = sum(histogram[:128]) / (image.width * image.height)
    assert dark > 0.002, "almost no ink"


@pytest.mark.slow
def test_chromium_renders_the_html(hostile_outputs, tmp_path):
    png = tmp_path / "shot.png"
    url = hostile_outputs["html"].resolve().as_uri()
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2000", url)
    assert png.exists() and png.stat().st_size > 10_000
    assert Image.open(png).size == (1280, 2000)
    _not_blank(png)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert "<h1>" in dom and "Q2 &lt;img" in dom
    assert "<img" not in dom  # the hostile strings never became elements
    assert dom.count("<svg") >= 15


def test_pdf_pages_and_text(hostile_outputs, tmp_path):
    pdf = hostile_outputs["pdf"]
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5  # summary, three entities, notes
    for page in pages[:2]:
        _not_blank(page)
    w, h = Image.open(pages[0]).size
    assert abs(w / h - 210 / 297) < 0.01  # A4
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for word in (
        "credit-risk",
        "search-api",
        "fraud-detector",
        "Elite",
        "High",
        "Medium",
        "DORA 2023",
        "Data-quality notes",
        "Lead time for changes",
        "Page 1 of",
    ):
        assert word.lower() in text.lower(), word
    first_page = text.split("\f")[0].lower()
    assert "deployment frequency" in first_page and "weekly trends" not in first_page
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"CreationDate:\s+\w+ Jun 30 00:00:00 2026", info)
    assert "A4" in info


@pytest.mark.slow
def test_pdf_is_deterministic(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert html_to_pdf(html) == hostile_outputs["pdf"].read_bytes()
