"""One failure does not abort the nightly job: raising hooks, a raising family, a bad source and a
broken report each cost only themselves; the run names them and exits 2. Plugins that exit at
import, or clash with a built-in command or renderer, do not take the CLI down."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlreport import hookimpl
from mlreport.cli import _load_command_plugins, cli
from mlreport.metrics import MetricFamily, MetricInfo
from mlreport.plugin_manager import get_plugins
from mlreport.reporting import ReportType
from tests.kernel import fakes
from tests.plugin_packages import install

CONFIG = """
[[sources]]
name = "bad"
type = "counter"
n = 3
fail_after = 1

[[sources]]
name = "good"
type = "counter"
n = 3
entity = "svc"

[[reports]]
type = "broken"
formats = ["txt"]

[[reports]]
type = "fake"
formats = ["txt"]

[[reports]]
type = "delivery"
formats = ["json"]
"""


class Raising(MetricFamily):
    name = "raising"
    metrics = (MetricInfo("raising.x", "count", "raises"),)

    def compute(self, ctx):
        raise RuntimeError("family blew up")


class Malformed(MetricFamily):
    name = "malformed"
    metrics = (MetricInfo("malformed.x", "count", "bad rows"),)

    def compute(self, ctx):
        return [{"metric": "malformed.x", "entity": 3}]  # no window, wrong types


class BrokenReport(ReportType):
    name = "broken"
    title = "Broken"
    sections = ()
    inputs = ("no_such_table",)  # fingerprinting it fails
    default_formats = ("txt",)


class Hooks:
    @staticmethod
    @hookimpl
    def after_sync(warehouse, source, stats):
        raise RuntimeError(f"after_sync hook failed for {source.name}")

    @staticmethod
    @hookimpl
    def after_report(report, outputs):
        raise RuntimeError("after_report hook failed")

    @staticmethod
    @hookimpl
    def register_metrics(register):
        register("raising", Raising)
        register("malformed", Malformed)

    @staticmethod
    @hookimpl
    def register_reports(register):
        register("broken", BrokenReport)


def test_a_nightly_run_with_everything_failing_once_still_writes_the_rest(tmp_path, monkeypatch):
    get_plugins().register_module(fakes, "fakes")
    get_plugins().register_module(Hooks, "hooks")
    (tmp_path / "mlreport.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--out", "out", "--as-of", "2026-01-10"])
    assert result.exit_code == 2, result.output
    day = tmp_path / "out" / "2026-01-10"
    assert (day / "fake.txt").read_text().startswith("Fake report")
    assert json.loads((day / "delivery.json").read_text())["report"] == "delivery"
    assert (day / "check.json").exists()
    out = result.output
    for failure in (
        "source bad: counter: row 1 is broken",
        "after_sync of plugin hooks: RuntimeError: after_sync hook failed for good",
        "metric family raising: RuntimeError: family blew up",
        "metric family malformed:",
        "report broken:",
        "after_report of plugin hooks: RuntimeError: after_report hook failed",
    ):
        assert failure in out, (failure, out)
    status = json.loads((day / "delivery.json").read_text())["status"]
    assert status["sync_failures"][0]["source"] == "bad"


EXITS = "import sys\nsys.exit(3)\n"
CLASH = """
import click
from mlreport import hookimpl
from mlreport.reporting import Renderer

class Html(Renderer):
    extension, media_type = "html", "text/html"
    def render(self, report, env):
        return b"hijacked"

@hookimpl
def register_renderers(register):
    register("html", Html)

@hookimpl
def register_commands(cli):
    @cli.command(name="sql")
    def sql():
        click.echo("hijacked")
"""


def test_a_plugin_that_exits_at_import_does_not_take_down_plugins_or_sql(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_exits", EXITS)
    listed = CliRunner().invoke(cli, ["plugins"])
    assert listed.exit_code == 0 and "mlr_exits" in listed.output and "SystemExit" in listed.output
    result = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "w.duckdb"), "sql", "SELECT 1"])
    assert "no warehouse here yet" in result.output  # sql ran and answered for itself


def test_a_plugin_cannot_replace_a_built_in_command_or_renderer(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_clash", CLASH)
    _load_command_plugins()
    assert get_plugins().renderers().get("html").__module__ == "mlreport.reports.renderers"
    result = CliRunner().invoke(cli, ["plugins", "--format", "json"])
    errors = {r["name"]: r["errors"] for r in json.loads(result.output)}["mlr_clash"]
    assert any("command 'sql' clashes with the built-in one, which is kept" in e for e in errors)
    assert any("'html' clashes with a built-in one, which is kept" in e for e in errors)
    assert "hijacked" not in CliRunner().invoke(cli, ["sql", "SELECT 1"]).output
