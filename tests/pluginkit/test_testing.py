"""mlreport.testing: each fixture and helper, and that each helper fails when it should."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from mlreport import Checkpoint, Renderer, Rows, Source, Stream, hookimpl
from mlreport.config import ConfigError
from mlreport.reporting import ReportError
from mlreport.testing import (
    ConfigBuilder,
    add_rows,
    assert_metric,
    check_output,
    make_source,
    metric_values,
    render_report,
    sync,
    sync_twice,
)
from tests.kernel import fakes

Failed = pytest.fail.Exception


def test_the_module_is_a_pytest_plugin_entry_point():
    points = importlib.metadata.entry_points(group="pytest11")
    assert any(p.name == "mlreport" and p.value == "mlreport.testing" for p in points)


# -- fixtures ---------------------------------------------------------------------------------


def test_the_warehouse_fixture_is_a_migrated_file_in_tmp_path(mlreport_warehouse, tmp_path):
    assert mlreport_warehouse.path == tmp_path / "mlreport.duckdb"
    assert {"deployments", "incidents", "metric_values"} <= set(mlreport_warehouse.tables())


def test_the_config_fixture_points_at_that_warehouse(mlreport_config, mlreport_warehouse):
    config = mlreport_config.build()
    assert config.warehouse.path == mlreport_warehouse.path
    assert config.file == mlreport_warehouse.path.parent / "mlreport.toml"


def test_the_plugins_fixture_registers_a_plugin_for_one_test(mlreport_plugins):
    mlreport_plugins.register_module(fakes, "fakes")
    assert "counter" in mlreport_plugins.sources().names()


# -- config -----------------------------------------------------------------------------------


def test_the_builder_writes_every_kind_of_value(tmp_path):
    builder = (
        ConfigBuilder(tmp_path)
        .entity("credit-risk", "model", owner="risk@example.com", tags={"tier": "1"})
        .source("c", "counter", n=2, entity="svc", when=date(2026, 1, 2))
        .report("fake", ["txt"], title='Quoted "title"')
        .policy("fake.deploys", min=1.5)
        .table("metrics", window_days=30)
    )
    text = builder.toml()
    assert 'when = "2026-01-02"' in text
    assert 'title = "Quoted \\"title\\""' in text
    assert 'tags = { tier = "1" }' in text
    config = builder.build()
    assert config.entities[0].owner == "risk@example.com"
    assert config.sources[0].options == {"n": 2, "entity": "svc", "when": "2026-01-02"}
    assert config.reports[0].formats == ["txt"]
    assert config.metrics.window_days == 30
    assert "fake.deploys" in config.policies


def test_a_built_source_is_validated_like_a_users(mlreport_config, mlreport_plugins):
    mlreport_plugins.register_module(fakes, "fakes")
    config = mlreport_config.source("c", "counter", n="many").build()
    with pytest.raises(ConfigError, match=r"sources\[0\]\.n"):
        make_source(config, "c")
    with pytest.raises(KeyError, match="no source named 'd' in the config \\(configured: c\\)"):
        make_source(config, "d")


def test_a_value_toml_cannot_hold_is_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot write object"):
        ConfigBuilder(tmp_path).source("c", "counter", n=object()).toml()


# -- sync -------------------------------------------------------------------------------------


@pytest.fixture
def counter(mlreport_config, mlreport_plugins):
    mlreport_plugins.register_module(fakes, "fakes")
    config = mlreport_config.source("c", "counter", n=3).build()
    return make_source(config, "c")


def test_sync_twice_passes_an_incremental_source(counter, mlreport_warehouse):
    result = sync_twice(counter, mlreport_warehouse)
    assert (result.first.rows, result.second.rows) == (3, 0)
    assert result.cursors == [{"deploys": 3}, {"deploys": 3}]
    assert result.rows == [{"deployments": 3}, {"deployments": 3}]


def test_sync_twice_uses_a_fresh_warehouse_when_given_none(counter):
    assert sync_twice(counter).rows[1] == {"deployments": 3}


class Rereads(Source):
    """Reads everything every time (no use of the cursor)."""

    def streams(self):
        return [Stream("deploys", "deployments", ("source", "deployment_id"), "entity")]

    def read(self, stream, cursor):
        frame = pl.DataFrame(
            {
                "deployment_id": ["d1", "d2"],
                "entity": ["svc", "svc"],
                "environment": ["production", "production"],
                "status": ["success", "success"],
                "finished_at": [datetime(2026, 1, 1, tzinfo=UTC)] * 2,
            }
        )
        if self.options_key("new_ids") and cursor is not None:
            frame = frame.with_columns(pl.col("deployment_id") + "-again")
        yield Rows(frame)
        if not self.options_key("no_cursor"):
            yield Checkpoint("done")

    def options_key(self, key):
        return key in self.name


def _source(cls, name, config):
    return cls(name, None, config)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("rereads", "the second sync re-read 2 rows with nothing new upstream (allowed: 0)"),
        ("no_cursor", "stream(s) deploys stored no cursor after the first sync"),
    ],
)
def test_sync_twice_fails_a_source_that_is_not_incremental(name, says, mlreport_config):
    source = _source(Rereads, name, mlreport_config.build())
    with pytest.raises(Failed, match=re_escape(says)):
        sync_twice(source)


def test_sync_twice_allows_a_deliberate_overlap_but_not_new_rows(mlreport_config):
    config = mlreport_config.build()
    assert sync_twice(_source(Rereads, "rereads", config), reread=2).second.rows == 2
    with pytest.raises(Failed, match="table deployments changed on the second sync"):
        sync_twice(_source(Rereads, "new_ids", config), reread=2)


def test_sync_twice_fails_a_source_that_stores_nothing(mlreport_config, mlreport_plugins):
    mlreport_plugins.register_module(fakes, "fakes")
    source = make_source(mlreport_config.source("c", "counter", n=0).build(), "c")
    with pytest.raises(Failed, match="the first sync stored no rows"):
        sync_twice(source)


def test_sync_raises_what_the_source_raises(mlreport_config, mlreport_plugins, tmp_path):
    from mlreport import SourceError
    from mlreport.warehouse import Warehouse

    mlreport_plugins.register_module(fakes, "fakes")
    config = mlreport_config.source("c", "counter", n=3, fail_after=1).build()
    with Warehouse(tmp_path / "w.duckdb") as wh:
        with pytest.raises(SourceError, match="counter: row 1 is broken"):
            sync(make_source(config, "c"), wh)
        assert wh.con.execute("SELECT count(*) FROM deployments").fetchone() == (0,)


def re_escape(text):
    import re

    return re.escape(text)


# -- rows and metrics -------------------------------------------------------------------------


def test_add_rows_upserts_on_the_primary_key(mlreport_warehouse):
    row = {"source": "t", "deployment_id": "d1", "entity": "svc", "environment": "prod"}
    row.update(status="success", finished_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert add_rows(mlreport_warehouse, "deployments", [row]) == 1
    add_rows(mlreport_warehouse, "deployments", [{**row, "status": "failure"}])
    assert mlreport_warehouse.con.execute("SELECT status FROM deployments").fetchall() == [
        ("failure",)
    ]
    assert add_rows(mlreport_warehouse, "deployments", []) == 0


def test_add_rows_refuses_a_table_without_a_key(mlreport_warehouse):
    mlreport_warehouse.con.execute("CREATE TABLE loose (x INTEGER)")
    with pytest.raises(ValueError, match="table 'loose' has no primary key"):
        add_rows(mlreport_warehouse, "loose", [{"x": 1}])


@pytest.fixture
def deploy_values(mlreport_config, mlreport_warehouse, mlreport_plugins):
    add_rows(
        mlreport_warehouse,
        "deployments",
        [
            {
                "source": "t",
                "deployment_id": f"d{day}",
                "entity": "svc",
                "environment": "production",
                "finished_at": datetime(2026, 3, day, tzinfo=UTC),
                "status": "success",
            }
            for day in (2, 3, 9)
        ],
    )
    config = mlreport_config.build()
    return metric_values(mlreport_warehouse, config, "dora.*", "2026-03-01", "2026-03-15")


def test_metric_values_are_the_json_records(deploy_values):
    row = assert_metric(deploy_values, "dora.deployment_frequency", "svc", 3 / 14 * 7)
    assert row["window_start"] == "2026-03-01T00:00:00Z"
    assert set(row) == {
        "metric", "entity", "window_start", "window_end", "dimensions", "value", "unit", "n",
        "band",
    }  # fmt: skip


def test_assert_metric_reads_a_polars_frame_too(deploy_values):
    frame = pl.DataFrame([{**r, "dimensions": json.dumps(r["dimensions"])} for r in deploy_values])
    assert_metric(frame, "dora.deployment_frequency", "svc", 1.5)


def test_assert_metric_explains_each_failure():
    rows = [
        {"metric": "m.a", "entity": "e", "dimensions": {"stat": "p50"}, "value": 1.0},
        {"metric": "m.a", "entity": "e", "dimensions": {"stat": "p90"}, "value": 3.0},
        {"metric": "m.b", "entity": "e", "dimensions": {}, "value": None},
    ]
    assert_metric(rows, "m.a", "e", 3.0, dimensions={"stat": "p90"})
    assert_metric(rows, "m.a", "e", 1.0 + 1e-12, dimensions={"stat": "p50"})
    assert_metric(rows, "m.b", "e", None)
    assert_metric(rows, "m.a", "e", 1.1, abs=0.2, dimensions={"stat": "p50"})
    cases = [
        ((rows, "m.a", "e", 2.0), {"dimensions": {"stat": "p50"}}, "m.a for e with {'stat':"),
        ((rows, "m.a", "e", 1.0), {}, "2 values of m.a for e"),
        ((rows, "m.c", "e", 1.0), {}, "no value of m.c for e; the values hold [('m.a', 'e')"),
        ((rows, "m.b", "e", 0.0), {}, "m.b for e is None, expected 0.0"),
        ((rows, "m.a", "e", None), {"dimensions": {"stat": "p50"}}, "expected no value"),
        (([], "m.a", "e", 1.0), {}, "the values hold no rows"),
    ]
    for args, kwargs, says in cases:
        with pytest.raises(Failed, match=re_escape(says)):
            assert_metric(*args, **kwargs)


# -- reports ----------------------------------------------------------------------------------


class Broken(Renderer):
    extension, media_type = "bad", "text/plain"

    def render(self, report, env):
        raise ReportError("the printer is on fire")


class BrokenRenderer:
    @staticmethod
    @hookimpl
    def register_renderers(register):
        register("bad", Broken)


def test_render_report_renders_and_checks_every_format(
    mlreport_config, mlreport_warehouse, deploy_values, tmp_path
):
    config = mlreport_config.build()
    outputs = render_report(
        "delivery",
        ["html", "json", "md", "pdf"],
        mlreport_warehouse,
        config,
        tmp_path / "out",
        since="2026-03-01",
        until="2026-03-15",
        as_of="2026-03-15T00:00:00Z",
    )
    assert sorted(outputs) == ["html", "json", "md", "pdf"]
    body = json.loads(outputs["json"].read_text())
    assert body["window"] == {"since": "2026-03-01T00:00:00Z", "until": "2026-03-15T00:00:00Z"}


def test_render_report_fails_when_a_format_fails(
    mlreport_config, mlreport_warehouse, mlreport_plugins, tmp_path
):
    mlreport_plugins.register_module(fakes, "fakes")
    config = mlreport_config.build()
    outputs = render_report("fake", ["txt"], mlreport_warehouse, config, tmp_path / "a")
    assert outputs["txt"].read_text().startswith("Fake report\n")

    mlreport_plugins.register_module(BrokenRenderer(), "broken")
    with pytest.raises(Failed, match="report fake: report fake \\(bad\\): the printer is on fire"):
        render_report("fake", ["txt", "bad"], mlreport_warehouse, config, tmp_path / "b")


@pytest.mark.parametrize(
    ("fmt", "content", "says"),
    [
        ("html", b"", "the html output is empty"),
        ("html", b"<p>no document</p>", "not an HTML document"),
        ("html", b"<html><body><div></span></body></html>", "line 1: </span> closes div"),
        ("html", b"<html><body><section><p>x</body></html>", "</body> closes section"),
        ("html", b"<html><body><main>x", "<main> is never closed"),
        ("html", b"<html><body>{{ value }}</body></html>", "unrendered template syntax '{{'"),
        ("json", b"{", "not valid JSON"),
        ("json", b'{"report": "x"}', "carries no manifest"),
        ("pdf", b"<html>", "not a PDF"),
        ("pdf", b"%PDF-1.7\n1 0 obj", "a truncated PDF"),
        ("md", b"\xff\xfe", "not UTF-8 at byte 0"),
        ("md", b"  \n", "the Markdown output is blank"),
        ("csv", b"", "the csv output is empty"),
    ],
)
def test_check_output_names_what_is_malformed(fmt, content, says, tmp_path):
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(content)
    with pytest.raises(Failed, match=re_escape(says)):
        check_output(fmt, path)


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("html", b"<!doctype html><html><body><ul><li>a<li>b</ul><br><p>x<svg><path d='M0'/>"
         b"</svg></body></html>"),
        ("html", b"<html><head><style>@media print{a{color:red}}</style></head></html>"),
        ("json", b'{"manifest": {}}'),
        ("pdf", b"%PDF-1.7\n...\n%%EOF\n"),
        ("md", "## Résumé\n".encode()),
        ("csv", b"a,b\n"),
    ],
)  # fmt: skip
def test_check_output_accepts_well_formed_files(fmt, content, tmp_path):
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(content)
    check_output(fmt, Path(path))
