"""The ``strategy`` column of deployments: CSV, JSON lines and CDEvents ``customData``; read
leniently (case, '-', spaces, Kubernetes / Argo names), refused clearly otherwise."""

from __future__ import annotations

import json

import pytest

from mlreport.sources import SourceError
from tests.events.conftest import DEPLOY_HEADER, csv_text, deploy_row
from tests.events.test_cdevents import deployed, jsonl

HEADER = DEPLOY_HEADER + ",strategy"
SPELLINGS = {
    "rolling": "rolling",
    "RollingUpdate": "rolling",
    " Rolling-Update ": "rolling",
    "Recreate": "recreate",
    "CANARY": "canary",
    "blue_green": "blue_green",
    "Blue-Green": "blue_green",
    "blue green": "blue_green",
    "blueGreen": "blue_green",
    "blue/green": "blue_green",
    "Shadow": "shadow",
    "": None,
}


def _csv(*strategies: str) -> str:
    rows = [f"{deploy_row(i)},{s}" for i, s in enumerate(strategies, 1)]
    return csv_text(HEADER, *rows)


def _strategies(world) -> list:
    rows = world.rows("deployments")
    return [
        r["strategy"]
        for r in sorted(rows, key=lambda r: (len(r["deployment_id"]), r["deployment_id"]))
    ]


def test_csv_spellings_are_stored_canonically(world):
    world.write("d.csv", _csv(*SPELLINGS))
    world.config(deployments="d.csv")
    world.sync()
    assert _strategies(world) == list(SPELLINGS.values())


def test_jsonl_strategy_and_absent_strategy(world):
    rows = [
        {"deployment_id": "a", "entity": "m", "environment": "production",
         "finished_at": "2026-01-01T00:00:00Z", "status": "success", "strategy": "Canary"},
        {"deployment_id": "b", "entity": "m", "environment": "production",
         "finished_at": "2026-01-02T00:00:00Z", "status": "success"},
    ]  # fmt: skip
    world.write("d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    world.config(deployments="d.jsonl")
    world.sync()
    assert _strategies(world) == ["canary", None]


def test_cdevents_read_custom_data_strategy(world):
    world.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z", custom={"strategy": "blue-green"}),
            deployed("ev-2", "2026-02-02T10:00:00Z"),
        ),
    )
    world.config(cdevents="cd/*.jsonl")
    world.sync()
    assert _strategies(world) == ["blue_green", None]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("big-bang", "'big-bang'"),
        ("canary;DROP TABLE deployments", "'canary;DROP TABLE deployments'"),
        ("x" * 5000, "'" + "x" * 79 + "…'"),
        ("blue\\u0007green", None),
    ],
)
def test_bad_strategy_names_file_line_and_column_and_stores_nothing(world, value, shown):
    world.write("good.csv", _csv("canary"))
    world.config(deployments="good.csv")
    world.sync()
    before = world.rows("deployments")
    text = _csv("rolling", "canary") + f'{deploy_row(9)},"{value}"\n'
    world.write("good.csv", text.replace("\\u0007", "\x07"))
    with pytest.raises(SourceError) as info:
        world.sync()
    message = str(info.value)
    assert "good.csv: line 4: column 'strategy': unknown value" in message
    assert "allowed: rolling, recreate, canary, blue_green, shadow" in message
    assert "\n" not in message and "\x07" not in message
    if shown is not None:
        assert shown in message
    assert world.rows("deployments") == before  # nothing half-written


def test_cdevents_bad_strategy_names_the_custom_data_field(world):
    world.write(
        "cd/a.jsonl",
        jsonl(deployed("ev-1", "2026-02-01T10:00:00Z", custom={"strategy": "A/B"})),
    )
    world.config(cdevents="cd/*.jsonl")
    with pytest.raises(SourceError, match=r"a\.jsonl: line 1: column 'customData\.strategy': "
                                          r"unknown value 'A/B'"):  # fmt: skip
        world.sync()
