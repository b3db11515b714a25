"""The heavy scans on Apache Spark give the numbers DuckDB gives: the same Parquet logs synced
twice, once with ``engine = "spark"`` (a real ``local[2]`` session, and a real Spark Connect
server), every metric value compared (counts exactly, floats at rtol 1e-12)."""

from __future__ import annotations

import json
import math
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.config import parse_config
from mlreport.connectors.predictions.options import SparkOptions
from mlreport.connectors.spark.session import stop
from mlreport.engines import EngineError, make_engine
from mlreport.metrics import Window, compute_metrics
from mlreport.pipeline import sync_all
from mlreport.plugins.fairness_counts import FairnessSpec, fairness_rows
from mlreport.prediction_logs import prediction_logs
from mlreport.warehouse import Warehouse
from tests.fairness.reference import reference
from tests.spark.conftest import spark_settings
from tests.spark.connect import connect_server, free_port
from tests.spark.logs import START, config_text, make_logs

pytestmark = pytest.mark.xdist_group("spark")

WINDOWS = [
    Window(START - timedelta(days=21), START + timedelta(days=12)),
    Window(START + timedelta(days=12), START + timedelta(days=63)),
]
COMPAS = Path(__file__).resolve().parents[3] / "shared/data/compas/compas_two_years.csv"


def synced(root: Path, engine: str, spark: str = "", name: str = "") -> tuple[Warehouse, object]:
    text = config_text(root, engine, spark)
    path = root / f"{name or engine}.toml"
    path.write_text(text)
    config = parse_config(text, path, root)
    wh = Warehouse(root / f"wh-{name or engine}.duckdb")
    for stats in sync_all(wh, config, fail_fast=True):
        assert stats.error is None
    return wh, config


def keyed(frame) -> dict:
    return {
        (r["metric"], r["entity"], r["window_start"], r["dimensions"]): (r["value"], r["n"])
        for r in frame.to_dicts()
    }


def assert_same_values(want: dict, got: dict) -> None:
    assert got.keys() == want.keys()
    for key, (value, n) in want.items():
        other, other_n = got[key]
        assert other_n == n, key
        if value is None or other is None:
            assert value is None and other is None, key
        elif float(value).is_integer() and key[0].endswith(("count", "rows", "categories")):
            assert other == value, key
        else:
            assert math.isclose(other, value, rel_tol=1e-12, abs_tol=0), (key, value, other)


@pytest.fixture(scope="module")
def world(spark_root: Path) -> dict:
    root = spark_root / "world"
    make_logs(root)
    duck, duck_config = synced(root, "duckdb")
    spark, spark_config = synced(root, "spark", spark_settings(spark_root))
    out = {
        "root": root,
        "duckdb": compute_metrics(duck, duck_config, WINDOWS, "*"),
        "duck_wh": duck,
        "spark_wh": spark,
        "spark_config": spark_config,
    }
    yield out
    duck.close()
    spark.close()


def test_every_metric_equal_on_spark_and_duckdb(world):
    spark = compute_metrics(world["spark_wh"], world["spark_config"], WINDOWS, "*")
    want, got = keyed(world["duckdb"]), keyed(spark)
    families = {k[0].split(".")[0] for k in want}
    assert {"performance", "fairness", "drift"} <= families
    metrics = {k[0] for k in want}
    for name in ("performance.roc_auc", "performance.log_loss", "performance.r2", "drift.psi"):
        assert name in metrics
    assert {"drift.ks", "drift.wasserstein", "drift.jensen_shannon"} <= metrics
    assert {"fairness.equalized_odds_ratio", "fairness.tpr"} <= metrics
    assert {"monitoring.coverage", "monitoring.label_lag_hours"} <= metrics
    assert any(v is not None for k, (v, _) in want.items() if k[0] == "performance.roc_auc")
    assert_same_values(want, got)
    # monitoring: whole days, counts and exact order statistics: equal, not merely close
    monitoring = {k: v for k, v in want.items() if k[0].startswith("monitoring.")}
    assert monitoring and all(got[k] == v for k, v in monitoring.items())


def test_the_manifest_names_the_same_fingerprinted_files(world):
    def files(wh):
        return [
            json.loads(r[0])
            for r in wh.con.execute("SELECT files FROM prediction_logs ORDER BY log").fetchall()
        ]

    duck, spark = files(world["duck_wh"]), files(world["spark_wh"])
    assert duck == spark
    assert all(len(f["sha256"]) == 64 for log in spark for f in log)


def test_queries_with_hostile_and_exact_parameters_round_trip(world):
    log = prediction_logs(world["spark_wh"])[0]
    engine = make_engine(
        "spark", log, world["spark_config"].source(log.log).options, world["spark_wh"]
    )
    hostile = "x' OR 1=1 --\\'; DROP TABLE t; <script>\u00e9"
    floats = [0.1, 1e-300, 2.2250738585072014e-308, 1 / 3, -0.0, float("inf")]
    sql = "SELECT ? AS s, " + ", ".join(f"? AS f{i}" for i in range(len(floats)))
    row = engine.execute(sql, [hostile, *floats]).fetchone()
    assert row[0] == hostile
    assert list(row[1:]) == floats
    (nan,) = engine.execute("SELECT ? AS x", [float("nan")]).fetchone()
    assert math.isnan(nan)
    sql, params = log.window(WINDOWS[0])
    (n,) = engine.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
    (want,) = world["duck_wh"].con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
    assert n == want > 0


@pytest.fixture(scope="module")
def catalog_table(world) -> str:
    """An external catalog table over the log's Parquet files."""
    log = prediction_logs(world["spark_wh"])[0]
    engine = make_engine(
        "spark", log, world["spark_config"].source(log.log).options, world["spark_wh"]
    )
    engine.run(
        f"CREATE TABLE IF NOT EXISTS default.credit_log USING parquet "
        f"LOCATION '{(world['root'] / 'logs').as_uri()}'"
    )
    return "default.credit_log"


def test_a_catalog_table_gives_the_same_numbers(world, spark_root, catalog_table):
    root = world["root"]
    text = config_text(root, "spark", spark_settings(spark_root)).replace(
        f'path = "{root}/logs/*.parquet"\nentity = "credit-risk"',
        'table = "default.credit_log"\nentity = "credit-risk"',
    )
    assert 'table = "default.credit_log"' in text
    path = root / "table.toml"
    path.write_text(text)
    config = parse_config(text, path, root)
    wh = Warehouse(root / "wh-table.duckdb")
    assert sync_all(wh, config, ["credit"], fail_fast=True)[0].error is None
    (files,) = wh.con.execute("SELECT files FROM prediction_logs").fetchone()
    (entry,) = json.loads(files)
    assert entry["table"] == "default.credit_log"
    assert sorted(Path(f["path"]).name for f in entry["files"]) == [
        "part-0.parquet",
        "part-1.parquet",
        "part-2.parquet",
    ]
    assert all(f["bytes"] > 0 for f in entry["files"])
    (rows,) = wh.con.execute("SELECT row_count FROM prediction_logs").fetchone()
    assert rows == 2400
    got = keyed(compute_metrics(wh, config, WINDOWS, ["performance.*", "fairness.*"]))
    want = {
        k: v
        for k, v in keyed(world["duckdb"]).items()
        if k[1] == "credit-risk" and k[0].split(".")[0] in ("performance", "fairness")
    }
    assert_same_values(want, got)
    wh.close()


@pytest.mark.skipif(not COMPAS.exists(), reason=f"shared COMPAS data absent: {COMPAS}")
def test_compas_on_spark_equals_fairlearn(world):
    con = duckdb.connect()
    table = con.sql("SELECT * FROM read_csv(?)", params=[str(COMPAS)]).to_arrow_table()
    log = prediction_logs(world["spark_wh"])[0]
    engine = make_engine(
        "spark", log, world["spark_config"].source(log.log).options, world["spark_wh"]
    )
    engine.session.createDataFrame(table).createOrReplaceTempView("compas")
    raw = con.sql(
        "SELECT race, sex, two_year_recid AS label, decile_score >= 5 AS prediction "
        "FROM read_csv(?)",
        params=[str(COMPAS)],
    ).fetchall()
    rows = [dict(zip(("race", "sex", "label", "prediction"), r, strict=True)) for r in raw]
    spec = FairnessSpec(
        "compas",
        {"race": "race", "sex": "sex"},
        label="two_year_recid",
        prediction="decile_score >= 5",
        groupings=[("race",), ("sex",), ("race", "sex")],
    )
    out = fairness_rows(engine, spec)
    con.execute("CREATE TABLE compas AS SELECT * FROM read_csv(?)", [str(COMPAS)])
    local = fairness_rows(con, spec)
    assert [(r["feature"], r["group"], r["metric"], r["n"]) for r in out] == [
        (r["feature"], r["group"], r["metric"], r["n"]) for r in local
    ]
    for names in spec.resolved_groupings():
        values, summaries = reference(rows, names, "label", "prediction")
        got = {
            (r["group"], r["metric"]): r["value"]
            for r in out
            if r["feature"] == " & ".join(names) and r["group"] is not None
        }
        assert got.keys() == values.keys()
        assert all(
            math.isclose(got[k], v, rel_tol=1e-12) or (math.isnan(v) and math.isnan(got[k]))
            for k, v in values.items()
        )


def test_spark_connect_gives_the_same_numbers(world, spark_root):
    root = world["root"]
    workdir = spark_root / "connect"
    workdir.mkdir()
    with connect_server(workdir) as url:
        try:
            wh, config = synced(root, "spark", f'remote = "{url}"', name="connect")
            patterns = ["performance.*", "fairness.*", "drift.psi", "drift.ks"]
            got = keyed(compute_metrics(wh, config, WINDOWS[:1], patterns))
            wh.close()
        finally:
            stop(SparkOptions(remote=url))
    want = {
        k: v
        for k, v in keyed(world["duckdb"]).items()
        if k[2] == WINDOWS[0].start
        and (k[0].startswith(("performance.", "fairness.")) or k[0] in ("drift.psi", "drift.ks"))
    }
    assert_same_values(want, got)


def _snapshot(wh_path: Path) -> list:
    with Warehouse(wh_path) as wh:
        return wh.con.execute("SELECT * FROM prediction_logs ORDER BY log").fetchall()


@pytest.mark.parametrize(
    "spark, message",
    [
        ('remote = "sc://127.0.0.1:{port}"', "Spark Connect sc://127.0.0.1:{port} does not answer"),
        ('master = "spark://127.0.0.1:{port}"', "Spark master spark://127.0.0.1:{port} does not"),
    ],
)
def test_an_unreachable_spark_fails_the_sync_and_keeps_what_was_stored(
    world, tmp_path, spark, message
):
    port = free_port()
    shutil.copy(world["root"] / "wh-spark.duckdb", tmp_path / "wh.duckdb")
    before = _snapshot(tmp_path / "wh.duckdb")
    text = config_text(world["root"], "spark", spark.format(port=port))
    config = parse_config(text, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        (stats, _) = sync_all(wh, config)
    assert message.format(port=port) in stats.error
    assert "source 'credit': spark" in stats.error
    assert _snapshot(tmp_path / "wh.duckdb") == before


def test_a_missing_table_or_column_is_named(world, spark_root, tmp_path, catalog_table):
    base = config_text(world["root"], "spark", spark_settings(spark_root))
    path_line = f'path = "{world["root"]}/logs/*.parquet"\nentity = "credit-risk"'
    missing = base.replace(path_line, 'table = "default.nope"\nentity = "credit-risk"')
    config = parse_config(missing, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        stats = sync_all(wh, config, ["credit"])[0]
        assert "source 'credit': table: Spark cannot read table 'default.nope'" in stats.error
        assert wh.con.execute("SELECT count(*) FROM prediction_logs").fetchone() == (0,)
    wrong = base.replace(path_line, 'table = "default.credit_log"\nentity = "credit-risk"').replace(
        'score = "p"', 'score = "p_default"', 1
    )
    config = parse_config(wrong, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "wh2.duckdb") as wh:
        stats = sync_all(wh, config, ["credit"])[0]
    assert "columns.score = 'p_default'" in stats.error
    assert "table 'default.credit_log' on Spark" in stats.error


def test_without_pyspark_the_error_says_what_to_install(world, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    text = config_text(world["root"], "spark", 'master = "local[1]"')
    config = parse_config(text, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        stats = sync_all(wh, config, ["credit"])[0]
    assert "pip install 'mlreport[spark]'" in stats.error
    with pytest.raises(EngineError, match=r"pip install 'mlreport\[spark\]'"):
        make_engine(
            "spark",
            prediction_logs(world["spark_wh"])[0],
            {"spark": {"master": "local[1]"}},
            world["spark_wh"],
        )


def test_doctor_checks_the_connection_and_the_schema(world, spark_root):
    root = world["root"]
    result = CliRunner().invoke(cli, ["--config", str(root / "spark.toml"), "doctor"])
    assert "source credit: 3 file(s); reads on spark with the warehouse's columns" in (
        result.output
    )
    assert "source amounts: 3 file(s); reads on spark" in result.output
    bad = root / "bad.toml"
    bad.write_text(config_text(root, "spark", f'remote = "sc://127.0.0.1:{free_port()}"'))
    result = CliRunner().invoke(cli, ["--config", str(bad), "doctor"])
    assert result.exit_code == 2
    assert "does not answer" in result.output


def test_the_exact_drift_path_on_spark_equals_duckdb(world):
    """The fallback for columns the binned engine cannot answer: sorted ECDF (the window form
    on Spark), order-statistic deciles, counts at edges."""
    from mlreport.plugins.drift.exact import ecdf_stats, edge_counts, exact_deciles
    from mlreport.plugins.drift.sql import usable_columns

    log = prediction_logs(world["spark_wh"])[0]
    engine = make_engine(
        "spark", log, world["spark_config"].source(log.log).options, world["spark_wh"]
    )
    ref, cur = log.reference(), log.window(WINDOWS[1])
    for con in (engine, world["duck_wh"].con):
        stats = ecdf_stats(con, ref, cur, "income")
        src, params = usable_columns(ref, ["income"])
        deciles = exact_deciles(con, src, params, [stats[0]])
        counts = edge_counts(con, cur, ["income"], deciles)
        if con is engine:
            on_spark = (stats, deciles, counts)
    assert on_spark[1] == deciles and on_spark[2] == counts
    assert on_spark[0][:2] == stats[:2]
    assert math.isclose(on_spark[0][2], stats[2], rel_tol=1e-12)
    assert math.isclose(on_spark[0][3], stats[3], rel_tol=1e-12)
