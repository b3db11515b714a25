"""``mlreport diff`` between stored runs, the "Since last run" block in every format, and
byte-identical reports for the same warehouse, config and as-of."""

from __future__ import annotations

import json

import pytest

from mlreport.warehouse import Warehouse
from tests.browser import pdf_text
from tests.notify.conftest import incident

DAY1, DAY2 = "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"


def _rounded(obj):
    """Floats as the JSON report writes them (13 significant digits)."""
    if isinstance(obj, float):
        return float(f"{obj:.13g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


@pytest.fixture
def two_runs(nightly):
    """Day 1 passes; an incident makes day 2 fail the change-failure-rate policy."""
    nightly.config("")
    assert nightly.run(DAY1).exit_code == 0
    nightly.append("incidents.csv", incident(1, 5, "d4"))
    assert nightly.run(DAY2).exit_code == 1
    with Warehouse(nightly.root / "wh.duckdb", read_only=True) as wh:
        ids = [
            r[0] for r in wh.con.execute("SELECT run_id FROM metric_runs ORDER BY as_of").fetchall()
        ]
    return nightly, ids


def test_diff_defaults_to_the_last_run_and_the_one_before(two_runs):
    world, (first, second) = two_runs
    result = world.invoke("diff", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["previous"]["run_id"] == first and data["current"]["run_id"] == second
    assert data["current"]["as_of"] == DAY2
    report = world.report_json("2026-03-11")["since_last_run"]
    # the same comparison the report shows, plus the run ids
    for key in ("new_failures", "resolved_failures", "moves", "moved"):
        assert _rounded(data[key]) == report[key]


def test_diff_between_named_runs_by_prefix_either_way(two_runs):
    world, (first, second) = two_runs
    forward = json.loads(world.invoke("diff", first[:8], second, "--format", "json").stdout)
    assert [f["metric"] for f in forward["new_failures"]] == ["dora.change_failure_rate"]
    backward = world.invoke("diff", second[:10], first[:10], "--format", "json")
    assert backward.exit_code == 0, backward.output
    back = json.loads(backward.stdout)
    assert back["new_failures"] == [] and len(back["resolved_failures"]) == 1
    assert back["resolved_failures"][0]["other_value"] == 0.0
    cfr = [m for m in back["moves"] if m["metric"] == "dora.change_failure_rate"]
    assert [(m["before"], m["after"], m["relative"]) for m in cfr] == [(0.25, 0.0, -1.0)]
    assert back["moved"] == 10  # the durations have no value any more


def test_diff_table_output(two_runs):
    world, (first, second) = two_runs
    result = world.invoke("diff", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"from run {first} (as of {DAY1})",
        f"to   run {second} (as of {DAY2})",
        "",
        "new failures: 1",
        "  dora.change_failure_rate svc environment=production: 0 -> 0.25",
        "",
        "resolved failures: 0",
        "",
        "largest moves: 1 of 10 changed values",
        "  dora.change_failure_rate svc environment=production: 0 -> 0.25 (from zero)",
    ]


def test_diff_list_shows_the_runs(two_runs):
    world, (first, second) = two_runs
    listed = json.loads(world.invoke("diff", "--list", "--format", "json").stdout)
    assert [(r["run_id"], r["as_of"]) for r in listed] == [(second, DAY2), (first, DAY1)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deadbeef", "cafe"], "Error: no metrics run 'deadbeef' in the warehouse"),
        (["not-a-run", "cafe"], "Error: 'not-a-run' is not a run id"),
        (["cafe"], "Error: give two runs (RUN_A earlier, RUN_B later), or none"),
    ],
)
def test_unknown_run_ids_exit_2_with_one_clear_line(two_runs, args, expected):
    world, _ = two_runs
    result = world.invoke("diff", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(expected) and len(result.stderr.splitlines()) == 1


def test_diff_with_a_single_run_says_there_is_nothing_to_compare(nightly):
    nightly.config("")
    assert nightly.run(DAY1).exit_code == 0
    result = nightly.invoke("diff")
    assert result.exit_code == 2
    assert "has no earlier run of the same scope to compare with" in result.stderr


def test_diff_on_a_warehouse_without_runs(nightly):
    nightly.config("")
    assert nightly.invoke("sync").exit_code == 0
    result = nightly.invoke("diff")
    assert result.exit_code == 2
    assert "holds no run of `mlreport run` or `mlreport report` yet" in result.stderr


def test_reports_stay_byte_identical_for_the_same_as_of(two_runs):
    world, _ = two_runs
    day = world.root / "out" / "2026-03-11"
    before = {p.name: p.read_bytes() for p in day.iterdir() if p.suffix != ".json"} | {
        "delivery.json": (day / "delivery.json").read_bytes()
    }
    assert world.run(DAY2).exit_code == 1  # again: it compares with day 1 again
    after = {name: (day / name).read_bytes() for name in before}
    assert after == before


def test_report_command_shows_the_block_in_every_format(two_runs, tmp_path):
    world, _ = two_runs
    out = tmp_path / "adhoc"
    result = world.invoke(
        "report", "delivery", "--format", "json,md,html,pdf", "--out", str(out), "--as-of", DAY2
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "delivery.json").read_text())["since_last_run"]
    assert data["previous"]["as_of"] == DAY1  # the earlier run, not the run at the same as-of
    assert [f["metric"] for f in data["new_failures"]] == ["dora.change_failure_rate"]
    assert "### Since last run" in (out / "delivery.md").read_text()
    assert '<aside class="callout since-last-run"' in (out / "delivery.html").read_text()
    text = pdf_text(out / "delivery.pdf").lower()
    assert "since last run" in text and "new failures" in text
    assert "dora.change_failure_rate" in text


def test_a_report_limited_to_other_entities_shows_no_changes_of_svc(two_runs, tmp_path):
    world, _ = two_runs
    out = tmp_path / "other"
    args = ["report", "delivery", "--format", "json", "--out", str(out), "--as-of", DAY2]
    result = world.invoke(*args, "--entity", "svc")
    assert result.exit_code == 0, result.output
    # a run limited to svc has no earlier run of that scope: a first run, not "everything new"
    assert json.loads((out / "delivery.json").read_text())["since_last_run"]["previous"] is None


def test_runs_stored_before_migration_008(nightly):
    """A warehouse whose runs did not record their scope: diff says so read-only, and once
    migrated those runs are never "the previous run"."""
    import duckdb

    nightly.config("")
    assert nightly.run(DAY1).exit_code == 0
    con = duckdb.connect(str(nightly.root / "wh.duckdb"))
    for column in ("as_of", "window_start", "window_end", "scope"):
        con.execute(f"ALTER TABLE metric_runs DROP COLUMN {column}")
    con.execute("DELETE FROM _migrations WHERE version = 8")
    con.close()
    old = nightly.invoke("diff")  # diff opens the warehouse read-only: not migrated
    assert old.exit_code == 2
    assert "predates run scopes (migration 008)" in old.stderr
    listed = json.loads(nightly.invoke("diff", "--list", "--format", "json").stdout)
    assert [r["as_of"] for r in listed] == [None]
    assert nightly.run(DAY2).exit_code == 0  # migrates; the old run has no as-of
    assert nightly.report_json("2026-03-11")["since_last_run"]["previous"] is None


def test_diff_is_a_command_of_the_installed_cli():
    """Added by the built-in plugin's register_commands, in a fresh process as `mlreport`
    runs it (not only through the test's CliRunner)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom mlreport.cli import main\nsys.argv = ['mlreport', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "  diff " in done.stdout


def test_an_ad_hoc_report_in_between_is_not_the_nightly_runs_previous(nightly, tmp_path):
    """`report delivery` computes only delivery's families; the next nightly run compares
    with the last run that computed everything it does."""
    nightly.config("")
    assert nightly.run(DAY1).exit_code == 0
    nightly.append("incidents.csv", incident(1, 5, "d4"))
    assert nightly.invoke("sync").exit_code == 0
    noon = "2026-03-10T12:00:00Z"
    args = ["report", "delivery", "--format", "json", "--out", str(tmp_path / "adhoc")]
    assert nightly.invoke(*args, "--as-of", noon).exit_code == 0
    adhoc = json.loads((tmp_path / "adhoc" / "delivery.json").read_text())["since_last_run"]
    assert adhoc["previous"]["as_of"] == DAY1  # the ad-hoc report compares with the night
    assert nightly.run(DAY2).exit_code == 1
    changes = nightly.report_json("2026-03-11")["since_last_run"]
    assert changes["previous"]["as_of"] == DAY1  # not the ad-hoc report at noon
    assert [f["metric"] for f in changes["new_failures"]] == ["dora.change_failure_rate"]


def test_every_report_type_carries_the_block(nightly):
    """The block lives in the shared layout: quality and models show it too (here with no
    prediction logs or registry, so nothing of theirs changed)."""
    nightly.config(
        '[[reports]]\ntype = "quality"\nformats = ["json", "md", "html"]\n\n'
        '[[reports]]\ntype = "models"\nformats = ["json", "md", "html"]\n'
    )
    assert nightly.run(DAY1).exit_code == 0
    nightly.append("incidents.csv", incident(1, 5, "d4"))
    assert nightly.run(DAY2).exit_code == 1
    day = nightly.root / "out" / "2026-03-11"
    for report in ("delivery", "quality", "models"):
        block = json.loads((day / f"{report}.json").read_text())["since_last_run"]
        assert block["previous"]["as_of"] == DAY1, report
        failures = [f["metric"] for f in block["new_failures"]]
        # each report shows only its own metrics: the dora failure is delivery's
        assert failures == (["dora.change_failure_rate"] if report == "delivery" else []), report
        assert "Since last run" in (day / f"{report}.html").read_text(), report
        assert "### Since last run" in (day / f"{report}.md").read_text(), report
