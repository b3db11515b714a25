"""One route from metric to report: reports read the stored run; families compute once."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from mlreport import hookimpl, metrics
from mlreport.cli import cli
from mlreport.config import parse_config
from mlreport.metric_store import load_run
from mlreport.pipeline import run
from mlreport.plugin_manager import get_plugins
from mlreport.warehouse import Warehouse
from tests.plugin_packages import install
from tests.reports.conftest import AS_OF, CONFIG, seed

# A third-party package: the built-in dora family, with its own lead time (a constant that
# no built-in computation gives, so the report can only show it if it read this plugin's rows).
LEAD_TIME_PLUGIN = """
import polars as pl
from mlreport import hookimpl
from mlreport.plugins.dora import DoraMetrics

class HouseLeadTime(DoraMetrics):
    def compute(self, ctx):
        rows = super().compute(ctx)
        is_lead = pl.col("metric") == "dora.lead_time"
        return rows.with_columns(
            pl.when(is_lead & pl.col("value").is_not_null()).then(pl.lit(4242.0))
            .otherwise(pl.col("value")).alias("value")
        )

@hookimpl
def register_metrics(register):
    register("dora", HouseLeadTime, replace=True)
"""


@pytest.fixture
def seeded(tmp_path):
    config = parse_config(
        CONFIG + '\n[[reports]]\ntype = "delivery"\nformats = ["json"]\n',
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        seed(wh)
        yield config, wh


def test_a_plugin_family_replaces_the_builtin_lead_time_in_the_report(
    seeded, tmp_path, monkeypatch
):
    install(tmp_path, monkeypatch, "mlr_house_lead_time", LEAD_TIME_PLUGIN)
    config, wh = seeded
    assert get_plugins().metrics().items["dora"].plugin == "mlr_house_lead_time"
    listed = CliRunner().invoke(cli, ["plugins"])
    assert "replaces: register_metrics: 'dora' of mlreport.plugins.dora" in listed.output
    outcome = run(wh, config, tmp_path / "out", AS_OF)
    doc = json.loads(outcome.outputs["delivery"]["json"].read_text())
    cells = [r["metrics"]["lead_time"] for r in doc["sections"]["summary"]["rows"]]
    shown = [c["value"] for c in cells if c["value"] is not None]
    assert shown and set(shown) == {4242.0}
    weekly = [
        p["value"]
        for e in doc["sections"]["entities"]["entities"]
        for t in e["trends"]
        if t["metric"] == "dora.lead_time"
        for s in t["series"]
        for p in s["points"]
        if p["value"] is not None
    ]
    assert weekly and set(weekly) == {4242.0}


def test_each_family_computes_once_in_a_run_and_reports_read_that_run(
    seeded, tmp_path, monkeypatch
):
    config, wh = seeded
    config = parse_config(
        CONFIG
        + '\n[[reports]]\ntype = "delivery"\nformats = ["json"]\n'
        + '\n[[reports]]\ntype = "models"\nformats = ["json"]\n'
        + '\n[[reports]]\ntype = "quality"\nformats = ["json"]\n',
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    calls: list[tuple[str, int]] = []
    real = metrics.installed_families

    def counting() -> list[type[metrics.MetricFamily]]:
        out = []
        for fam in real():

            class Counted(fam):  # type: ignore[misc, valid-type]
                def compute(self, ctx, _name=fam.name):
                    calls.append((_name, len(ctx.windows)))
                    return super().compute(ctx)

            Counted.name = fam.name
            out.append(Counted)
        return out

    monkeypatch.setattr(metrics, "installed_families", counting)
    outcome = run(wh, config, tmp_path / "out", AS_OF)
    names = [n for n, _ in calls]
    assert sorted(names) == sorted(set(names)), calls  # each family once
    assert set(names) == set(get_plugins().metrics().names())
    windows = dict(calls)
    assert windows["dora"] == 1 + 14  # the window and its 14 weeks, in the same call
    assert windows["lifecycle"] > 1  # the window and its months
    (run_id,) = wh.con.execute("SELECT run_id FROM metric_runs").fetchone()
    stored = load_run(wh, run_id)
    assert stored.failures == {} and "dora_changes" in stored.detail_names
    assert outcome.outputs.keys() == {"delivery", "models", "quality"}


class _Broken(metrics.MetricFamily):
    name = "ops"
    metrics = (metrics.MetricInfo("ops.time_to_restore", "hours", "broken on purpose"),)

    def compute(self, ctx):
        raise RuntimeError("incidents table unreadable")


class BrokenOps:
    """A plugin replacing the built-in ops family with one that raises."""

    @staticmethod
    @hookimpl
    def register_metrics(register):
        register("ops", _Broken, replace=True)


def test_a_failing_family_is_recorded_and_the_run_goes_on(seeded, tmp_path):
    get_plugins().register_module(BrokenOps, "broken-ops")
    config, wh = seeded
    outcome = run(wh, config, tmp_path / "out", AS_OF)
    (failures,) = wh.con.execute("SELECT failures FROM metric_runs").fetchone()
    assert json.loads(failures) == {"ops": "RuntimeError: incidents table unreadable"}
    doc = json.loads(outcome.outputs["delivery"]["json"].read_text())
    assert doc["sections"]["summary"]["rows"]  # dora values still shown
    assert wh.con.execute(
        "SELECT count(*) FROM metric_values WHERE metric LIKE 'ops.%'"
    ).fetchone() == (0,)


def test_report_exits_2_when_a_family_it_reads_failed(seeded, tmp_path):
    get_plugins().register_module(BrokenOps, "broken-ops")
    config, wh = seeded
    wh.close()
    (tmp_path / "mlreport.toml").write_text(CONFIG)
    args = ["--config", str(tmp_path / "mlreport.toml"), "--warehouse", str(tmp_path / "wh.duckdb")]
    result = CliRunner().invoke(
        cli,
        [
            *args,
            "report",
            "delivery",
            "--format",
            "json",
            "--out",
            str(tmp_path / "r"),
            "--as-of",
            AS_OF.isoformat(),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "metric family ops failed, its parts are empty: RuntimeError" in result.output
    assert (tmp_path / "r" / "delivery.json").exists()  # written all the same


def test_the_delivery_report_notes_abbreviated_shas(seeded, tmp_path):
    config, wh = seeded
    hexed = "md5({c}) || left(md5({c}), 8)"  # the seed's shas as 40 hex digits
    wh.con.execute(
        f"UPDATE commits SET sha = {hexed.format(c='sha')}, "
        f"parents = list_transform(parents, lambda p: {hexed.format(c='p')})"
    )
    wh.con.execute(f"UPDATE deployments SET commit_sha = {hexed.format(c='commit_sha')}")
    wh.con.execute(
        "UPDATE deployments SET commit_sha = left(commit_sha, 10) "
        "WHERE entity = 'credit-risk' AND deployment_id IN "
        "(SELECT deployment_id FROM deployments WHERE entity = 'credit-risk' "
        "AND environment = 'production' AND status = 'success' ORDER BY finished_at DESC LIMIT 3)"
    )
    outcome = run(wh, config, tmp_path / "out", AS_OF)
    doc = json.loads(outcome.outputs["delivery"]["json"].read_text())
    (note,) = [n for n in doc["sections"]["quality"]["notes"] if n["kind"] == "abbreviated_shas"]
    assert note["entity"] == "credit-risk" and note["count"] == 3
    assert "resolved to the one commit it starts with" in note["message"]


def test_families_sharing_a_context_get_their_own_windows(seeded, tmp_path):
    """ops computes over the report window only, dora over it and its weeks, whichever runs
    first: a family's rows never depend on the windows another family asked for."""
    from mlreport.metrics import MetricRequest, run_metrics
    from mlreport.reporting import MetricNeed

    config, wh = seeded
    window = metrics.default_window(config, as_of=AS_OF)
    weekly = MetricNeed("ops.*", by="week").request(window)
    run = run_metrics(wh, config, [MetricRequest("dora.*", (window,)), weekly])
    ops_windows = set(run.values.filter(pl.col("metric").str.starts_with("ops."))["window_start"])
    dora_windows = set(run.values.filter(pl.col("metric").str.starts_with("dora."))["window_start"])
    assert len(ops_windows) == len(weekly.windows) and dora_windows == {window.start}
