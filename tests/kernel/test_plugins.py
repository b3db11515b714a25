"""Plugin loading: defaults, entry points, failures, duplicates, MLREPORT_LOAD_PLUGINS."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlreport.cli import _load_command_plugins, cli
from mlreport.plugin_manager import DEFAULT_PLUGINS, PluginError, get_plugins
from tests.kernel import fakes
from tests.plugin_packages import install

GOOD = """
from mlreport import hookimpl
class Thing: pass
@hookimpl
def register_sources(register):
    register("thing", Thing)
"""
DUPLICATE = """
from mlreport import hookimpl
@hookimpl
def register_sources(register):
    register("counter", object)
"""


def test_builtins_register_through_the_same_hooks():
    plugins = get_plugins()
    names = {p["name"] for p in plugins.describe()}
    assert set(DEFAULT_PLUGINS) <= names


def test_entry_point_plugin_is_loaded_with_its_version(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_good", GOOD)
    plugins = get_plugins()
    assert plugins.sources().get("thing").__name__ == "Thing"
    row = next(r for r in plugins.describe(include_builtin=False) if r["name"] == "mlr_good")
    assert row["version"] == "1.2.3" and row["hooks"] == ["register_sources"]


def test_load_plugins_env_limits_third_party_plugins(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_good", GOOD)
    monkeypatch.setenv("MLREPORT_LOAD_PLUGINS", "")
    assert "thing" not in get_plugins().sources().names()


def test_a_plugin_that_fails_to_import_is_listed_and_breaks_nothing(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_broken", "raise RuntimeError('boom at import')\n")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "mlr_broken" in result.output and "boom at import" in result.output
    assert CliRunner().invoke(cli, ["init", "--path", str(tmp_path / "x.toml")]).exit_code == 0


def test_a_plugin_that_fails_to_register_is_listed(tmp_path, monkeypatch):
    code = GOOD.replace('register("thing", Thing)', "raise ValueError('bad registration')")
    install(tmp_path, monkeypatch, "mlr_badreg", code)
    plugins = get_plugins()
    plugins.register_module(fakes, "fakes")
    assert "counter" in plugins.sources().names()  # others still registered
    rows = {r["name"]: r for r in plugins.describe()}
    assert any("bad registration" in e for e in rows["mlr_badreg"]["errors"])


def test_duplicate_names_name_both_plugins(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_dupe", DUPLICATE)
    plugins = get_plugins()
    plugins.register_module(fakes, "fakes")
    with pytest.raises(PluginError) as err:
        plugins.sources().get("counter")
    assert "fakes" in str(err.value) and "mlr_dupe" in str(err.value)
    result = CliRunner().invoke(cli, ["plugins", "--format", "json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert any("also registered by" in e for e in rows["mlr_dupe"]["errors"])


def test_unknown_type_lists_known_ones():
    get_plugins().register_module(fakes, "fakes")
    with pytest.raises(PluginError, match=r"unknown source 'nope' \(known: .*counter"):
        get_plugins().sources().get("nope")


def test_plugins_all_lists_builtins():
    result = CliRunner().invoke(cli, ["plugins", "--all"])
    assert result.exit_code == 0
    for name in DEFAULT_PLUGINS:
        assert name in result.output


BAD_COMMANDS = """
from mlreport import hookimpl
@hookimpl
def register_commands(cli):
    raise RuntimeError('no commands today')
"""


def test_a_failing_register_commands_shows_in_plugins_and_doctor(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "mlr_cmds", BAD_COMMANDS)
    _load_command_plugins()
    listed = CliRunner().invoke(cli, ["plugins"])
    assert listed.exit_code == 0
    assert "register_commands: RuntimeError: no commands today" in listed.output
    monkeypatch.chdir(tmp_path)
    doctor = CliRunner().invoke(cli, ["doctor"])
    assert "plugin mlr_cmds: register_commands failed: RuntimeError: no commands today" in (
        doctor.output
    )
    assert doctor.exit_code == 2
    assert CliRunner().invoke(cli, ["plugins", "--all"]).exit_code == 0  # the CLI still works
