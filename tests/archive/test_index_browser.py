"""The runs index as a browser shows it: real runs with each status, opened in headless
Chromium, newest first, every link leading to a file that exists."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from tests.browser import assert_not_blank, chromium

from .conftest import run_as_of, write_config


class _Runs(HTMLParser):
    """Sections (day, status) and links in document order, from the DOM Chromium dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section" and "run" in (a.get("class") or ""):
            self.runs.append({"id": a["id"], "status": a["data-status"], "links": []})
        elif tag == "a" and self.runs:
            self.runs[-1]["links"].append((a.get("data-format"), a["href"]))


@pytest.mark.slow
def test_index_in_chromium(project, tmp_path):
    out = project / "out"
    assert run_as_of(project, "2026-03-10") == 0
    write_config(project, minimum=1000)
    assert run_as_of(project, "2026-03-11") == 1
    with (project / "d.csv").open("a") as f:
        f.write("bad,svc-0,production,not-a-time,success\n")
    assert run_as_of(project, "2026-03-12") == 2
    index = out / "index.html"
    dom = chromium(tmp_path, "--dump-dom", index.resolve().as_uri()).stdout
    parser = _Runs()
    parser.feed(dom)
    assert [(r["id"], r["status"]) for r in parser.runs] == [
        ("run-2026-03-12", "errors"),
        ("run-2026-03-11", "policy failure"),
        ("run-2026-03-10", "ok"),
    ]
    for run in parser.runs:
        assert sorted(fmt for fmt, _ in run["links"]) == ["html", "json", "md"]
        for _, href in run["links"]:
            assert (out / unquote(href)).is_file(), href
    assert "3 runs, newest first." in dom
    errors = re.search(r'<ul class="errors">(.*?)</ul>', dom, re.S)
    assert errors and "source log" in errors.group(1) and "not-a-time" in errors.group(1)
    assert "as of 2026-03-11 06:00 UTC" in dom
    png = tmp_path / "index.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1000,900", index.resolve().as_uri())
    assert_not_blank(png)
