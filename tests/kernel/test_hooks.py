"""One test per hook, and meta-tests that every hook is documented and tested (datasette-style)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport import hookspecs
from mlreport.cli import _load_command_plugins, cli
from mlreport.config import ConfigError, parse_config
from mlreport.metrics import Window
from mlreport.pipeline import run
from mlreport.plugin_manager import get_plugins
from mlreport.reporting import ReportContext, jinja_env, markdown_env, render_report
from mlreport.sources import build_source, sync_source
from mlreport.warehouse import Warehouse
from tests.kernel import fakes
from tests.kernel.fakes import T0

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "mlreport_spec")
)


@pytest.fixture
def fake(tmp_path):
    fakes.CALLS.clear()
    get_plugins().register_module(fakes, "fakes")
    config = parse_config(
        '[[sources]]\nname = "c"\ntype = "counter"\n\n'
        '[[reports]]\ntype = "fake"\n\n[[notifiers]]\ntype = "recorder"\non = "always"\n',
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    wh = Warehouse(tmp_path / "w.duckdb")
    yield config, wh
    wh.close()


def test_every_hook_is_documented():
    text = DOCS.read_text()
    for hook in HOOKS:
        assert re.search(rf"^### {hook}\(", text, re.M), f"{hook} is not documented in {DOCS}"


def test_every_hook_has_a_test():
    tests = {name for name, _ in inspect.getmembers(inspect.getmodule(test_every_hook_has_a_test))}
    for hook in HOOKS:
        assert f"test_hook_{hook}" in tests, f"no test_hook_{hook}"


def test_docs_name_no_hook_that_does_not_exist():
    documented = re.findall(r"^### (\w+)\(", DOCS.read_text(), re.M)
    assert sorted(documented) == HOOKS


def test_hook_register_sources(fake):
    config, wh = fake
    source = build_source(config.sources[0], config, 0)
    stats = sync_source(wh, source)
    assert stats.rows == 3
    assert wh.con.execute("SELECT count(*) FROM deployments").fetchone() == (3,)


def test_hook_register_metrics(fake):
    from mlreport.metrics import compute_metrics

    config, wh = fake
    sync_source(wh, build_source(config.sources[0], config, 0))
    frame = compute_metrics(wh, config, [Window(T0, T0.replace(day=3))], "fake.*")
    assert frame.select("entity", "value").rows() == [("svc", 2.0)]


def test_hook_register_reports(fake, tmp_path):
    config, wh = fake
    ctx = ReportContext(wh, config, Window(T0, T0.replace(day=9)), T0.replace(day=9))
    outputs = render_report(ctx, "fake", ["txt"], tmp_path / "out")
    assert outputs["txt"].read_text() == "Fake report\ncount=0\n"


def test_hook_register_renderers(fake, tmp_path):
    config, wh = fake
    assert "txt" in get_plugins().renderers().names()
    ctx = ReportContext(wh, config, Window(T0, T0.replace(day=9)), T0, title="Mine")
    outputs = render_report(ctx, "fake", ["txt"], tmp_path / "out")
    assert outputs["txt"].read_text().startswith("Mine\n")


def test_hook_register_notifiers(fake, tmp_path):
    config, wh = fake
    outcome = run(wh, config, tmp_path / "out", "2026-01-10T00:00:00Z")
    assert [c for c, _ in fakes.CALLS].count("notify") == 1
    assert outcome.outputs["fake"]["txt"].exists()


def test_hook_register_template_helpers(fake):
    config, _ = fake
    for env in (jinja_env(config, []), markdown_env(config, [])):
        template = env.from_string(
            "{{ fake_badge('ok') }} {{ 'quiet' | shout }} {{ 3 | value('count') }}"
        )
        assert template.render() == "[ok] QUIET 3"


def test_hook_register_entity_settings(tmp_path):
    get_plugins().register_module(fakes, "fakes")
    ok = '[[entities]]\nname = "a"\nsteward_email = "x@example.com"\nsla_hours = 4\nowner = "o"\n'
    config = parse_config(ok, tmp_path / "mlreport.toml", tmp_path)
    assert config.entities[0].model_extra == {"steward_email": "x@example.com", "sla_hours": 4}
    bad = (
        '[[entities]]\nname = "a"\n\n[[entities]]\nname = "b"\nsteward_emial = "x@y"\n'
        'steward_email = "nope"\nsla_hours = 0\nownr = "o"\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_config(bad, tmp_path / "mlreport.toml", tmp_path)
    lines = sorted(str(err.value).splitlines())
    file = tmp_path / "mlreport.toml"
    assert lines == sorted(
        [
            f"{file}: entities[1].ownr: unknown key (did you mean `owner`?)",
            f"{file}: entities[1].steward_emial: unknown key "
            "(did you mean `steward_email` or `steward_backup`?)",
            f"{file}: entities[1].steward_email: String should match pattern "
            "'^[^@\\s]+@[^@\\s]+$' (got str)",
            f"{file}: entities[1].sla_hours: must be a whole number of hours above 0 "
            "(plugin fakes)",
        ]
    )


def test_hook_register_commands():
    get_plugins().register_module(fakes, "fakes")
    _load_command_plugins()
    result = CliRunner().invoke(cli, ["fake-hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from fake\n"


def test_hook_after_sync(fake):
    config, wh = fake
    from mlreport.pipeline import sync_all

    sync_all(wh, config)
    assert ("after_sync", ("c", 3)) in fakes.CALLS


def test_hook_after_report(fake, tmp_path):
    config, wh = fake
    ctx = ReportContext(wh, config, Window(T0, T0.replace(day=9)), T0)
    render_report(ctx, "fake", ["txt"], tmp_path / "out")
    assert ("after_report", ("fake", ["txt"])) in fakes.CALLS


def test_hook_register_engines(tmp_path):
    import dataclasses
    import types

    from mlreport import hookimpl
    from mlreport.engines import ArrowResult, scan_connection
    from mlreport.metrics import MetricContext
    from mlreport.prediction_logs import PredictionLog

    made = []

    class Recorder:
        name = "recorder"

        def __init__(self, con):
            self.con, self.queries = con, []

        def execute(self, sql, params=()):
            self.queries.append(sql)
            return ArrowResult(self.con.execute(sql, list(params)).to_arrow_table())

        def cursor(self):
            return self

        def close(self):
            pass

        def materializes(self):
            return False

    def factory(log, options, warehouse):
        made.append((log.log, options["engine"], options["flavour"]))
        return Recorder(warehouse.con)

    plugin = types.SimpleNamespace(
        register_engines=hookimpl(lambda register: register("recorder", factory))
    )
    get_plugins().register_module(plugin, "engine-plugin")
    config = parse_config(
        '[[sources]]\nname = "log1"\ntype = "predictions"\nengine = "recorder"\n'
        'flavour = "x"\n[[sources]]\nname = "log2"\ntype = "predictions"\n',
        tmp_path / "mlreport.toml",
        tmp_path,
    )
    wh = Warehouse(tmp_path / "w.duckdb")
    ctx = MetricContext(wh, config, [])
    log = PredictionLog(
        "log1", "m", "classification", "v", *[None] * 4, (), (), (), (), {}, (), (), None
    )
    engine = scan_connection(ctx, log)
    assert made == [("log1", "recorder", "x")]
    assert scan_connection(ctx, log) is engine  # one engine per log and metrics run
    assert engine.execute("SELECT ? + 1 AS x", [41]).fetchall() == [(42,)]
    other = dataclasses.replace(log, log="log2")
    assert scan_connection(ctx, other) is wh.con  # no engine named: the warehouse's DuckDB
    wh.close()
