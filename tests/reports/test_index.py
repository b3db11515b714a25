"""``out/index.html``: every archived run with links to its files."""

from __future__ import annotations

import json
import re

from mlreport.config import parse_config
from mlreport.pipeline import write_index

from .conftest import HOSTILE


def _run(out, day: str, name: str, files: list[str], as_of: str) -> None:
    folder = out / day
    folder.mkdir(parents=True)
    for f in files:
        (folder / f).write_text("x")
    outputs = {f.rsplit(".", 1)[1]: {"file": f, "sha256": "0" * 64} for f in files}
    (folder / f"{name}.manifest.json").write_text(json.dumps({"as_of": as_of, "outputs": outputs}))


def test_index_lists_runs_newest_first_with_links(tmp_path):
    out = tmp_path / "out"
    _run(out, "2026-06-29", "delivery", ["delivery.html", "delivery.pdf"], "2026-06-29T06:00:00Z")
    _run(
        out,
        "2026-06-30",
        "delivery",
        ["delivery.html", "delivery.json", "delivery.md"],
        "2026-06-30T06:00:00Z",
    )
    (out / "empty-day").mkdir()
    config = parse_config("", None, tmp_path)
    html = write_index(out, config).read_text(encoding="utf-8")
    days = re.findall(r"<h2>([^<]+)</h2>", html)
    assert days == ["2026-06-30", "2026-06-29"]
    assert '<a class="file" data-format="html" href="2026-06-30/delivery.html">HTML</a>' in html
    assert '<a class="file" data-format="pdf" href="2026-06-29/delivery.pdf">PDF</a>' in html
    assert "2 runs, newest first." in html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")


def test_index_escapes_names_and_links(tmp_path):
    out = tmp_path / "out"
    name = "x<b onmouseover=alert(1)>"  # a file name cannot hold the "/" of HOSTILE
    _run(out, "2026-06-30", name, [], "2026-06-30T06:00:00Z")
    manifest = out / "2026-06-30" / f"{name}.manifest.json"
    data = json.loads(manifest.read_text())
    data["outputs"] = {"html": {"file": f'a" onclick="x{HOSTILE}.html'}}
    manifest.write_text(json.dumps(data))
    html = write_index(out, parse_config("", None, tmp_path)).read_text(encoding="utf-8")
    assert HOSTILE not in html and "<img" not in html and "<b " not in html
    assert 'onclick="' not in html
    assert "x&lt;b onmouseover=alert(1)&gt;" in html


def test_index_without_runs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    html = write_index(out, parse_config("", None, tmp_path)).read_text(encoding="utf-8")
    assert "No reports have been archived yet." in html
