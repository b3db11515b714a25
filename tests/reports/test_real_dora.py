"""The delivery report on the real ``dora`` plugin (skipped while it cannot be imported)."""

from __future__ import annotations

import importlib
import json

import pytest

from mlreport.reports.delivery import quantile

from .conftest import context, render


@pytest.fixture(autouse=True)
def _fake_dora():
    """Overrides the package-wide fixture: these tests use the real plugin."""


@pytest.fixture
def dora_details():
    """The tests' detail frames, built on the real plugin's functions."""
    try:
        return importlib.import_module("tests.dora.details")
    except ImportError as exc:
        pytest.skip(f"mlreport.plugins.dora cannot be imported: {exc}")


def test_summary_and_distribution_agree_with_the_plugin(
    dora_details, warehouse, make_config, tmp_path
):
    config = make_config()
    out = render(warehouse, config, tmp_path, formats=("json",))
    data = json.loads(out["json"].read_text())["sections"]
    window = context(warehouse, config).window
    changes = dora_details.deployment_changes(warehouse, config, window)
    for row in data["summary"]["rows"]:
        lead = row["metrics"]["lead_time"]
        mine = [
            v
            for v in changes.filter(changes["entity"] == row["entity"])["lead_time_hours"]
            if v is not None
        ]
        assert lead["n"] == len(mine)
        if mine:
            assert lead["value"] == pytest.approx(quantile(mine, 0.5), rel=1e-9)
            assert lead["band_table"] == "dora-2023"
    by_name = {e["name"]: e for e in data["entities"]["entities"]}
    assert (
        by_name["credit-risk"]["lead_time"]["n"]
        == data["summary"]["rows"][0]["metrics"]["lead_time"]["n"]
    )
    kinds = {n["kind"] for n in data["quality"]["notes"]}
    assert {"unmapped_repository", "unlinked_deployments", "no_activity"} <= kinds
