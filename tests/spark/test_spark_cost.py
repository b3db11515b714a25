"""The cost family's group-by on Spark: the same FOCUS Parquet exports synced with
``engine = "spark"`` and with DuckDB give every ``cost`` figure equal (DECIMAL sums, so
exactly), with tag keys spelt with spaces, a second key, globs and a ``[...]`` class in
``entity_map``, shared costs split evenly, credits, corrections, two currencies and FOCUS 1.0
and 1.2 files together; an unreachable master or a CSV export fails the sync naming the source,
and nothing stored changes."""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlreport.config import load_config
from mlreport.metrics import Window, compute_metrics
from mlreport.pipeline import sync_all
from mlreport.warehouse import Warehouse
from tests.focus.builder import FocusWorld, aws_delivery, charge, write_csv, write_parquet
from tests.spark.conftest import spark_settings
from tests.spark.connect import free_port

pytestmark = pytest.mark.xdist_group("spark")

JAN = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
FEB = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
WINDOWS = [JAN, FEB, Window(JAN.start, FEB.end)]  # overlapping: a row counts in two windows
MAPPING = '[sources.entity_map]\n"gpu-pool-*" = "recsys"\n"platform" = "shared"\n"x[ab]?" = "xab"\n'


def rows_for(period: str) -> list[dict]:
    day = f"{period}-05 10:00:00"
    late = f"{period}-27 23:59:59"
    return [
        charge("10.5", tags={"ml-model": "fraud"}, start=day, period=period, list_cost="12"),
        charge("4.25", tags={" ml-model ": "fraud"}, start=late, period=period, category="Storage"),
        charge("-1.5", tags={"ml-model": "fraud"}, start=day, period=period, billed="0"),  # credit
        charge(
            "-0.3333333333",
            tags={"ml-model": "fraud"},
            start=day,
            period=period,
            charge_class="Correction",
        ),
        charge("7", tags={"team": "churn"}, start=day, period=period),  # second key
        charge(
            "3",
            tags={"ml-model": "gpu-pool-a"},
            start=day,
            period=period,
            category="AI and Machine Learning",
        ),
        charge("0.0000000001", tags={"ml-model": "xb1"}, start=day, period=period),  # [..] class
        charge("123456789.1234567891", tags={"ml-model": "xc1"}, start=day, period=period),
        charge("6", tags={"ml-model": "platform"}, start=day, period=period, category="Networking"),
        charge("2.75", tags=None, start=day, period=period),  # untagged
        charge("1", tags={"other": "ml-model"}, start=day, period=period),  # key only as a value
    ]


def make_exports(root: Path) -> None:
    export = root / "exports/focus"
    jan = rows_for("2026-01")
    aws_delivery(export, "2026-01", [jan[:5], jan[5:]], "e1")
    aws_delivery(export, "2026-02", [rows_for("2026-02")], "e2")
    eur = [
        charge("100", tags={"ml-model": "fraud"}, currency="EUR", start="2026-01-09 00:00:00"),
        charge(
            "-20.05",
            tags={"team": "churn"},
            currency="EUR",
            start="2026-02-09 00:00:00",
            period="2026-02",
        ),
    ]
    write_parquet(root / "eur/bill.parquet", eur, version="1.0")


def configure(root: Path, engine: str, spark: str = "", path=("exports/focus", "eur")) -> Path:
    extra = MAPPING
    if engine == "spark":
        extra += f"[sources.spark]\n{spark}\n"
    return FocusWorld(root).config(
        extra=extra,
        path=list(path),
        entity_tag=["ml-model", "team"],
        shared_split="even",
        engine=engine,
    )


def cost_metrics(root: Path) -> dict:
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        frame = compute_metrics(wh, config, WINDOWS, "cost.*", store=False)
    return {
        (r["metric"], r["entity"], r["window_start"], r["window_end"], r["dimensions"]): (
            r["value"],
            r["n"],
        )
        for r in frame.to_dicts()
    }


@pytest.fixture(scope="module")
def worlds(spark_root: Path) -> dict:
    out = {}
    for engine in ("duckdb", "spark"):
        root = spark_root / f"cost-{engine}"
        make_exports(root)
        configure(root, engine, spark_settings(spark_root))
        stats = FocusWorld(root).sync()
        assert stats.error is None
        out[engine] = root
    return out


def assert_same_costs(got: dict, want: dict) -> None:
    """Amounts (DECIMAL sums) exactly equal; the float ratios of those sums at rtol 1e-12, since
    polars adds the partial sums in no promised order."""
    assert got.keys() == want.keys()
    for key, (value, n) in want.items():
        assert got[key][1] == n, key
        if key[0].endswith(("_share", "per_1k_predictions")):  # float ratios of the sums
            assert math.isclose(got[key][0], value, rel_tol=1e-12, abs_tol=0), key
        else:  # DECIMAL sums: exactly the same amounts, not merely close
            assert got[key][0] == value, key


def test_every_cost_figure_is_equal_on_spark_and_duckdb(worlds):
    want, got = cost_metrics(worlds["duckdb"]), cost_metrics(worlds["spark"])
    assert_same_costs(got, want)
    metrics = {k[0] for k in want}
    assert {"cost.total", "cost.shared", "cost.unattributed", "cost.savings"} <= metrics
    usd = json.dumps({"currency": "USD"}, separators=(",", ":"))
    eur = json.dumps({"currency": "EUR"}, separators=(",", ":"))
    # fraud in January: 10.5 + 4.25 - 1.5 - 0.3333333333 direct, plus the shared 6 split
    # evenly over the 5 entities with USD cost (fraud, churn, recsys, xab, xc1)
    total = want[("cost.total", "fraud", JAN.start, JAN.end, usd)][0]
    assert total == pytest.approx(12.9166666667 + 6 / 5, abs=1e-9)
    assert want[("cost.total", "fraud", JAN.start, JAN.end, eur)][0] == 100.0
    assert want[("cost.total", "churn", FEB.start, FEB.end, eur)][0] == -20.05
    assert ("cost.total", "xab", JAN.start, JAN.end, usd) in want  # the [..] class matched
    both = want[("cost.total", "churn", JAN.start, FEB.end, usd)][0]
    assert both == want[("cost.total", "churn", JAN.start, JAN.end, usd)][0] * 2


def test_the_spark_group_by_reads_only_the_fingerprinted_files(worlds):
    """Spark reads the files of ``cost_exports``; DuckDB's part of ``cost_rows`` leaves them."""
    from mlreport.connectors.focus.scans import view_scan
    from mlreport.sources import source_options

    root = worlds["spark"]
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path, read_only=True) as wh:
        (files,) = wh.con.execute("SELECT files FROM cost_exports").fetchone()
        scan = view_scan(wh, "billing", source_options(config, "focus")["billing"])
        assert scan is not None
        plan = wh.con.execute(
            "EXPLAIN SELECT count(*) FROM (SELECT * FROM cost_rows WHERE source NOT IN (?))",
            ["billing"],
        ).fetchall()
    assert sorted(scan.files) == sorted(f["path"] for f in json.loads(files))
    assert len(scan.files) == 4
    assert "parquet" not in "\n".join(r[1] for r in plan).lower()  # DuckDB prunes the branch


@pytest.mark.parametrize(
    "pattern", ["x[ab]?", "gpu-pool-*", "[!a-c]*", "a.b\\*c", "*(x)+[?]", "[]]*", "%_*"]
)
def test_glob_patterns_match_on_spark_as_in_duckdb(worlds, spark_root, pattern):
    """``GLOB`` (entity_map patterns with a ``[...]`` class) runs on Spark as ``RLIKE``."""
    import duckdb

    from mlreport.connectors.predictions.options import SparkOptions
    from mlreport.connectors.spark.session import get_session
    from mlreport.connectors.spark.translate import to_spark

    words = [
        "xa1",
        "xb",
        "xc1",
        "gpu-pool-a",
        "gpu-pool-",
        "d",
        "a",
        "a.b*c",
        "a.bxc",
        "a\nb",
        "(x)+?",
        "(x)+a",
        "]",
        "]x",
        "%_",
        "_%x",
        "",
    ]
    sql = "SELECT w FROM (SELECT unnest(?::VARCHAR[]) AS w) WHERE w GLOB ? ORDER BY w"
    want = [r[0] for r in duckdb.connect().execute(sql, [words, pattern]).fetchall()]
    opts = SparkOptions.model_validate(tomllib.loads(spark_settings(spark_root)))
    session = get_session(opts, "test")  # the one session of the test run
    got = sorted(r[0] for r in session.sql(to_spark(sql, [words, pattern])).collect())
    assert got == sorted(want)


def _snapshot(root: Path) -> dict:
    return FocusWorld(root).snapshot()


def _sync(root: Path):
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        return sync_all(wh, config)[0]


def test_an_unreachable_master_fails_the_sync_and_keeps_what_was_stored(worlds, tmp_path):
    shutil.copytree(worlds["spark"], tmp_path / "w")
    root = tmp_path / "w"
    before = _snapshot(root)
    port = free_port()
    configure(root, "spark", f'master = "spark://127.0.0.1:{port}"\nconnect_timeout = 2')
    write_parquet(root / "eur/more.parquet", [charge("5", currency="EUR")], version="1.0")
    stats = _sync(root)
    assert f"Spark master spark://127.0.0.1:{port} does not answer" in stats.error
    assert "source 'billing': spark" in stats.error
    assert _snapshot(root) == before


def test_a_csv_export_is_refused_on_spark_naming_the_file(worlds, tmp_path, spark_root):
    shutil.copytree(worlds["spark"], tmp_path / "w")
    root = tmp_path / "w"
    before = _snapshot(root)
    bad = write_csv(root / "eur/late.csv", [charge("5", currency="EUR")])
    configure(root, "spark", spark_settings(spark_root))
    stats = _sync(root)
    assert f"{bad} is CSV" in stats.error
    assert "sources.billing.engine" in stats.error
    assert _snapshot(root) == before


def test_an_unreachable_master_fails_the_metrics_run_and_stores_nothing(worlds, tmp_path):
    from mlreport.engines import EngineError

    shutil.copytree(worlds["spark"], tmp_path / "w")
    root = tmp_path / "w"
    port = free_port()
    configure(root, "spark", f'master = "spark://127.0.0.1:{port}"\nconnect_timeout = 2')
    config = load_config(root / "mlreport.toml")
    with Warehouse(config.warehouse.path) as wh:
        before = wh.con.execute("SELECT count(*) FROM metric_values").fetchall()
        with pytest.raises(EngineError, match=f"spark://127.0.0.1:{port} does not answer"):
            compute_metrics(wh, config, WINDOWS, "cost.*")
        assert wh.con.execute("SELECT count(*) FROM metric_values").fetchall() == before


def test_a_spark_source_not_synced_yet_adds_nothing(worlds, tmp_path, spark_root):
    shutil.copytree(worlds["duckdb"], tmp_path / "w")
    root = tmp_path / "w"
    write_parquet(root / "later/bill.parquet", [charge("5", tags={"ml-model": "fraud"})])
    configure(root, "duckdb")
    later = (
        '\n[[sources]]\nname = "later"\ntype = "focus"\npath = "later"\nengine = "spark"\n'
        f"[sources.spark]\n{spark_settings(spark_root)}\n"
    )
    with (root / "mlreport.toml").open("a") as f:
        f.write(later)
    assert_same_costs(cost_metrics(root), cost_metrics(worlds["duckdb"]))
