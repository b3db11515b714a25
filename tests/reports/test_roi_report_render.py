"""The ``roi`` report as a reader gets it: the HTML in headless Chromium (screenshot, DOM with
the hostile name escaped, the charts present) and the PDF through pdftoppm and pdftotext."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import CHROMIUM, assert_not_blank, chromium, pdf_pages, pdf_text
from tests.reports import roi_world as w

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("roi-render")
    w.build(root)
    return w.render(root, root / "out", ("html", "pdf", "json", "md"))


@pytest.mark.slow
def test_chromium_renders_the_html(outputs, tmp_path):
    url = outputs["html"].resolve().as_uri()
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2400", url)
    assert Image.open(png).size == (1280, 2400)
    assert_not_blank(png)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    assert "ranker &lt;img src=" in dom
    assert "<img" not in dom and "<script" not in dom
    # monthly cost (3 billed models), cost per 1,000 predictions (fraud), value against cost
    # (fraud, ranker from roi_start; search over the window's months)
    assert dom.count("<svg") == 7
    for text in (
        "Portfolio",
        "Cost per currency",
        "Monthly cost by service category",
        "Value against cost",
        "Return on investment",
        "Data-quality notes",
    ):
        assert text in dom, text


def test_pdf_pages_and_text(outputs, tmp_path):
    pages = pdf_pages(outputs["pdf"], tmp_path, dpi=40)
    assert len(pages) >= 5  # portfolio, three models, notes
    for page in pages[:2]:
        assert_not_blank(page)
    text = pdf_text(outputs["pdf"])
    for word in (
        "Portfolio",
        "fraud",
        "batch",
        'ranker <img src="file:///etc/passwd"> *x*',
        "300.00 USD",
        "120.00 EUR",
        "pays back in month 2 from roi_start",
        "does not pay back within 3 months",
        "ROI not computed: set",
        "value_per_prediction",
        "Data-quality notes",
    ):
        assert word in text, word
    first = text.split("\f")[0].lower()
    assert "cost per currency" in first and "return on investment" not in first
    info = subprocess.run(
        ["pdfinfo", str(outputs["pdf"])], capture_output=True, text=True, check=True
    ).stdout
    assert "A4" in info
