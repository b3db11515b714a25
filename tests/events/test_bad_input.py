"""Bad input: a SourceError naming file, line and column, and nothing stored is changed."""

from __future__ import annotations

import json
import re

import pytest

from mlreport.config import ConfigError
from mlreport.sources import SourceError
from tests.events.conftest import DEPLOY_HEADER, deploy_csv, deploy_row, incident_csv


@pytest.fixture
def stored(world):
    """A warehouse that already holds two deployments and one incident from good files."""
    world.write("d.csv", deploy_csv(deploy_row(1), deploy_row(2, "failure")))
    world.write("i.csv", incident_csv("i1,svc,prod,,2026-01-01T00:00:00Z,,,t"))
    world.config(deployments="d.csv", incidents="i.csv")
    world.sync()
    return world.snapshot()


def _fails(world, stored, name: str, content: str | bytes, pattern: str) -> str:
    """Replace a stored file by bad content; sync must fail and change nothing."""
    world.write(name, content)
    with pytest.raises(SourceError) as info:
        world.sync()
    message = str(info.value)
    assert re.search(pattern, message), message
    assert name in message
    assert world.snapshot() == stored
    return message


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (
            [deploy_row(1), "d2,svc,prod,1.0,abc"],
            r"line 3: malformed CSV row: 5 fields where the header has 11: missing the last "
            r"6 field\(s\) \('model_version', 'started_at'",
        ),
        (
            [deploy_row(1) + ",extra"],
            r"line 2: malformed CSV row: 12 fields where the header has 11: 1 field\(s\) more "
            r"than the header \(after column 'trigger'\)",
        ),
        (
            [deploy_row(1), deploy_row(2, version='"1.0'), deploy_row(3)],
            r"line 3: malformed CSV row: a quoted value is never closed",
        ),
        (
            [deploy_row(1, version='"1"x')],
            r"line 2: malformed CSV row: ',' expected after '\"'",
        ),
    ],
    ids=["too-few-fields", "too-many-fields", "unclosed-quote", "junk-after-quote"],
)
def test_malformed_csv_rows(world, stored, rows, pattern):
    _fails(world, stored, "d.csv", deploy_csv(*rows), pattern)


def test_line_numbers_count_physical_lines_after_multi_line_values(world, stored):
    text = incident_csv(
        'i1,svc,prod,,2026-01-01T00:00:00Z,,,"two\nlines"',
        "",
        "i2,svc,prod,,yesterday,,,t",
    )
    _fails(world, stored, "i.csv", text, r"line 5: column 'detected_at': not an ISO 8601")


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        (
            {"status": "sucess"},
            r"line 3: column 'status': unknown value 'sucess' \(allowed: success, failure, "
            r"rolled_back\)",
        ),
        (
            {"kind": "emergency"},
            r"line 3: column 'kind': unknown value 'emergency' \(allowed: planned, hotfix, "
            r"rollback\)",
        ),
        (
            {"trigger": "cron"},
            r"line 3: column 'trigger': unknown value 'cron' \(allowed: automated, manual\)",
        ),
        (
            {"finished_at": "01/02/2026 10:00"},
            r"line 3: column 'finished_at': not an ISO 8601 timestamp: '01/02/2026 10:00'",
        ),
        ({"finished_at": "2026-02-30T10:00:00Z"}, r"line 3: column 'finished_at': not an ISO"),
        ({"started_at": "2026-01-01T25:00:00Z"}, r"line 3: column 'started_at': not an ISO"),
        ({"finished_at": "2026-01-01T10:00:00+25:00"}, r"line 3: column 'finished_at': not an"),
        (
            {"started_at": "2026-01-02T00:00:00Z", "finished_at": "2026-01-01T23:59:59Z"},
            r"line 3: column 'finished_at': finished_at 2026-01-01T23:59:59Z is before "
            r"started_at 2026-01-02T00:00:00Z",
        ),
        ({"environment": ""}, r"line 3: column 'environment': a value is required"),
        ({"finished_at": "  "}, r"line 3: column 'finished_at': a value is required"),
        ({"deployment_id": ""}, r"line 3: column 'deployment_id': a value is required"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else None,
)
def test_bad_values(world, stored, over, pattern):
    _fails(world, stored, "d.csv", deploy_csv(deploy_row(1), deploy_row(2, **over)), pattern)


def test_the_earliest_bad_line_is_reported_with_a_count_of_the_rest(world, stored):
    rows = [
        deploy_row(1),
        deploy_row(2, trigger="x"),
        deploy_row(3, status="ok"),
        deploy_row(4, trigger="y"),
    ]
    message = _fails(world, stored, "d.csv", deploy_csv(*rows), r"line 3: column 'trigger'")
    assert "(1 more line(s) with this problem)" in message


def test_resolved_before_detected(world, stored):
    text = incident_csv("i1,svc,prod,,2026-01-02T00:00:00Z,2026-01-01T00:00:00Z,,t")
    _fails(
        world,
        stored,
        "i.csv",
        text,
        r"line 2: column 'resolved_at': resolved_at 2026-01-01T00:00:00Z is before",
    )


def test_duplicate_ids_name_both_lines(world, stored):
    rows = [deploy_row(1), deploy_row(2), deploy_row(3), deploy_row(2, "failure")]
    _fails(
        world,
        stored,
        "d.csv",
        deploy_csv(*rows),
        r"line 5: column 'deployment_id': duplicate deployment_id 'd2', also on line 3",
    )


def test_invalid_utf8_names_line_and_column(world, stored):
    good = deploy_csv(deploy_row(1), deploy_row(2)).encode()
    bad = good + deploy_row(3, version="1.\xff").encode("latin-1") + b"\n"
    _fails(world, stored, "d.csv", bad, r"line 4: column 'version': not valid UTF-8 \(byte 0xff")


def test_invalid_utf8_in_json_lines(world, stored):
    world.config(deployments="d.jsonl", incidents="i.csv")
    line = json.dumps({"deployment_id": "x"}).encode()
    _fails(
        world, stored, "d.jsonl", line + b"\n" + line[:-1] + b'\xc3"}\n', r"line 2: not valid UTF-8"
    )


def test_missing_required_columns(world, stored):
    text = "deployment_id,entity,finished_at\nd1,svc,2026-01-01T00:00:00Z\n"
    _fails(
        world,
        stored,
        "d.csv",
        text,
        r"line 1: missing required column\(s\) 'environment', 'status' for deployments "
        r"\(required: deployment_id, entity, environment, finished_at, status\)",
    )


def test_unknown_columns_are_named_with_the_known_ones(world, stored):
    text = DEPLOY_HEADER + ",team,Status\n" + deploy_row(1) + ",ml,x\n"
    _fails(
        world,
        stored,
        "d.csv",
        text,
        r"line 1: unknown column\(s\) 'team', 'Status' for deployments \(known columns: "
        r"deployment_id, entity, environment, version, commit_sha, model_version, "
        r"started_at, finished_at, status, kind, trigger, strategy\)",
    )


def test_header_problems(world, stored):
    _fails(
        world, stored, "d.csv", "deployment_id,entity,,status\n", r"line 1: header field 3 is empty"
    )
    _fails(
        world,
        stored,
        "d.csv",
        "deployment_id,entity,entity\n",
        r"line 1: column\(s\) 'entity' appear twice",
    )


@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        (['{"deployment_id": "d1"', ""], r"line 1: not valid JSON at character"),
        (
            [
                '{"deployment_id": "d1", "entity": "s", "environment": "p", "status": "success", '
                '"finished_at": "2026-01-01"}',
                '["d2"]',
            ],
            r"line 2: expected a JSON object",
        ),
        (
            [
                '{"deployment_id": "d1", "entity": "s", "environment": "p", "status": "success", '
                '"finished_at": "2026-01-01"}',
                '{"deployment_id": "d2", "team": "x"}',
            ],
            r"line 2: unknown column\(s\) 'team' for deployments \(known columns: ",
        ),
        (
            ['{"deployment_id": "d1", "entity": {"name": "s"}}'],
            r"line 1: column 'entity': expected a string, found an object",
        ),
        (
            [
                '{"deployment_id": "d1", "entity": "s", "environment": "p", "status": true, '
                '"finished_at": "2026-01-01"}'
            ],
            r"line 1: column 'status': expected a string, found a boolean",
        ),
        (
            ['{"deployment_id": "d1", "entity": "s", "environment": "p", "status": "success"}'],
            r"line 1: missing required column\(s\) 'finished_at'",
        ),
        (
            [
                "",
                '{"deployment_id": "d1", "entity": "s", "environment": "p", "status": "bad", '
                '"finished_at": "2026-01-01"}',
            ],
            r"line 2: column 'status': unknown value 'bad'",
        ),
    ],
    ids=["broken", "array", "unknown-key", "object", "boolean", "missing", "bad-value"],
)
def test_bad_json_lines(world, stored, lines, pattern):
    world.config(deployments="d.jsonl", incidents="i.csv")
    _fails(world, stored, "d.jsonl", "\n".join(lines) + "\n", pattern)


def test_zero_byte_files_are_a_no_op_and_keep_what_is_stored(world, stored, caplog):
    world.write("d.csv", b"")
    stats = world.sync()
    assert stats.rows == 0
    after = world.snapshot()
    assert after["deployments"] == stored["deployments"]
    assert "the file is empty" in caplog.text
    assert after["cursors"] != stored["cursors"]  # the empty file is recorded


def test_a_bad_file_keeps_earlier_files_of_the_sync(world, stored):
    """Files commit one by one: a bad second file leaves the first one's rows and cursor."""
    world.write("more/a.csv", deploy_csv(deploy_row(10)))
    world.write("more/b.csv", deploy_csv(deploy_row(11, status="nope")))
    world.config(deployments=["d.csv", "more/*.csv"], incidents="i.csv")
    with pytest.raises(SourceError, match=r"b\.csv: line 2: column 'status'"):
        world.sync()
    assert sorted(world.by_id("deployments")) == ["d1", "d10", "d2"]
    files = world.cursors()["deployments"]["files"]
    assert any(k.endswith("a.csv") for k in files)
    assert not any(k.endswith("b.csv") for k in files)
    world.write("more/b.csv", deploy_csv(deploy_row(11)))
    stats = world.sync()
    assert stats.reads["files"] == 1  # a.csv is not read again
    assert sorted(world.by_id("deployments")) == ["d1", "d10", "d11", "d2"]


def test_unknown_extension_and_missing_file(world, stored):
    world.write("d.txt", deploy_csv(deploy_row(1)))
    world.config(deployments="d.txt")
    with pytest.raises(SourceError, match=r"d\.txt: unknown file type '\.txt'"):
        world.sync()
    world.config(deployments="nope.csv")
    with pytest.raises(SourceError, match=r"nope\.csv: does not exist"):
        world.sync()


def test_a_glob_matching_nothing_is_not_an_error(world, caplog):
    world.config(deployments="later/*.csv")
    assert world.sync().rows == 0
    assert "no file matches" in caplog.text


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ("", r"needs at least one of `deployments`, `incidents` or `cdevents`"),
        ("deployments = []", r"`deployments` is an empty list"),
        ("deployments = 3", r"sources\[0\]\.deployments"),
        ('deployment = "d.csv"', r"sources\[0\]\.deployment: unknown key"),
    ],
)
def test_options_are_validated(world, options, pattern):
    (world.root / "mlreport.toml").write_text(
        f'[[sources]]\nname = "log"\ntype = "events"\n{options}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=pattern):
        world.sync()


# -- edges found by an attack review: each was silently changed, accepted, a crash or slow ----


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("2026-06-30T23:59:60Z", "2026-06-30T23:59:59Z"),
        ("2026-06-30T23:59:60.5Z", "2026-06-30T23:59:59.5Z"),
        ("2026-07-01 01:59:60+02:00", "2026-07-01 01:59:59+02:00"),
        ("2016-12-31T23:59:60", "2016-12-31T23:59:59"),
    ],
)
def test_leap_seconds_are_refused_not_moved_to_the_next_second(world, stored, value, suggestion):
    rows = [deploy_row(1), deploy_row(2, started_at="", finished_at=value)]
    message = _fails(
        world,
        stored,
        "d.csv",
        deploy_csv(*rows),
        r"line 3: column 'finished_at': leap seconds are not supported: "
        + re.escape(repr(value))
        + r" \(use :59",
    )
    assert repr(suggestion) in message


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("0000-01-01", r"year 0000 is outside 0001\.\.9999"),
        ("0000-12-31T23:59:59Z", r"year 0000 is outside 0001\.\.9999"),
        ("-0001-01-01", r"year -0001 is outside 0001\.\.9999"),
        ("+10000-01-01T00:00:00Z", r"year \+10000 is outside 0001\.\.9999"),
        ("10000-01-01", r"year 10000 is outside 0001\.\.9999"),
        (
            "9999-12-31T23:00:00-02:00",
            r"'9999-12-31T23:00:00-02:00' is after 9999-12-31T23:59:59\.999999Z in UTC",
        ),
        (
            "0001-01-01T00:30:00+01:00",
            r"'0001-01-01T00:30:00\+01:00' is before 0001-01-01T00:00:00Z in UTC",
        ),
    ],
)
def test_years_outside_1_to_9999_are_refused(world, stored, value, pattern):
    rows = [deploy_row(1, started_at=value)]
    _fails(world, stored, "d.csv", deploy_csv(*rows), r"line 2: column 'started_at': " + pattern)


def _jsonl_deployment(**extra: object) -> str:
    row = {
        "deployment_id": "d1",
        "entity": "s",
        "environment": "p",
        "status": "success",
        "finished_at": "2026-01-01",
    }
    return json.dumps({**row, **extra})


@pytest.mark.parametrize(
    ("value", "lone"),
    [
        ("1.\ud800", "\\ud800"),
        ("\udc00x", "\\udc00"),
        ("\ud83d\ud83d\ude80", "\\ud83d"),  # a high one, then a pair
        ("\ud83d\ude80\ude80", "\\ude80"),  # a pair, then a low one
    ],
)
@pytest.mark.parametrize(
    "extra",
    [{}, {"model_version": 3}],
    ids=["strings-only", "with-an-integer"],  # the fast (polars) and the exact (json) path
)
def test_a_lone_surrogate_in_json_lines_is_refused(world, stored, extra, value, lone):
    world.config(deployments="d.jsonl", incidents="i.csv")
    good = _jsonl_deployment(**extra)
    bad = _jsonl_deployment(deployment_id="d2", version=value, **extra)
    assert lone in bad  # json.dumps escapes it: the file itself is valid UTF-8
    _fails(
        world,
        stored,
        "d.jsonl",
        good + "\n" + bad + "\n",
        r"line 2: key 'version': not valid Unicode \(a lone surrogate, " + re.escape(lone),
    )


def test_a_lone_surrogate_in_a_json_key_is_named_printably(world, stored):
    world.config(deployments="d.jsonl", incidents="i.csv")
    line = _jsonl_deployment()[:-1] + ', "x\\udc00": "1"}'
    _fails(
        world,
        stored,
        "d.jsonl",
        line + "\n",
        r"line 1: key 'x\\udc00': not valid Unicode \(a lone surrogate, \\udc00\)",
    )


def test_a_surrogate_pair_is_one_character_and_is_stored(world):
    world.write("d.jsonl", _jsonl_deployment(version="\U0001f680") + "\n")
    assert "\\ud83d\\ude80" in (world.root / "d.jsonl").read_text()
    world.config(deployments="d.jsonl")
    world.sync()
    assert world.rows("deployments")[0]["version"] == "\U0001f680"


@pytest.mark.parametrize(
    ("line", "character"),
    [
        ("[" * 100_000 + "]" * 100_000, 65),
        (_jsonl_deployment()[:-1] + ', "version": ' + "[" * 100_000 + "]" * 100_000 + "}", 184),
        ('{"a": ' * 100_000 + '"x"' + "}" * 100_000, 385),
    ],
    ids=["arrays", "arrays-in-a-value", "objects"],
)
def test_deeply_nested_json_is_refused_before_parsing(world, stored, line, character):
    world.config(deployments="d.jsonl", incidents="i.csv")
    _fails(
        world,
        stored,
        "d.jsonl",
        _jsonl_deployment(deployment_id="d0") + "\n" + line + "\n",
        rf"line 2: JSON nested deeper than 64 levels \(at character {character}\)",
    )


@pytest.mark.parametrize("extra", [{}, {"model_version": 1}], ids=["fast", "exact"])
def test_brackets_inside_json_strings_are_not_nesting(world, extra):
    title = "[{" * 100 + '"\\' + "}]" * 100  # an escaped quote and backslash in between
    world.write("d.jsonl", _jsonl_deployment(version=title, **extra) + "\n")
    assert '\\"\\\\}' in (world.root / "d.jsonl").read_text()
    world.config(deployments="d.jsonl")
    world.sync()
    assert world.rows("deployments")[0]["version"] == title


def test_a_csv_header_of_100000_columns_is_refused_at_once(world, stored):
    header = ",".join(f"c{i}" for i in range(100_000))
    _fails(
        world,
        stored,
        "d.csv",
        header + "\n" + ",".join(["x"] * 100_000) + "\n",
        r"line 1: the header line is 688,889 bytes; at most 65,536 are read",
    )
    header = ",".join(f"c{i}" for i in range(5_000))
    _fails(
        world,
        stored,
        "d.csv",
        header + "\n",
        r"line 1: the header has 5,000 columns; at most 1,000 are read",
    )


def test_a_long_list_of_unknown_columns_is_clipped(world, stored):
    header = DEPLOY_HEADER + "," + ",".join(f"c{i}" for i in range(900))
    message = _fails(
        world, stored, "d.csv", header + "\n", r"line 1: unknown column\(s\) 'c0', 'c1', "
    )
    assert "'c19', and 880 more" in message
    assert "'c20'" not in message
