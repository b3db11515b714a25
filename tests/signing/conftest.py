"""A small organisation (an events source, the delivery report) run for real through the CLI,
with a key pair made by ``mlreport keygen``; tests tamper with copies of its run folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlreport.cli import cli
from mlreport.plugin_manager import add_plugin_commands

AS_OF = "2026-04-01"
DEPLOYMENTS = """deployment_id,entity,environment,finished_at,status,commit_sha
d1,svc,production,2026-03-02T10:00:00Z,success,a1
d2,svc,production,2026-03-09T10:00:00Z,success,a2
d3,svc,production,2026-03-16T10:00:00Z,rolled_back,a3
d4,svc,production,2026-03-20T10:00:00Z,success,a4
"""
BASE = """
[warehouse]
path = "wh.duckdb"

[output]
dir = "out"

[[sources]]
name = "log"
type = "events"
deployments = "d.csv"

[[reports]]
type = "delivery"
formats = ["html", "json", "md"]
"""
SIGNING = """
[signing]
key_file = "keys/mlreport.key"
signer = "Risk Office <risk@example.com>"
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    add_plugin_commands(cli)  # what `main` does: the built-in keygen/verify/history commands
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def make_org(root: Path, signing: str = SIGNING) -> Path:
    """Write the organisation into ``root``; return its config path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "d.csv").write_text(DEPLOYMENTS)
    config = root / "mlreport.toml"
    config.write_text(BASE + signing)
    return config


def run(config: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return invoke("--config", str(config), "run", "--as-of", AS_OF, *extra, env=env)


@pytest.fixture(scope="module")
def signed_org(tmp_path_factory) -> Path:
    """One signed run; the folder it returns holds mlreport.toml, keys/ and out/."""
    root = tmp_path_factory.mktemp("org")
    config = make_org(root)
    assert invoke("keygen", "--out", str(root / "keys")).exit_code == 0
    result = run(config)
    assert result.exit_code in (0, 1), result.output
    return root


@pytest.fixture
def run_copy(signed_org: Path, tmp_path: Path) -> Callable[[], Path]:
    """A private copy of the signed run's folder (the real files, not the day link)."""

    def copy() -> Path:
        day = (signed_org / "out" / AS_OF).resolve()
        dest = tmp_path / "run"
        shutil.copytree(day, dest)
        return dest

    return copy
