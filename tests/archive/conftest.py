"""A small real setup for archive tests: an events source, one report, a policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import cli

CONFIG = """
[[sources]]
name = "log"
type = "events"
deployments = "d.csv"
[output]
dir = "out"
{output}
[policies]
"dora.deployment_frequency" = {{ min = {minimum} }}
[[reports]]
type = "delivery"
formats = ["html", "json", "md"]
"""


def deployments(rows: int = 60) -> str:
    lines = ["deployment_id,entity,environment,finished_at,status"]
    for i in range(rows):
        day = 1 + i % 28
        lines.append(f"d{i},svc-{i % 3},production,2026-03-{day:02d}T{i % 24:02d}:00:00Z,success")
    return "\n".join(lines) + "\n"


def write_config(root: Path, output: str = "", minimum: float = 0) -> Path:
    cfg = root / "mlreport.toml"
    cfg.write_text(CONFIG.format(output=output, minimum=minimum), encoding="utf-8")
    return cfg


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "d.csv").write_text(deployments(), encoding="utf-8")
    write_config(tmp_path)
    return tmp_path


def run_as_of(root: Path, day: str) -> int:
    """``mlreport run --as-of <day>`` in process; returns the exit code."""
    result = CliRunner().invoke(
        cli, ["--config", str(root / "mlreport.toml"), "run", "--as-of", f"{day}T06:00:00Z"]
    )
    assert result.exit_code in (0, 1, 2), (result.output, result.exception)
    return result.exit_code
