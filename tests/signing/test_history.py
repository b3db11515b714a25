"""`mlreport history`: every report run recorded in report_runs with its outcome, signature and
folder; a second run of the same as-of gets its own run id and folder and the first stays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.signing.conftest import AS_OF, invoke, make_org, run


def _history(config: Path, *extra: str) -> list[dict]:
    result = invoke("--config", str(config), "history", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def two_runs(tmp_path) -> Path:
    config = make_org(tmp_path)
    assert invoke("keygen", "--out", str(tmp_path / "keys")).exit_code == 0
    assert run(config).exit_code in (0, 1)
    assert run(config).exit_code in (0, 1)
    return config


def test_a_second_run_of_the_same_as_of_keeps_the_first(two_runs):
    rows = _history(two_runs)
    assert [r["report"] for r in rows] == ["delivery", "delivery"]
    first, second = rows[1], rows[0]  # newest first
    assert first["run_id"] != second["run_id"]
    assert first["out_dir"] != second["out_dir"]
    for row in rows:
        assert row["as_of"] == "2026-04-01T00:00:00Z"
        assert row["status"] == "ok"
        assert row["signature"] == "signed"
        assert row["signer"] == "Risk Office <risk@example.com>"
        folder = Path(row["out_dir"])
        assert (folder / "delivery.html").exists()
        verified = invoke("--config", str(two_runs), "verify", str(folder))
        assert verified.exit_code == 0, verified.output
    day = two_runs.parent / "out" / AS_OF
    assert day.resolve() == Path(second["out_dir"])  # the day's link shows the newest run


def test_history_table_and_filters(two_runs, tmp_path):
    table = invoke("--config", str(two_runs), "history")
    assert table.exit_code == 0
    header = table.output.splitlines()[0].split()
    assert header[:5] == ["as_of", "report", "status", "signature", "signer"]
    assert len(_history(two_runs, "--limit", "1")) == 1
    assert _history(two_runs, "--report", "quality") == []


def test_history_verify_checks_each_folder_now(two_runs):
    rows = _history(two_runs)
    newest, oldest = Path(rows[0]["out_dir"]), Path(rows[1]["out_dir"])
    assert [r["signature"] for r in _history(two_runs, "--verify")] == ["valid", "valid"]
    html = newest / "delivery.html"
    html.write_bytes(html.read_bytes().replace(b"<html", b"<html data-x", 1))
    shutil.rmtree(oldest)
    assert [r["signature"] for r in _history(two_runs, "--verify")] == [
        "tampered",
        "folder missing",
    ]


def test_the_report_command_is_recorded_with_its_folder(tmp_path):
    config = make_org(tmp_path, "")
    assert invoke("--config", str(config), "sync").exit_code == 0
    out = tmp_path / "adhoc"
    result = invoke(
        "--config", str(config), "report", "delivery", "--format", "json",
        "--out", str(out), "--as-of", "2026-03-15",
    )  # fmt: skip
    assert result.exit_code == 0
    (row,) = _history(config)
    assert row["out_dir"] == str(out.resolve())
    assert row["as_of"] == "2026-03-15T00:00:00Z"
    assert row["signature"] == "unsigned" and row["signer"] is None
    assert [r["signature"] for r in _history(config, "--verify")] == ["unsigned"]


def test_a_run_with_a_failed_source_is_recorded_incomplete(tmp_path):
    config = make_org(tmp_path, '\n[[sources]]\nname = "gone"\ntype = "events"\n'
                      'deployments = "missing.csv"\n')  # fmt: skip
    assert run(config).exit_code == 2  # a source failed: the run says so
    (row,) = _history(config)
    assert row["status"] == "incomplete"


def test_rows_from_before_migration_006_show_as_unrecorded(tmp_path):
    config = make_org(tmp_path, "")
    assert run(config).exit_code in (0, 1)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))  # as a warehouse before 006 was
    for column in ("out_dir", "signature", "signer", "key_id", "statement_sha256"):
        con.execute(f"ALTER TABLE report_runs DROP COLUMN {column}")
    con.execute("DELETE FROM _migrations WHERE version = 6")
    con.close()
    (row,) = _history(config)  # read-only: it does not migrate, and reads what there is
    assert row["signature"] == "unrecorded"
    assert [r["signature"] for r in _history(config, "--verify")] == ["folder missing"]


def test_history_without_a_warehouse_is_a_clear_error(tmp_path):
    config = make_org(tmp_path, "")
    result = invoke("--config", str(config), "history")
    assert result.exit_code == 2
    assert "no warehouse yet" in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "wh.duckdb").exists()  # looking did not create one
