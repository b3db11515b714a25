"""`mlreport plugin new`: the package it writes installs with pip, its own tests pass, and
`mlreport plugins` lists it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import _load_command_plugins, cli
from mlreport.plugin_manager import get_plugins
from mlreport.scaffold import new_plugin, plugin_group, plugin_names
from tests.pluginkit.packages import mlreport, pip_install, run_pytest

HOOK = {"source": "register_sources", "metrics": "register_metrics", "report": "register_reports"}


@pytest.mark.parametrize("kind", ["source", "metrics", "report"])
def test_the_scaffold_installs_passes_its_tests_and_is_listed(kind, tmp_path):
    result = CliRunner().invoke(
        plugin_group, ["new", "mlreport-deploytool", "--kind", kind, "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    package = tmp_path / "mlreport-deploytool"
    assert (package / "src" / "mlreport_deploytool" / "__init__.py").is_file()
    assert (package / "tests" / "test_mlreport_deploytool.py").is_file()
    assert "mlreport-deploytool" in (package / "README.md").read_text()
    site = tmp_path / "site"
    pip_install(package, site)

    tests = run_pytest(site, package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and "failed" not in tests.stdout

    listed = mlreport(site, "plugins", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["mlreport-deploytool"]["version"] == "0.1.0"
    assert rows["mlreport-deploytool"]["hooks"] == [HOOK[kind]]
    assert rows["mlreport-deploytool"]["errors"] == []


@pytest.mark.parametrize("kind", ["source", "metrics", "report"])
def test_the_scaffold_is_lint_clean(kind, tmp_path):
    package, _ = new_plugin("mlreport-deploytool", kind, tmp_path)
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), *args, "--no-cache"],
            cwd=package,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_names_are_derived_from_the_package_name():
    names = plugin_names("MLReport_Deploy.Tool")
    assert (names.dist, names.module, names.type_name, names.cls) == (
        "mlreport-deploy-tool",
        "mlreport_deploy_tool",
        "deploy_tool",
        "DeployTool",
    )
    assert plugin_names("acme-incidents").type_name == "acme_incidents"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "not a valid package name"),
        ("-deploy", "not a valid package name"),
        ("deploy tool", "not a valid package name"),
        ("deploy/../../etc", "not a valid package name"),
        ("x" * 65, "at most 64 characters"),
        ("1password", "which Python cannot import"),
        ("class", "which Python cannot import"),
        ("json", "shadow a standard-library module"),
        ("mlreport", "shadow mlreport itself"),
    ],
)
def test_a_bad_name_is_refused_with_what_to_do(name, says, tmp_path):
    result = CliRunner().invoke(
        plugin_group, ["new", "--kind", "source", "--dir", str(tmp_path), "--", name]
    )
    assert result.exit_code == 2
    assert says in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        plugin_group, ["new", "mlreport-x", "--kind", "notifier", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "'notifier' is not one of 'source', 'metrics', 'report'" in result.output


def test_a_non_empty_folder_is_kept_unless_forced(tmp_path):
    package = tmp_path / "mlreport-deploytool"
    package.mkdir()
    (package / "notes.txt").write_text("mine\n")
    (package / "README.md").write_text("my readme\n")
    args = ["new", "mlreport-deploytool", "--kind", "source", "--dir", str(tmp_path)]
    refused = CliRunner().invoke(plugin_group, args)
    assert refused.exit_code == 2
    assert "is not empty" in refused.output and "--force" in refused.output
    assert (package / "README.md").read_text() == "my readme\n"
    assert sorted(p.name for p in package.iterdir()) == ["README.md", "notes.txt"]

    forced = CliRunner().invoke(plugin_group, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert (package / "notes.txt").read_text() == "mine\n"  # not the scaffold's: left alone
    assert "mlreport-deploytool" in (package / "README.md").read_text()


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "mlreport-deploytool").mkdir()
    package, files = new_plugin("mlreport-deploytool", "metrics", tmp_path)
    assert [f.relative_to(package).as_posix() for f in files] == [
        "README.md",
        "pyproject.toml",
        "src/mlreport_deploytool/__init__.py",
        "tests/test_mlreport_deploytool.py",
    ]


def test_the_report_scaffold_ships_its_templates(tmp_path):
    package, files = new_plugin("acme-report", "report", tmp_path)
    names = [f.relative_to(package).as_posix() for f in files]
    assert "src/acme_report/templates/acme_report/overview.html.j2" in names
    assert "src/acme_report/templates/acme_report/overview.md.j2" in names
    assert '"templates/*/*.j2"' in (package / "pyproject.toml").read_text()


def test_the_command_is_a_built_in_plugin():
    """`plugin` comes from the mlreport.scaffold plugin's register_commands hook, both when the
    CLI starts (only command plugins loaded) and once every plugin is loaded."""
    cli.commands.pop("plugin", None)
    _load_command_plugins()
    assert cli.commands["plugin"] is plugin_group
    cli.commands.pop("plugin")
    get_plugins()
    _load_command_plugins()
    assert cli.commands["plugin"] is plugin_group
    rows = {r["name"]: r for r in get_plugins().describe()}
    assert rows["mlreport.scaffold"]["hooks"] == ["register_commands"]
    result = CliRunner().invoke(cli, ["plugin", "new", "--help"])
    assert result.exit_code == 0 and "--kind [source|metrics|report]" in result.output


@pytest.mark.parametrize(
    ("name", "kind", "owner"),
    [
        ("mlreport-git", "source", "mlreport.connectors.git"),
        ("dora", "metrics", "mlreport.plugins.dora"),
        ("mlreport-delivery", "report", "mlreport.reports.delivery"),
    ],
)
def test_a_name_a_plugin_already_registers_is_refused(name, kind, owner, tmp_path):
    result = CliRunner().invoke(plugin_group, ["new", name, "--kind", kind, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"(from plugin {owner}); choose another NAME" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "mlreport-deploytool").write_text("a file\n")
    result = CliRunner().invoke(
        plugin_group, ["new", "mlreport-deploytool", "--kind", "source", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "exists and is not a folder; choose another --dir or name" in result.output
    assert (tmp_path / "mlreport-deploytool").read_text() == "a file\n"
