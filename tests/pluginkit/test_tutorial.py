"""docs/tutorial-source.md works as written: its code blocks are extracted into a package,
installed with pip, its tests run, and the source is used through the `mlreport` CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.pluginkit.packages import mlreport, pip_install, run_pytest

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial-source.md"
BLOCK = re.compile(r"^```\w+ file=(\S+)\n(.*?)^```$", re.M | re.S)
PACKAGE_FILES = ("pyproject.toml", "mlreport_statuspage.py", "tests/test_statuspage.py")


def blocks() -> dict[str, str]:
    found = BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"a file is given twice in {TUTORIAL}"
    return dict(found)


def test_the_source_is_forty_lines_or_fewer():
    assert len(blocks()["mlreport_statuspage.py"].splitlines()) <= 40


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tutorial")
    package = root / "mlreport-statuspage"
    for name in PACKAGE_FILES:
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(blocks()[name], encoding="utf-8")
    pip_install(package, root / "site")
    return package, root / "site"


def test_the_tutorial_tests_pass(installed):
    package, site = installed
    result = run_pytest(site, package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_the_tutorial_commands_work(installed, tmp_path):
    _, site = installed
    for name in ("mlreport.toml", "incidents.csv"):
        (tmp_path / name).write_text(blocks()[name], encoding="utf-8")
    listed = mlreport(site, "plugins", cwd=tmp_path)
    assert listed.stdout.splitlines()[:2] == [
        "mlreport-statuspage 0.1.0",
        "  hooks: register_sources",
    ], listed.stdout + listed.stderr
    synced = mlreport(site, "sync", cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    query = re.search(r'mlreport sql "([^"]+)"', TUTORIAL.read_text()).group(1)
    shown = mlreport(site, "sql", query, "--format", "json", cwd=tmp_path)
    assert json.loads(shown.stdout) == [
        {"incident_id": "inc-1", "entity": "checkout", "severity": "major"},
        {"incident_id": "inc-2", "entity": "search", "severity": "minor"},
    ]
