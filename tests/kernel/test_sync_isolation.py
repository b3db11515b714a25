"""A source that fails does not stop the others: sync and run go on, keep its previous data,
say which source failed and since when its data is stale, and exit 2 (``--fail-fast`` stops)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.plugin_manager import get_plugins
from mlreport.warehouse import Warehouse
from tests.kernel import fakes

CONFIG = """
[[sources]]
name = "broken"
type = "counter"
entity = "svc-a"
checkpoint_every = 1
{broken}

[[sources]]
name = "healthy"
type = "counter"
n = 3
entity = "svc-b"

[[reports]]
type = "fake"
formats = ["txt"]

[[reports]]
type = "delivery"
formats = ["json", "md", "html"]
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    get_plugins().register_module(fakes, "fakes")
    monkeypatch.chdir(tmp_path)

    def write(broken: str) -> None:
        (tmp_path / "mlreport.toml").write_text(CONFIG.format(broken=broken))

    return write


def _rows(source: str) -> int:
    with Warehouse("mlreport.duckdb", read_only=True) as wh:
        (n,) = wh.con.execute(
            "SELECT count(*) FROM deployments WHERE source = ?", [source]
        ).fetchone()
    return n


def test_a_failing_source_keeps_its_data_and_the_others_sync(project):
    project("n = 4")
    assert CliRunner().invoke(cli, ["sync"]).exit_code == 0
    project("n = 6\nfail_after = 5")  # new rows 4 and 5; row 5 is broken
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 2
    assert "Error: source broken: counter: row 5 is broken (its previous data is kept)" in (
        result.output
    )
    assert "healthy\t0 rows" in result.output
    assert _rows("broken") == 5  # the rows before the failing one's checkpoint stay
    assert _rows("healthy") == 3
    with Warehouse("mlreport.duckdb", read_only=True) as wh:
        status = wh.con.execute(
            "SELECT source, error IS NULL, last_success_at IS NOT NULL FROM source_status "
            "ORDER BY source"
        ).fetchall()
    assert status == [("broken", False, True), ("healthy", True, True)]


def test_run_renders_every_report_says_what_is_stale_and_exits_2(project, tmp_path):
    project("n = 4")
    assert CliRunner().invoke(cli, ["sync"]).exit_code == 0
    project("n = 6\nfail_after = 4")
    result = CliRunner().invoke(cli, ["run", "--out", "out", "--as-of", "2026-01-10"])
    assert result.exit_code == 2, result.output
    assert "Error: source broken: counter: row 4 is broken" in result.output
    day = tmp_path / "out" / "2026-01-10"
    assert (day / "fake.txt").exists() and (day / "delivery.json").exists()
    doc = json.loads((day / "delivery.json").read_text())
    (failure,) = doc["status"]["sync_failures"]
    assert failure["source"] == "broken" and "row 4 is broken" in failure["error"]
    assert failure["last_success_at"] is not None
    assert "Incomplete data" in (day / "delivery.html").read_text()
    assert "source broken did not sync" in (day / "delivery.md").read_text()


def test_a_source_that_never_synced_says_so(project, tmp_path):
    project("n = 2\nfail_after = 0")
    result = CliRunner().invoke(cli, ["run", "--out", "out", "--as-of", "2026-01-10"])
    assert result.exit_code == 2
    doc = json.loads((tmp_path / "out" / "2026-01-10" / "delivery.json").read_text())
    assert doc["status"]["sync_failures"][0]["last_success_at"] is None
    assert "It has never synced." in (tmp_path / "out" / "2026-01-10" / "delivery.html").read_text()


def test_fail_fast_stops_at_the_first_failing_source(project):
    project("n = 2\nfail_after = 0")
    result = CliRunner().invoke(cli, ["sync", "--fail-fast"])
    assert result.exit_code == 2
    assert "counter: row 0 is broken" in result.output
    assert _rows("healthy") == 0
