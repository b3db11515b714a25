"""The sample organisation, synced once per session, with hostile text in its config, and its
model cards rendered in every format through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.sample_data import AS_OF, materialize

HOSTILE = '<script>alert("x")</script> [link](http://evil) | *b*'
HOSTILE_NAME = "<img src=x onerror=alert(1)>`code`"
SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared/data/model-card/model_card.schema.v0.0.2.json"
)


def mlreport(org: Path, *args: str) -> list[Path]:
    result = CliRunner().invoke(cli, ["--config", str(org / "mlreport.toml"), *args])
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return [Path(line) for line in result.stdout.splitlines() if line.strip()]


def cards(org: Path, out: Path, *args: str) -> dict[str, Path]:
    paths = mlreport(org, "report", "model-card", "--as-of", AS_OF, "--out", str(out), *args)
    return {p.suffix.lstrip("."): p for p in paths}


@pytest.fixture(scope="session")
def org(tmp_path_factory) -> Path:
    """The demo organisation: credit-risk's intended use is hostile, and a model entity whose
    name is hostile is declared with nothing else (so its card records nothing)."""
    org = tmp_path_factory.mktemp("model-card-org")
    materialize(org)
    toml = org / "mlreport.toml"
    text = toml.read_text(encoding="utf-8")
    old = 'intended_use = "Probability of default for consumer credit applications"'
    assert old in text
    text = text.replace(old, f"intended_use = {json.dumps(HOSTILE)}")
    text += f'\n[[entities]]\nkind = "model"\nname = {json.dumps(HOSTILE_NAME)}\n'
    toml.write_text(text, encoding="utf-8")
    mlreport(org, "sync")
    return org


@pytest.fixture(scope="session")
def outputs(org, tmp_path_factory) -> dict[str, Path]:
    return cards(org, tmp_path_factory.mktemp("cards"), "--format", "html,pdf,json,md")


@pytest.fixture(scope="session")
def doc(outputs) -> dict:
    return json.loads(outputs["json"].read_text(encoding="utf-8"))


def card(doc: dict, name: str) -> dict:
    return next(m for m in doc["sections"]["cards"]["models"] if m["name"] == name)
