"""Which files count: plain files by path, glob and list of globs in CSV, gzip CSV and Parquet
of FOCUS 1.0, 1.1 and 1.2; AWS Data Exports and Azure export deliveries with manifests, where a
re-delivered period replaces the previous delivery; corrections land in later periods."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.focus.builder import (
    aws_delivery,
    azure_delivery,
    charge,
    touch_later,
    write_csv,
    write_parquet,
)

TOTAL = "SELECT sum(effective_cost), count(*) FROM cost_rows"


def test_csv_gzip_csv_and_parquet_of_every_focus_version_share_one_view(world):
    write_csv(world.root / "a/v10.csv", [charge("1.5"), charge("-0.25")], version="1.0")
    write_csv(
        world.root / "a/v11.csv.gz", [charge("2.125", start="2026-01-02T03:00:00Z")], version="1.1"
    )
    write_parquet(world.root / "b/v12.parquet", [charge("10.0000000001")], version="1.2")
    world.config(path=["a/*.csv*", "b/*.parquet"])
    stats = world.sync()
    assert stats.reads["files"] == 3 and stats.reads["files_read"] == 3
    assert world.query(TOTAL) == [(Decimal("13.3750000001"), 4)]
    # zone-less times are UTC, zoned ones converted; NULL strings are missing values
    assert world.query(
        "SELECT strftime(min(charge_period_start), '%Y-%m-%d %H:%M:%S%z'), count(charge_class) "
        "FROM cost_rows"
    ) == [("2026-01-02 03:00:00+00", 0)]


def test_a_folder_is_read_recursively_and_other_files_in_it_are_ignored(world):
    write_csv(world.root / "exp/2026/01/part.csv", [charge("1")])
    (world.root / "exp/README.md").write_text("not data")
    world.config(path="exp")
    world.sync()
    assert world.query(TOTAL) == [(Decimal("1"), 1)]


def test_aws_redelivered_period_replaces_the_previous_delivery(world):
    export = world.root / "exports/focus-daily"
    aws_delivery(export, "2026-01", [[charge("1")], [charge("2")]], "exec-0001")
    aws_delivery(
        export,
        "2026-02",
        [[charge("5", start="2026-02-03 00:00:00", period="2026-02")]],
        "exec-0002",
    )
    world.config(path="exports/focus-daily")
    world.sync()
    assert world.query(TOTAL) == [(Decimal("8"), 3)]
    # AWS writes the January delivery again (new file names, new manifest): old parts stay on
    # disk but are superseded; February is not re-read.
    aws_delivery(export, "2026-01", [[charge("1.5"), charge("0.75")]], "exec-0003")
    stats = world.sync()
    assert world.query(TOTAL) == [(Decimal("7.25"), 3)]
    assert stats.reads["files_read"] == 1 and stats.reads["superseded"] == 2
    assert stats.reads["manifests_read"] == 1


def test_a_correction_in_a_later_period_changes_the_earlier_window_exactly(world):
    export = world.root / "exports/focus"
    aws_delivery(export, "2026-01", [[charge("10"), charge("4", category="Storage")]], "e1")
    world.config(path="exports/focus")
    world.sync()
    correction = charge(
        "-1.5", start="2026-01-20 00:00:00", period="2026-02", charge_class="Correction"
    )
    aws_delivery(
        export,
        "2026-02",
        [[correction, charge("3", start="2026-02-02 00:00:00", period="2026-02")]],
        "e2",
    )
    world.sync()
    by_month = world.query(
        "SELECT strftime(charge_period_start, '%Y-%m') m, sum(effective_cost) FROM cost_rows "
        "GROUP BY 1 ORDER BY 1"
    )
    assert by_month == [("2026-01", Decimal("12.5")), ("2026-02", Decimal("3"))]
    assert world.query("SELECT count(*) FROM cost_rows WHERE charge_class = 'Correction'") == [(1,)]


def test_azure_latest_run_of_a_period_wins(world):
    export = world.root / "costexports/focus-monthly"
    azure_delivery(export, "2026-01", [[charge("1")]], "run-a", "2026-01-05T02:00:00Z")
    azure_delivery(
        export,
        "2026-01",
        [[charge("1"), charge("2")], [charge("4")]],
        "run-b",
        "2026-01-06T02:00:00Z",
    )
    azure_delivery(
        export,
        "2026-02",
        [[charge("8", start="2026-02-01 00:00:00", period="2026-02")]],
        "run-c",
        "2026-02-02T02:00:00Z",
    )
    world.config(path="costexports")
    stats = world.sync()
    assert world.query(TOTAL) == [(Decimal("15"), 4)]
    assert stats.reads["superseded"] == 1


def test_plain_file_rewritten_in_place_replaces_its_rows(world):
    path = write_csv(world.root / "bill.csv", [charge("1"), charge("2")])
    world.config(path="bill.csv")
    world.sync()
    write_csv(path, [charge("2.5")])
    touch_later(path)
    world.sync()
    assert world.query(TOTAL) == [(Decimal("2.5"), 1)]


def test_a_manifest_naming_a_missing_file_is_an_error_and_changes_nothing(world):
    export = world.root / "exports/e"
    aws_delivery(export, "2026-01", [[charge("1")]], "x1")
    world.config(path="exports/e")
    world.sync()
    before = world.snapshot()
    files = aws_delivery(export, "2026-01", [[charge("9")]], "x2")
    files[0].unlink()
    with pytest.raises(Exception, match=r"Manifest.json: lists .*not at"):
        world.sync()
    assert world.snapshot() == before


def test_mlreport_sql_reads_the_cost_view_in_its_sandbox(world):
    from click.testing import CliRunner

    from mlreport.cli import cli

    write_csv(world.root / "bill.csv", [charge("1.25", tags={"ml-model": "m"})])
    world.config(path="bill.csv", entity_tag="ml-model")
    world.sync()
    config = str(world.root / "mlreport.toml")
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            config,
            "sql",
            "SELECT entity, effective_cost FROM cost_rows",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"entity": "m", "effective_cost": "1.2500000000"}]
    # the sandbox still refuses every other file
    other = world.root / "other.csv"
    other.write_text("a\n1\n")
    result = CliRunner().invoke(cli, ["--config", config, "sql", f"SELECT * FROM '{other}'"])
    assert result.exit_code != 0


def test_two_focus_sources_share_cost_rows_and_a_failing_one_keeps_the_other(world):
    write_csv(world.root / "aws.csv", [charge("1", tags={"ml-model": "a"})])
    write_csv(world.root / "gcp.csv", [charge("2", tags={"ml-model": "b"}, currency="EUR")])
    extra = (
        '\n[[sources]]\nname = "gcp"\ntype = "focus"\npath = "gcp.csv"\nentity_tag = "ml-model"\n'
    )
    world.config(extra=extra, path="aws.csv", entity_tag="ml-model")
    from mlreport.config import load_config
    from mlreport.pipeline import sync_all
    from mlreport.warehouse import Warehouse

    config = load_config(world.root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        sync_all(wh, config, fail_fast=True)
    got = world.query("SELECT source, entity, currency, effective_cost FROM cost_rows ORDER BY 1")
    assert got == [("billing", "a", "USD", Decimal("1")), ("gcp", "b", "EUR", Decimal("2"))]
    # a later bad delivery of one source fails that source alone, recorded in source_status
    write_csv(world.root / "gcp.csv", [charge("x")])
    with Warehouse(config.warehouse.path) as wh:
        results = sync_all(wh, config)
    assert [r.error is None for r in results] == [True, False]
    (error,) = world.query("SELECT error FROM source_status WHERE source = 'gcp'")[0]
    assert "gcp.csv: line 2, column BilledCost" in error


def test_file_names_with_glob_characters_and_quotes_name_exactly_one_file(world):
    odd = world.root / "bills [eu]*" / "it's?.csv"
    write_csv(odd, [charge("3")])
    write_csv(world.root / "bills [eu]*" / "its1.csv", [charge("100")])  # what a glob would add
    world.config(path=str(odd))
    world.sync()
    assert world.query(TOTAL) == [(Decimal("3"), 1)]
