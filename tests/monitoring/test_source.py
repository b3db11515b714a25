"""``columns.label_timestamp`` through a real ``predictions`` sync and the CLI: the view's
``label_ts``, metric values equal to pandas, policies on the monitoring names, bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.metrics import Window
from mlreport.warehouse import Warehouse

from .builder import T0, day, expected

CONFIG = """
[[sources]]
name = "credit-log"
type = "predictions"
path = "log.parquet"
entity = "credit-risk"
[sources.columns]
timestamp = "ts"
prediction = "CAST(p >= 0.5 AS INTEGER)"
label = "defaulted"
LABEL_TIME
[policies]
"monitoring.coverage" = { min = MIN_COVERAGE }
"monitoring.label_lag_hours" = { stat = "p95", max = 400, optional = true }
"""
LABEL_TIME = 'label_timestamp = "label_at"'  # text without an offset: UTC


def _log_rows() -> list[dict]:
    """Fourteen days with logs on ten of them; some labels late, some not yet arrived."""
    rows = []
    for i in range(40):
        d = (i * 3 % 14) + (i % 5) / 10
        if int(d) in (3, 4, 9, 13):
            continue
        label = None if i % 4 == 0 else float(i % 2)
        lag = timedelta(hours=(i * 13) % 300, seconds=i)
        # label 0.0 rows have no label time: labelled, but not in the lag
        rows.append({"ts": day(d), "label": label, "label_ts": day(d) + lag if label else None})
    return rows


@pytest.fixture
def project(tmp_path, monkeypatch):
    rows = _log_rows()
    frame = pl.DataFrame(
        {
            "ts": [r["ts"] for r in rows],
            "p": [0.7 if i % 3 else 0.2 for i in range(len(rows))],
            "defaulted": [r["label"] for r in rows],
            "label_at": [
                None if r["label_ts"] is None else r["label_ts"].strftime("%Y-%m-%d %H:%M:%S")
                for r in rows
            ],
        }
    )
    frame.write_parquet(tmp_path / "log.parquet")
    monkeypatch.chdir(tmp_path)
    write(tmp_path)
    return tmp_path, rows


def write(root, label_time: str = LABEL_TIME, min_coverage: float = 0.95) -> None:
    text = CONFIG.replace("LABEL_TIME", label_time).replace("MIN_COVERAGE", repr(min_coverage))
    (root / "mlreport.toml").write_text(text, encoding="utf-8")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


WINDOW = ("--since", T0.isoformat(), "--until", (T0 + timedelta(days=14)).isoformat())


def test_the_view_has_the_label_time_and_the_metrics_equal_pandas(project):
    root, rows = project
    assert invoke("sync").exit_code == 0
    with Warehouse(root / "mlreport.duckdb", read_only=True) as wh:
        described = wh.con.execute('DESCRIBE "predictions__credit-log"').fetchall()
    kinds = {r[0]: r[1] for r in described}
    assert kinds["label_ts"] == "TIMESTAMP WITH TIME ZONE"
    result = invoke("metrics", "--metric", "monitoring.*", *WINDOW, "--format", "json")
    assert result.exit_code == 0, result.output
    found = {}
    for r in json.loads(result.stdout):
        key = (r["metric"].removeprefix("monitoring."), r["dimensions"].get("stat"))
        found[key] = (r["value"], r["n"])
    w = Window(T0, T0 + timedelta(days=14))
    wanted = {(k[0], k[1]): v for k, v in expected(rows, [w]).items()}
    assert set(found) == set(wanted)
    for key, (value, n) in wanted.items():
        assert found[key][1] == n
        assert found[key][0] == pytest.approx(value, rel=1e-12, abs=0), key
    assert found[("coverage", None)][0] == 10 / 14


def test_a_coverage_policy_fails_and_passes_with_its_threshold(project):
    root, _ = project
    assert invoke("sync").exit_code == 0
    result = invoke("check", *WINDOW)
    assert result.exit_code == 1, result.output
    assert "monitoring.coverage credit-risk" in result.output
    write(root, min_coverage=0.7)
    assert invoke("check", *WINDOW).exit_code == 0


def test_without_the_mapping_no_label_lag_is_written(project):
    root, _ = project
    write(root, label_time="")
    assert invoke("sync").exit_code == 0
    result = invoke("metrics", "--metric", "monitoring.*", *WINDOW, "--format", "json")
    names = {r["metric"] for r in json.loads(result.stdout)}
    assert "monitoring.label_lag_hours" not in names
    assert "monitoring.coverage" in names


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('label_timestamp = "p"', "columns.label_timestamp = 'p': is DOUBLE"),
        ('label_timestamp = "no_such"', "columns.label_timestamp = 'no_such'"),
        ("label_timestamp = \"label_at || 'x'\"", "columns.label_timestamp does not convert"),
    ],
)
def test_a_label_time_that_is_not_a_time_fails_the_sync_naming_the_key(project, mapping, message):
    root, _ = project
    write(root, label_time=mapping)
    result = invoke("sync")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_label_time_without_a_label_is_a_config_error(project):
    root, _ = project
    text = (root / "mlreport.toml").read_text().replace('label = "defaulted"\n', "")
    (root / "mlreport.toml").write_text(text)
    result = invoke("sync")
    assert result.exit_code == 2
    assert "label_timestamp" in result.output and "map `label` too" in result.output


def test_a_label_time_without_a_zone_is_utc_and_the_name_is_reserved(project, tmp_path):
    root, rows = project
    frame = pl.read_parquet(root / "log.parquet").with_columns(
        pl.col("label_at").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("label_naive")
    )
    frame.write_parquet(root / "log.parquet")
    write(root, label_time='label_timestamp = "label_naive"')
    assert invoke("sync").exit_code == 0
    result = invoke(
        "metrics", "--metric", "monitoring.label_lag_hours", *WINDOW, "--format", "json"
    )
    got = {r["dimensions"]["stat"]: r["value"] for r in json.loads(result.stdout)}
    w = Window(T0, T0 + timedelta(days=14))
    want = {k[1]: v[0] for k, v in expected(rows, [w]).items() if k[0] == "label_lag_hours"}
    assert got == want
    text = (root / "mlreport.toml").read_text() + '[sources.features]\nnumeric = ["label_ts"]\n'
    (root / "mlreport.toml").write_text(text)
    result = invoke("sync")
    assert (
        result.exit_code == 2 and "'label_ts' is a column of the predictions view" in result.output
    )
