"""CLI contracts: read-only sql, metrics JSON shape, exit codes, stdout/stderr, the run lock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.lock import LockHeld, run_lock
from mlreport.plugin_manager import get_plugins
from tests.kernel import fakes

CONFIG = """
[[sources]]
name = "c"
type = "counter"
n = 5
[policies]
"fake.deploys" = { max = POLICY_MAX }
[[reports]]
type = "fake"
"""


@pytest.fixture
def synced(tmp_path, monkeypatch):
    get_plugins().register_module(fakes, "fakes")
    cfg = tmp_path / "mlreport.toml"
    cfg.write_text(CONFIG.replace("POLICY_MAX", "10"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 0, result.output
    return cfg


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_sync_prints_rows_and_reads(synced):
    result = invoke("sync")
    assert result.exit_code == 0
    assert result.output.startswith("c\t0 rows")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO deployments (source, deployment_id, entity, environment, finished_at, "
        "status) VALUES ('x','y','z','p', now(), 'success')",
        "DELETE FROM deployments",
        "DROP TABLE deployments",
        "CREATE TABLE t (a INT)",
        "UPDATE deployments SET status = 'failure'",
        "COPY deployments TO 'leak.csv'",
        "ATTACH 'other.duckdb' AS o",
        "SELECT 1; DELETE FROM deployments",
        "INSTALL httpfs",
    ],
)
def test_sql_refuses_writes(synced, statement, tmp_path):
    result = invoke("sql", statement)
    assert result.exit_code == 2
    assert "read-only" in result.output
    assert invoke("sql", "SELECT count(*) AS n FROM deployments", "--format", "json").output
    count = json.loads(
        invoke("sql", "SELECT count(*) AS n FROM deployments", "--format", "json").output
    )
    assert count == [{"n": 5}]
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_sql_formats(synced):
    out = invoke(
        "sql", "SELECT deployment_id, entity FROM deployments ORDER BY 1 LIMIT 2", "--format", "csv"
    ).output
    assert out == "deployment_id,entity\nd0,svc\nd1,svc\n"
    table = invoke("sql", "SELECT deployment_id FROM deployments ORDER BY 1 LIMIT 1").output
    assert "d0" in table


def test_sql_syntax_error_is_a_clear_error(synced):
    result = invoke("sql", "SELEC 1")
    assert result.exit_code == 2 and "does not parse" in result.output


def test_metrics_json_has_exactly_the_documented_keys(synced):
    result = invoke(
        "metrics",
        "--metric",
        "fake.*",
        "--since",
        "2026-01-01",
        "--until",
        "2026-01-04",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows == [
        {
            "metric": "fake.deploys",
            "entity": "svc",
            "window_start": "2026-01-01T00:00:00Z",
            "window_end": "2026-01-04T00:00:00Z",
            "dimensions": {},
            "value": 3.0,
            "unit": "count",
            "n": 3,
            "band": None,
        }
    ]


def test_metrics_by_week_is_a_series_of_half_open_windows(synced):
    rows = json.loads(
        invoke(
            "metrics",
            "--metric",
            "fake.*",
            "--since",
            "2025-12-31",
            "--until",
            "2026-01-14",
            "--by",
            "week",
            "--format",
            "json",
        ).output
    )
    assert [(r["window_start"][:10], r["window_end"][:10], r["value"]) for r in rows] == [
        ("2025-12-31", "2026-01-05", 4.0),
        ("2026-01-05", "2026-01-12", 1.0),
        ("2026-01-12", "2026-01-14", 0.0),
    ]


def test_metric_values_are_kept_as_history(synced):
    for _ in range(2):
        invoke("metrics", "--metric", "fake.*", "--since", "2026-01-01", "--until", "2026-01-04")
    runs = json.loads(
        invoke(
            "sql", "SELECT count(DISTINCT run_id) AS n FROM metric_values", "--format", "json"
        ).output
    )
    assert runs == [{"n": 2}]


def test_bad_dates_are_usage_errors(synced):
    result = invoke("metrics", "--since", "last tuesday")
    assert result.exit_code == 2 and "--since" in result.output


def test_check_exit_codes(synced, tmp_path):
    assert invoke("check", "--since", "2026-01-01", "--until", "2026-02-01").exit_code == 0
    (tmp_path / "mlreport.toml").write_text(CONFIG.replace("POLICY_MAX", "2"))
    result = invoke("check", "--since", "2026-01-01", "--until", "2026-02-01")
    assert result.exit_code == 1
    assert "FAIL fake.deploys svc: 5" in result.output
    (tmp_path / "mlreport.toml").write_text("[warehouse\n")
    assert invoke("check").exit_code == 2


def test_run_lock_refuses_a_second_holder(tmp_path):
    with (
        run_lock(tmp_path / "w.duckdb"),
        pytest.raises(LockHeld, match="--wait"),
        run_lock(tmp_path / "w.duckdb"),
    ):
        pass


def test_second_run_process_exits_with_a_message_while_the_first_holds_the_lock(synced, tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from mlreport.lock import run_lock
            with run_lock({str(tmp_path / "mlreport.duckdb")!r}):
                print("held", flush=True)
                sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = invoke("run")
        assert result.exit_code == 2
        assert "another mlreport run holds" in result.output
    finally:
        holder.communicate("")


def test_unexpected_errors_exit_2_not_1(synced, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("mlreport.pipeline.sync_all", boom)
    result = invoke("sync")
    assert result.exit_code == 2 and "unexpected ZeroDivisionError" in result.output


def test_doctor_reports_each_source(synced):
    result = invoke("doctor")
    assert "source c: 5 rows available" in result.output
    assert "warehouse: ok" in result.output


def test_stdout_carries_only_results_and_logs_go_to_stderr(synced):
    result = invoke("-vv", "sync")
    assert "INFO syncing c" in result.stderr and "INFO" not in result.stdout
    result = invoke("-vv", "metrics", "--metric", "fake.*", "--format", "json")
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), list)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["sync", "--help"]])
def test_version_and_help_import_no_heavy_library(args):
    """Start-up stays fast (benchmarks/bench_cli_startup.py): the heavy libraries load only
    in the commands that use them."""
    code = textwrap.dedent(
        f"""
        import sys
        from mlreport.cli import main
        sys.argv = ["mlreport", *{args!r}]
        try:
            main()
        except SystemExit:
            pass
        heavy = ["polars", "duckdb", "pydantic", "sklearn", "weasyprint", "pandas", "numpy",
                 "jinja2", "fairlearn", "shap", "scipy"]
        print("LOADED", sorted(m for m in heavy if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


def test_metric_accepts_several_globs_and_refuses_one_that_matches_nothing(synced):
    both = invoke(
        "metrics", "--metric", "fake.deploys,fake.*", "--metric", "fake", "--format", "json"
    )
    assert both.exit_code == 0, both.output
    assert {r["metric"] for r in json.loads(both.output)} == {"fake.deploys"}
    typo = invoke("metrics", "--metric", "fake.deplys")
    assert typo.exit_code == 2
    assert "--metric 'fake.deplys' matches no installed metric; close: fake.deploys" in typo.output


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            '"fake.deplys" = { max = 10 }',
            "'fake.deplys': no installed metric family has it (did you mean 'fake.deploys'?)",
        ),
        (
            '"fake.deploys" = { max = 10, stat = "p50" }',
            "stat 'p50' is not one of the metric's; it has no stat",
        ),
        ('"fake.deploys" = { max = 10, entity = "sv" }', "no entity 'sv' (did you mean 'svc'?)"),
        (
            '"fake.deploys" = { max = 10, entity = "idle" }',
            "could not be evaluated: no value in the window",
        ),
    ],
)
def test_policies_fail_closed(synced, policy, message):
    text = CONFIG.replace('"fake.deploys" = { max = POLICY_MAX }', policy)
    if "idle" in policy:
        text = '[[entities]]\nname = "idle"\n\n' + text
    synced.write_text(text)
    result = invoke("check", "--until", "2026-01-10")
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output


def test_an_optional_policy_without_a_value_is_not_an_error(synced):
    text = CONFIG.replace(
        '"fake.deploys" = { max = POLICY_MAX }',
        '"fake.deploys" = { max = 10, entity = "idle", optional = true }',
    )
    synced.write_text('[[entities]]\nname = "idle"\n\n' + text)
    result = invoke("check", "--until", "2026-01-10")
    assert result.exit_code == 0, result.output


def test_demo_refuses_a_folder_that_holds_a_project(tmp_path):
    (tmp_path / "mlreport.toml").write_text("[warehouse]\npath = 'mine.duckdb'\n")
    result = invoke("demo", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "is not empty and is not a demo folder" in result.output and "--force" in result.output
    assert (tmp_path / "mlreport.toml").read_text() == "[warehouse]\npath = 'mine.duckdb'\n"
    assert not (tmp_path / "mlreport.duckdb").exists()


def test_secrets_never_reach_a_traceback_or_a_non_credential_key(tmp_path, monkeypatch):
    import logging

    from mlreport.terminal import Redact as _Redact

    try:
        raise ValueError("connect failed with password hunter2-value")
    except ValueError:
        import sys as _sys

        record = logging.LogRecord(
            "mlreport", logging.DEBUG, __file__, 1, "boom", None, _sys.exc_info()
        )
    text = _Redact(logging.Formatter("%(message)s"), frozenset({"hunter2-value"})).format(record)
    assert "Traceback" in text and "ValueError" in text  # -vv shows the traceback ...
    assert "hunter2-value" not in text and "***" in text  # ... with the secret replaced
    monkeypatch.setenv("TOP_SECRET", "hunter2-value")
    config = tmp_path / "mlreport.toml"
    config.write_text('[[entities]]\nname = "svc"\nowner = "${TOP_SECRET}"\n')
    monkeypatch.chdir(tmp_path)
    refused = CliRunner().invoke(cli, ["sync"])
    assert refused.exit_code == 2
    assert "entities[0].owner: ${VAR} is only for credentials" in refused.output
    assert "hunter2-value" not in refused.output


def test_a_warehouse_this_user_cannot_write_is_read_not_refused(synced, monkeypatch, tmp_path):
    """Root may write any file, so the test pretends not to be allowed, as a normal user is."""
    import os

    real = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if str(p).endswith(".duckdb") and mode == os.W_OK else real(p, mode),
    )
    before = invoke("sql", "SELECT count(*) AS n FROM metric_values").output
    result = invoke("metrics", "--until", "2026-01-10", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)
    report = invoke("report", "fake", "--out", str(tmp_path / "r"), "--until", "2026-01-10")
    assert report.exit_code == 0, report.output
    assert invoke("sql", "SELECT count(*) AS n FROM metric_values").output == before


def test_metrics_json_has_no_nan(synced, monkeypatch):
    from mlreport.cli import _json_safe

    assert _json_safe({"v": float("nan"), "w": [float("inf"), 1.5]}) == {
        "v": None,
        "w": [None, 1.5],
    }


def test_run_wait_also_waits_for_a_process_holding_the_warehouse(synced, tmp_path):
    hold = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(2.5)",
            str(tmp_path / "mlreport.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert hold.stdout.readline().strip() == "held"
    busy = invoke("run", "--out", "out", "--as-of", "2026-01-10")
    assert busy.exit_code == 2 and "in use by another mlreport process" in busy.output
    waited = invoke("run", "--out", "out", "--as-of", "2026-01-10", "--wait", "30")
    hold.wait()
    assert waited.exit_code in (0, 1), waited.output
