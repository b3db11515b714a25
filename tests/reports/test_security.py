"""Hostile strings stay text everywhere, and the PDF fetcher serves only packaged assets."""

from __future__ import annotations

import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlreport.reports.renderers import asset_fetcher, html_to_pdf, md_escape

from .conftest import HOSTILE

ESCAPED = "&lt;img src=&#34;file:///etc/passwd&#34;&gt;"


def test_hostile_strings_are_escaped_everywhere_in_html(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert HOSTILE not in html
    assert "<img" not in html
    for where in (
        f"<title>Q2 {ESCAPED}</title>",  # report title
        f"<h1>Q2 {ESCAPED}</h1>",
        f'<div class="entity-name">credit-risk {ESCAPED}</div>',  # entity names
        f"<h2>search-api {ESCAPED}</h2>",
        f"Team: Risk ML {ESCAPED}",  # entity attributes
        f">v1.48 {ESCAPED}</td>",  # deployment versions
        f">Elevated error rate after search-api-0035 {ESCAPED}</td>",  # incident titles
        f'<li class="kind-small_sample">fraud-detector {ESCAPED}',  # notes
    ):
        assert where in html, where


def test_hostile_strings_are_escaped_inside_svg(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 15  # 4 trends + 1 histogram per entity
    labelled = [s for s in svgs if "passwd" in s]
    assert labelled, "entity names appear in chart titles"
    for svg in labelled:
        assert HOSTILE not in svg and "<img" not in svg
        assert "<title>" in svg and ESCAPED in svg


def test_html_is_self_contained(hostile_outputs):
    html = hostile_outputs["html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    refs = re.findall(r"""\b(?:src|href|action|data)\s*=\s*["']([^"']*)""", html)
    assert all(r.startswith("#") for r in refs), refs
    urls = set(re.findall(r"[a-z]+://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "file:///etc/passwd&#34;&gt;"}, urls


def test_markdown_neutralises_markup(hostile_outputs):
    md = hostile_outputs["md"].read_text(encoding="utf-8")
    assert "<img" not in md and '&lt;img src="file:///etc/passwd"&gt;' in md
    assert (
        md_escape("a|b\n[x](javascript:y) `c` *d*") == "a\\|b \\[x\\](javascript:y) \\`c\\` \\*d\\*"
    )
    assert md_escape("1. item") == "1\\. item"
    assert md_escape("- item") == "\\- item"


def test_json_keeps_the_raw_value(hostile_outputs):
    import json

    data = json.loads(hostile_outputs["json"].read_text(encoding="utf-8"))
    assert data["title"] == f"Q2 {HOSTILE}"


def test_pdf_shows_the_string_literally_and_reads_no_file(hostile_outputs, tmp_path):
    text = subprocess.run(
        ["pdftotext", "-layout", str(hostile_outputs["pdf"]), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    assert f"Q2 {HOSTILE}" in flat
    with open("/etc/passwd", encoding="utf-8") as fh:
        passwd = fh.readline().strip()
    assert passwd and passwd not in text
    assert "root:" not in text


class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Counter.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Counter.hits
    server.shutdown()
    server.server_close()


def test_fetcher_refuses_files_and_network(http_server):
    base, hits = http_server
    fetcher = asset_fetcher()
    for url in (
        "file:///etc/passwd",
        f"{base}/x.png",
        "https://example.invalid/x.css",
        "ftp://127.0.0.1/x",
    ):
        with pytest.raises(ValueError, match="refused"):
            fetcher(url)
    assert hits == []
    for bad in (
        "mlreport-static:../renderers.py",
        "mlreport-static:/etc/passwd",
        "mlreport-static:",
        "mlreport-static:a/../../x.py",
        "MLREPORT-STATIC:..\\x",
    ):
        with pytest.raises(ValueError, match="refused"):
            fetcher(bad)
    served = fetcher("mlreport-static:report.css")
    assert served.content_type == "text/css" and b"@page" in served.read()
    assert fetcher("data:text/plain,hello").read() == b"hello"


def test_pdf_of_raw_hostile_html_fetches_nothing(http_server, tmp_path):
    base, hits = http_server
    html = f"""<!DOCTYPE html><html><head>
    <link rel="stylesheet" href="{base}/s.css">
    <style>body {{ background: url(file:///etc/passwd); }} @import url({base}/i.css);</style>
    </head><body><p>hello</p>
    <img src="file:///etc/passwd"><img src="{base}/x.png"><img src="/etc/passwd">
    <object data="file:///etc/passwd"></object><embed src="file:///etc/hostname">
    <svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>
    </body></html>"""
    fetcher = asset_fetcher()
    pdf = html_to_pdf(html, fetcher=fetcher)
    assert hits == []
    assert "file:///etc/passwd" in fetcher.refused
    assert f"{base}/x.png" in fetcher.refused
    path = tmp_path / "raw.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "hello" in text and "root:" not in text


def test_markdown_keeps_a_plain_ampersand_and_neutralises_entities():
    assert md_escape("sex & age_band") == "sex & age\\_band"
    assert md_escape("&lt;b&gt; &#60;") == "&amp;lt;b&amp;gt; &amp;\\#60;"
    assert md_escape("<b>") == "&lt;b&gt;"


def test_small_durations_and_counts_read_as_words():
    from mlreport.reports.charts.numbers import format_value
    from mlreport.reports.renderers import format_days, format_plural

    assert format_value(0.000378, "days") == "1 min"
    assert format_value(0.5, "days") == "12 h"
    assert format_value(3.25, "days") == "3.2 d"
    assert format_days(90) == "90 days" and format_days(1) == "1 day"
    assert format_days(2.5) == "2.5 days" and format_days(0.25) == "6 h"
    assert format_plural(1, "rollback") == "1 rollback"
    assert format_plural(2, "rollback") == "2 rollbacks"
    assert format_plural(None, "rollback") == "—"
