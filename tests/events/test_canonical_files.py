"""Canonical CSV and JSON-lines files: what lands in `deployments` and `incidents`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.connectors.events.canonical import DEPLOYMENTS, LINE
from mlreport.connectors.events.files import read_csv
from tests.events.conftest import deploy_csv, deploy_row, incident_csv


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_deployments_csv_maps_every_column(world):
    world.write(
        "deployments.csv",
        deploy_csv(
            deploy_row(1, model_version="7", kind="hotfix", trigger="manual"),
            deploy_row(2, "failure", version="", commit_sha="", trigger="", kind=""),
        ),
    )
    world.config(deployments="deployments.csv")
    stats = world.sync()
    assert stats.rows == 2
    assert world.rows("deployments") == [
        {
            "source": "log",
            "deployment_id": "d1",
            "entity": "credit-risk",
            "environment": "production",
            "version": "1.0",
            "commit_sha": "abc1234",
            "model_version": "7",
            "started_at": ts("2026-01-01T10:00:00+00:00"),
            "finished_at": ts("2026-01-01T10:05:00+00:00"),
            "status": "success",
            "kind": "hotfix",
            "trigger": "manual",
            "strategy": None,  # no strategy column in this file
        },
        {
            "source": "log",
            "deployment_id": "d2",
            "entity": "credit-risk",
            "environment": "production",
            "version": None,  # empty strings are NULL
            "commit_sha": None,
            "model_version": None,
            "started_at": ts("2026-01-01T10:00:00+00:00"),
            "finished_at": ts("2026-01-01T10:05:00+00:00"),
            "status": "failure",
            "kind": "planned",  # the default
            "trigger": None,
            "strategy": None,
        },
    ]


def test_incidents_csv_maps_every_column(world):
    world.write(
        "incidents.csv",
        incident_csv(
            "i1,credit-risk,production,sev1,2026-01-02T12:00:00Z,2026-01-02T14:30:00Z,d1,"
            '"Latency, high"',
            "i2,fraud,,,2026-01-03T08:00:00Z,,,",
        ),
    )
    world.config(incidents="incidents.csv")
    world.sync()
    assert world.rows("incidents") == [
        {
            "source": "log",
            "incident_id": "i1",
            "entity": "credit-risk",
            "environment": "production",
            "severity": "sev1",
            "detected_at": ts("2026-01-02T12:00:00+00:00"),
            "resolved_at": ts("2026-01-02T14:30:00+00:00"),
            "cause_deployment_id": "d1",
            "title": "Latency, high",
        },
        {
            "source": "log",
            "incident_id": "i2",
            "entity": "fraud",
            "environment": None,
            "severity": None,
            "detected_at": ts("2026-01-03T08:00:00+00:00"),
            "resolved_at": None,
            "cause_deployment_id": None,
            "title": None,
        },
    ]


def test_named_entities_are_added_to_entities(world):
    world.write("d.csv", deploy_csv(deploy_row(1, entity="svc-a"), deploy_row(2, entity="svc-b")))
    world.config(deployments="d.csv")
    world.sync()
    with __import__("mlreport.warehouse").warehouse.Warehouse(world.warehouse_path) as wh:
        names = wh.con.execute("SELECT kind, name FROM entities ORDER BY name").fetchall()
    assert names == [("service", "svc-a"), ("service", "svc-b")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T14:30:00Z", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T14:30:00z", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T14:30:00", "2026-03-01T14:30:00+00:00"),  # no zone: UTC
        ("2026-03-01 14:30:00", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T14:30", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01T16:30:00+02:00", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T16:30:00+0200", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T16:30:00+02", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T09:00:00-05:30", "2026-03-01T14:30:00+00:00"),
        ("2026-03-01T14:30:00.123456Z", "2026-03-01T14:30:00.123456+00:00"),
        ("2026-03-01T14:30:00.5Z", "2026-03-01T14:30:00.500000+00:00"),
        ("2026-03-01T14:30:00.123456789Z", "2026-03-01T14:30:00.123456+00:00"),  # truncated
        ('"2026-03-01T14:30:00,25Z"', "2026-03-01T14:30:00.250000+00:00"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"),  # the first and last times
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999+00:00"),
        ("2026-06-30T23:59:59.999999Z", "2026-06-30T23:59:59.999999+00:00"),
    ],
)
def test_timestamps_are_iso_8601_and_zone_less_means_utc(world, text, expected):
    world.write("d.csv", deploy_csv(deploy_row(1, started_at="", finished_at=text)))
    world.config(deployments="d.csv")
    world.sync()
    assert world.rows("deployments")[0]["finished_at"] == ts(expected)


def test_crlf_bom_blank_lines_and_padding_are_fine(world):
    text = "\ufeff" + deploy_csv(deploy_row(1), "", deploy_row(2, status=" success ")).replace(
        "\n", "\r\n"
    )
    world.write("d.csv", text + "\r\n\r\n")
    world.config(deployments="d.csv")
    world.sync()
    assert [r["status"] for r in world.rows("deployments")] == ["success", "success"]


def test_quoted_values_may_hold_commas_quotes_and_newlines(world):
    world.write(
        "i.csv",
        incident_csv(
            'i1,svc,prod,,2026-01-01T00:00:00Z,,,"first line\nsecond, ""quoted"" line"',
            "i2,svc,prod,,2026-01-02T00:00:00Z,,,plain",
        ),
    )
    world.config(incidents="i.csv")
    world.sync()
    titles = [r["title"] for r in world.rows("incidents")]
    assert titles == ['first line\nsecond, "quoted" line', "plain"]


def test_header_only_csv_is_zero_rows(world):
    world.write("d.csv", deploy_csv())
    world.config(deployments="d.csv")
    stats = world.sync()
    assert stats.rows == 0
    assert "d.csv" in next(iter(world.cursors()["deployments"]["files"]))


def test_columns_may_come_in_any_order_and_optional_ones_may_be_absent(world):
    world.write(
        "d.csv",
        "status,finished_at,environment,entity,deployment_id\n"
        "success,2026-01-01T00:00:00Z,prod,svc,x1\n",
    )
    world.config(deployments="d.csv")
    world.sync()
    (row,) = world.rows("deployments")
    assert (row["deployment_id"], row["kind"], row["version"]) == ("x1", "planned", None)


def test_hostile_strings_are_stored_verbatim(world):
    title = "<script>alert(1)</script> file:///etc/passwd '; DROP TABLE incidents; --"
    world.write(
        "i.jsonl",
        json.dumps(
            {"incident_id": "i1", "entity": "svc", "detected_at": "2026-01-01", "title": title}
        )
        + "\n",
    )
    world.config(incidents="i.jsonl")
    world.sync()
    assert world.rows("incidents")[0]["title"] == title


# -- JSON lines ---------------------------------------------------------------------------------


def _jsonl(*objs: dict) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


def _deploy(i: int, **over) -> dict:
    row = {
        "deployment_id": f"d{i}",
        "entity": "credit-risk",
        "environment": "production",
        "finished_at": "2026-01-01T10:05:00Z",
        "status": "success",
    }
    row.update(over)
    return row


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json"])
def test_json_lines_deployments(world, suffix):
    world.write(
        f"d{suffix}",
        _jsonl(_deploy(1, version="2.0", trigger="manual"), _deploy(2, kind=None, version=None))
        + "\n",
    )
    world.config(deployments=f"d{suffix}")
    world.sync()
    rows = world.rows("deployments")
    assert [(r["deployment_id"], r["version"], r["kind"], r["trigger"]) for r in rows] == [
        ("d1", "2.0", "planned", "manual"),
        ("d2", None, "planned", None),
    ]


def test_json_lines_integers_are_text_other_types_are_errors(world):
    from mlreport.sources import SourceError

    world.write("d.jsonl", _jsonl(_deploy(1, version=3, model_version=12)))
    world.config(deployments="d.jsonl")
    world.sync()
    (row,) = world.rows("deployments")
    assert (row["version"], row["model_version"]) == ("3", "12")
    world.write("d.jsonl", _jsonl(_deploy(1), _deploy(2, version=1.10)))
    with pytest.raises(
        SourceError,
        match=r"d\.jsonl: line 2: column 'version': expected a "
        r"string, found a number with a fraction",
    ):
        world.sync()


def test_csv_and_json_lines_of_the_same_rows_give_the_same_table(world, tmp_path):
    rows = [
        _deploy(1, version="1.0", started_at="2026-01-01T10:00:00+01:00"),
        _deploy(2, status="failure", kind="hotfix", trigger="manual"),
    ]
    world.write("d.jsonl", _jsonl(*rows))
    world.config(deployments="d.jsonl")
    world.sync()
    from_json = world.rows("deployments")
    other = type(world)(tmp_path / "other")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(DEPLOYMENTS.columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    other.write("d.csv", buf.getvalue())
    other.config(deployments="d.csv")
    other.sync()
    assert other.rows("deployments") == from_json


# -- the CSV reader against Python's csv module -------------------------------------------------


def _fields(alphabet: str):
    return st.text(alphabet=st.sampled_from(list(alphabet) + ["x"] * 4), max_size=8)


@pytest.mark.parametrize(("eol", "alphabet"), [("\n", 'ab ,"\n\té'), ("\r\n", 'a ,"\r\n\t')])
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_csv_reader_agrees_with_pythons_csv_module(eol, alphabet, data):
    """Fast path or not, values and physical line numbers are those of Python's csv module."""
    rows = data.draw(st.lists(st.lists(_fields(alphabet), min_size=3, max_size=3), max_size=12))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=eol).writerows([["deployment_id", "entity", "title"], *rows])
    text = buf.getvalue()
    spec = DEPLOYMENTS.__class__(
        table="t",
        id_column="deployment_id",
        columns=("deployment_id", "entity", "title"),
        required=(),
        timestamps=(),
    )
    frame = read_csv(Path("x.csv"), text, spec)
    reader = csv.reader(io.StringIO(text, newline=""))
    expected, lines, previous = [], [], 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if start == 1 or not record or (len(record) == 1 and not record[0].strip()):
            continue
        expected.append(tuple(v if v != "" else None for v in record))
        lines.append(start)
    got = frame.select(pl.col(c).replace("", None) for c in spec.columns).rows()
    assert got == expected
    assert frame[LINE].to_list() == lines
