"""The sync contract: atomic rows+cursor, upserts, provenance, entities, checkpoints."""

from __future__ import annotations

import pytest

from mlreport.config import parse_config
from mlreport.plugin_manager import get_plugins
from mlreport.sources import (
    Checkpoint,
    SourceError,
    Stream,
    View,
    build_source,
    sync_entities,
    sync_source,
)
from mlreport.warehouse import Warehouse
from tests.kernel import fakes


def _setup(tmp_path, options: str = ""):
    get_plugins().register_module(fakes, "fakes")
    config = parse_config(
        f'[[entities]]\nname = "declared"\nowner = "o@example.com"\n'
        f'[[sources]]\nname = "c"\ntype = "counter"\n{options}\n',
        tmp_path / "m.toml",
        tmp_path,
    )
    return config, Warehouse(tmp_path / "w.duckdb")


def _source(config):
    return build_source(config.sources[0], config, 0)


def _ids(wh):
    return [
        r[0]
        for r in wh.con.execute(
            "SELECT deployment_id FROM deployments ORDER BY deployment_id"
        ).fetchall()
    ]


def test_rows_carry_source_and_synced_at(tmp_path):
    config, wh = _setup(tmp_path)
    sync_source(wh, _source(config))
    rows = wh.con.execute("SELECT DISTINCT source, synced_at IS NOT NULL FROM deployments")
    assert rows.fetchall() == [("c", True)]


def test_second_sync_starts_from_the_cursor(tmp_path):
    config, wh = _setup(tmp_path)
    src = _source(config)
    sync_source(wh, src)
    src2 = _source(config)
    stats = sync_source(wh, src2)
    assert stats.rows == 0 and src2.reads == {}
    assert wh.get_cursor("c", "deploys") == 3


def test_full_resync_rereads_and_upserts_without_duplicates(tmp_path):
    config, wh = _setup(tmp_path)
    sync_source(wh, _source(config))
    stats = sync_source(wh, _source(config), full=True)
    assert stats.rows == 3
    assert _ids(wh) == ["d0", "d1", "d2"]


def test_failure_rolls_back_rows_and_keeps_the_cursor(tmp_path):
    config, wh = _setup(tmp_path, "n = 3")
    sync_source(wh, _source(config))
    before = wh.fingerprint("deployments")
    bad, _ = _setup(tmp_path, "n = 6\nfail_after = 5")
    wh.close()
    wh = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(SourceError, match="row 5"):
        sync_source(wh, _source(bad))
    assert wh.fingerprint("deployments") == before
    assert wh.get_cursor("c", "deploys") == 3


def test_checkpoints_commit_what_came_before_them(tmp_path):
    config, wh = _setup(tmp_path, "n = 6\nfail_after = 5\ncheckpoint_every = 2")
    with pytest.raises(SourceError):
        sync_source(wh, _source(config))
    assert _ids(wh) == ["d0", "d1", "d2", "d3"]
    assert wh.get_cursor("c", "deploys") == 4


def test_named_entities_are_added_once_and_declared_ones_win(tmp_path):
    config, wh = _setup(tmp_path, 'entity = "declared"')
    sync_entities(wh, config)
    sync_source(wh, _source(config))
    other, _ = _setup(tmp_path, 'entity = "auto"')
    sync_source(wh, _source(other), full=True)
    rows = wh.con.execute(
        "SELECT name, kind, owner, declared FROM entities ORDER BY name"
    ).fetchall()
    assert rows == [
        ("auto", "service", None, False),
        ("declared", "service", "o@example.com", True),
    ]


def test_secret_values_never_reach_warehouse_logs_or_reports(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mlreport.cli import cli

    get_plugins().register_module(fakes, "fakes")
    monkeypatch.setenv("FAKE_TOKEN", "tok-9f8e7d6c5b4a")
    cfg = tmp_path / "mlreport.toml"
    cfg.write_text(
        '[[sources]]\nname = "c"\ntype = "counter"\ntoken = "${FAKE_TOKEN}"\n'
        '[[reports]]\ntype = "fake"\n'
    )
    result = CliRunner().invoke(
        cli, ["-vv", "--config", str(cfg), "run", "--as-of", "2026-01-10T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files)
    for path in files:
        assert b"tok-9f8e7d6c5b4a" not in path.read_bytes(), path
    assert "tok-9f8e7d6c5b4a" not in result.output


def test_a_failed_full_resync_keeps_the_previous_cursor_and_rows(tmp_path):
    config, wh = _setup(tmp_path, "n = 3")
    sync_source(wh, _source(config))
    before = wh.fingerprint("deployments")
    bad, _ = _setup(tmp_path, "n = 3\nfail_after = 1")
    with pytest.raises(SourceError):
        sync_source(wh, _source(bad), full=True)
    assert wh.get_cursor("c", "deploys") == 3
    assert wh.fingerprint("deployments") == before


class _ViewSource:
    """A minimal source that yields one View then a checkpoint (or fails after the view)."""

    def __init__(self, sql: str, name: str = "my_view", fail: bool = False) -> None:
        from mlreport.sources import Source

        class Impl(Source):
            def streams(self):
                return [Stream("v", "prediction_logs", ("log",))]

            def read(self, stream, cursor):
                yield View(name, sql)
                if fail:
                    raise SourceError("boom after the view")
                yield Checkpoint(1)

        config = parse_config("", "m.toml", None)
        self.source = Impl("views", Impl.Options(), config)


def test_view_items_define_views_with_the_checkpoint(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    sync_source(wh, _ViewSource("SELECT 1 AS x").source)
    assert wh.con.execute("SELECT x FROM my_view").fetchall() == [(1,)]
    assert "my_view" in wh.views()


def test_a_failed_sync_keeps_the_previous_view(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    sync_source(wh, _ViewSource("SELECT 1 AS x").source)
    with pytest.raises(SourceError, match="boom"):
        sync_source(wh, _ViewSource("SELECT 2 AS x", fail=True).source)
    assert wh.con.execute("SELECT x FROM my_view").fetchall() == [(1,)]


@pytest.mark.parametrize(
    "sql, name, message",
    [
        ("SELECT 1 AS x; DROP TABLE deployments", "my_view", "one SELECT statement"),
        ("SELECT 1 AS x", "deployments", "a table"),
        ("SELECT nope FROM nowhere", "my_view", "cannot define view"),
    ],
)
def test_view_items_are_refused_when_they_would_do_more_than_define_a_view(
    tmp_path, sql, name, message
):
    wh = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(SourceError, match=message):
        sync_source(wh, _ViewSource(sql, name).source)
    assert "deployments" in wh.tables() and "deployments" not in wh.views()
    assert wh.con.execute("SELECT count(*) FROM deployments").fetchall() == [(0,)]
