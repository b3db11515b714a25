"""The view contract: columns, types, values, reference views, inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl

from mlreport.config import parse_config
from mlreport.connectors import predictions as predictions_module
from mlreport.connectors.predictions.source import PredictionsSource
from mlreport.sources import sync_source
from mlreport.warehouse import Warehouse
from tests.predictions.conftest import BASE_OPTIONS, START, build, json_to_toml, log_frame

CANONICAL_TYPES = [
    ("log", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("model_version", "VARCHAR"),
    ("ts", "TIMESTAMP WITH TIME ZONE"),
    ("prediction", "DOUBLE"),
    ("score", "DOUBLE"),
    ("label", "DOUBLE"),
]
FEATURE_TYPES = [
    ("income", "DOUBLE"),
    ("debt_ratio", "DOUBLE"),
    ("region", "VARCHAR"),
    ("sex", "VARCHAR"),
    ("age_band", "VARCHAR"),
]


def test_view_columns_types_and_values(world):
    frame = log_frame(20)
    world.parquet("preds/a.parquet", frame)
    stats = world.sync(path="preds/*.parquet")
    assert stats.streams["logs"].rows == 1
    assert world.describe("predictions__credit-predictions") == CANONICAL_TYPES + FEATURE_TYPES
    rows = world.query('SELECT * FROM "predictions__credit-predictions" ORDER BY ts')
    assert len(rows) == 20
    first = rows[0]
    assert first[:7] == (
        "credit-predictions",
        "credit-risk",
        "v1",
        START,
        0.0,
        0.0,
        1.0,
    )
    assert first[7:] == (1000.0, 0.0, "north", "F", "18-25")
    expected_pred = [float(p >= 0.5) for p in frame["p_default"]]
    assert [r[4] for r in rows] == expected_pred
    assert [r[6] for r in rows] == [float(x) for x in frame["defaulted"]]


def test_prediction_logs_row(world):
    path = world.parquet("preds/a.parquet", log_frame(20))
    world.sync(path="preds/*.parquet")
    row = world.log_row()
    assert row["entity"] == "credit-risk"
    assert row["task"] == "classification"
    assert row["view_name"] == "predictions__credit-predictions"
    assert row["reference_view"] is None and row["reference_kind"] is None
    assert row["numeric_features"] == ["income", "debt_ratio"]
    assert row["categorical_features"] == ["region"]
    assert row["sensitive_features"] == ["sex", "age_band"]
    assert json.loads(row["intersections"]) == [["sex", "age_band"]]
    assert json.loads(row["shap_columns"]) == {}
    files = json.loads(row["files"])
    import hashlib

    assert files == [
        {
            "path": str(path),
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    ]
    assert row["row_count"] == 20
    assert row["source"] == "credit-predictions"
    kinds = world.query("SELECT name, kind, declared FROM entities")
    assert kinds == [("credit-risk", "model", False)]


def test_unmapped_optional_columns_are_null(world):
    world.parquet("a.parquet", log_frame(5))
    world.sync(
        path="a.parquet",
        task="regression",
        columns={"timestamp": "ts", "prediction": "p_default"},
        features={},
    )
    assert world.describe("predictions__credit-predictions") == CANONICAL_TYPES
    rows = world.query('SELECT model_version, score, label FROM "predictions__credit-predictions"')
    assert rows == [(None, None, None)] * 5


def test_where_filters_on_the_logs_columns(world):
    world.parquet("a.parquet", log_frame(48))
    world.sync(path="a.parquet", where="ts >= TIMESTAMPTZ '2026-01-02' AND region <> 'east'")
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 16
    assert world.log_row()["row_count"] == 16


def test_reference_as_window(world):
    world.parquet("a.parquet", log_frame(48))
    world.sync(path="a.parquet", reference={"since": "2026-01-01T06:00:00Z", "until": "2026-01-02"})
    row = world.log_row()
    assert row["reference_kind"] == "window"
    assert row["reference_view"] == "predictions_reference__credit-predictions"
    assert row["reference_since"] == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert row["reference_until"] == datetime(2026, 1, 2, tzinfo=UTC)
    assert row["reference_files"] is None
    ref = "predictions_reference__credit-predictions"
    assert world.describe(ref) == CANONICAL_TYPES + FEATURE_TYPES
    lo, hi, n = world.query(f'SELECT min(ts), max(ts), count(*) FROM "{ref}"')[0]
    assert (lo, hi, n) == (
        datetime(2026, 1, 1, 6, tzinfo=UTC),
        datetime(2026, 1, 1, 23, tzinfo=UTC),
        18,
    )


def test_reference_window_as_toml_dates(world):
    world.parquet("a.parquet", log_frame(48))

    config = parse_config(
        '[[sources]]\nname = "p"\ntype = "predictions"\npath = "a.parquet"\n'
        'entity = "m"\ntask = "regression"\n'
        '[sources.columns]\ntimestamp = "ts"\nprediction = "p_default"\n'
        "[sources.reference]\nsince = 2026-01-01\nuntil = 2026-01-02T00:00:00Z\n",
        None,
        world.root,
    )
    with Warehouse(world.warehouse_path) as wh:
        sync_source(wh, build(config)[0])
    row = world.log_row("p")
    assert row["reference_since"] == datetime(2026, 1, 1, tzinfo=UTC)
    (n,) = world.query('SELECT count(*) FROM "predictions_reference__p"')[0]
    assert n == 24


def test_reference_as_files_mapped_the_same_way(world):
    world.parquet("prod/a.parquet", log_frame(30))
    ref = world.csv("validation.csv", log_frame(12, seed=3))
    world.sync(path="prod/*.parquet", reference={"path": "validation.csv"}, where="income > 1010")
    row = world.log_row()
    assert row["reference_kind"] == "files"
    assert row["reference_since"] is None
    assert [f["path"] for f in json.loads(row["reference_files"])] == [str(ref)]
    view = "predictions_reference__credit-predictions"
    assert world.describe(view) == CANONICAL_TYPES + FEATURE_TYPES
    rows = world.query(f'SELECT income, label FROM "{view}" ORDER BY ts')
    assert [r[0] for r in rows] == [1000.0 + 10 * i for i in range(2, 12)]


def test_csv_log_with_text_times(world):
    frame = log_frame(10).with_columns(
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S+01:00").alias("logged_at")
    )
    world.csv("a.csv", frame.drop("ts"))
    world.sync(path="a.csv", columns={**_cols(), "timestamp": "logged_at"})
    assert world.describe("predictions__credit-predictions")[:7] == CANONICAL_TYPES
    (first,) = world.query('SELECT min(ts) FROM "predictions__credit-predictions"')[0]
    assert first == datetime(2025, 12, 31, 23, tzinfo=UTC)


def test_naive_timestamps_are_utc(world):
    frame = log_frame(3).with_columns(pl.col("ts").dt.replace_time_zone(None))
    world.parquet("a.parquet", frame)
    world.sync(path="a.parquet")
    (first,) = world.query('SELECT min(ts) FROM "predictions__credit-predictions"')[0]
    assert first == START


def test_duckdb_table_input(world):
    db = world.root / "logs.duckdb"
    con = duckdb.connect(str(db))
    frame = log_frame(15)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE TABLE \"Preds 'x'\" AS SELECT * FROM frame")
    con.close()
    world.sync(database="logs.duckdb", table="Preds 'x'")
    assert world.describe("predictions__credit-predictions") == CANONICAL_TYPES + FEATURE_TYPES
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 15
    files = json.loads(world.log_row()["files"])
    assert [f["path"] for f in files] == [str(db)]


def test_glob_of_many_files_lists_each_file(world):
    paths = [
        world.parquet(
            f"preds/day={i:02d}/part.parquet", log_frame(4, start=START.replace(day=i + 1))
        )
        for i in range(25)
    ]
    world.sync(path="preds/**/*.parquet")
    row = world.log_row()
    assert [f["path"] for f in json.loads(row["files"])] == [str(p) for p in paths]
    assert row["row_count"] == 100
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 100
    # A file added later is not in the view until the next sync fingerprints it.
    world.parquet("preds/day=99/part.parquet", log_frame(4))
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 100


def test_list_of_globs(world):
    world.parquet("a/1.parquet", log_frame(3))
    world.parquet("b/2.parquet", log_frame(4))
    world.sync(path=["a/*.parquet", "b/2.parquet"])
    assert world.log_row()["row_count"] == 7


def test_canonical_view_unions_every_log(world):
    world.parquet("a.parquet", log_frame(5))
    world.parquet("b.parquet", log_frame(7))
    world.sync_many(
        [
            {"name": "alpha", **_base(path="a.parquet")},
            {"name": "beta", **_base(path="b.parquet", entity="other-model")},
        ]
    )
    assert world.describe("predictions") == CANONICAL_TYPES
    rows = world.query("SELECT log, entity, count(*) FROM predictions GROUP BY ALL ORDER BY 1")
    assert rows == [("alpha", "credit-risk", 5), ("beta", "other-model", 7)]
    # Syncing one log again keeps the other in the canonical view.
    world.sync_many([{"name": "alpha", **_base(path="a.parquet")}])
    rows = world.query("SELECT log, count(*) FROM predictions GROUP BY ALL ORDER BY 1")
    assert rows == [("alpha", 5), ("beta", 7)]


def test_logged_shap_columns(world):
    frame = log_frame(6).with_columns(
        (pl.col("income") / 1000).alias("shap_income"),
        pl.lit(0.25).alias("shap_region"),
    )
    world.parquet("a.parquet", frame)
    world.sync(path="a.parquet", explain={"shap_prefix": "shap_", "features": ["income", "region"]})
    cols = world.describe("predictions__credit-predictions")
    assert cols[-2:] == [("shap__income", "DOUBLE"), ("shap__region", "DOUBLE")]
    assert json.loads(world.log_row()["shap_columns"]) == {
        "income": "shap__income",
        "region": "shap__region",
    }


def test_view_reads_files_in_place(world):
    """The view is not a copy: the warehouse stays small and rewriting a file shows through."""
    world.parquet("a.parquet", log_frame(5))
    world.sync(path="a.parquet")
    world.parquet("a.parquet", log_frame(9))
    (n,) = world.query('SELECT count(*) FROM "predictions__credit-predictions"')[0]
    assert n == 9


def test_registered_as_predictions():
    found = {}
    predictions_module.register_sources(register=lambda name, cls: found.update({name: cls}))
    assert found == {"predictions": PredictionsSource}
    assert PredictionsSource.entity_kind == "model"


def _cols():
    return dict(BASE_OPTIONS["columns"])


def _base(**over):
    return {**json.loads(json.dumps(BASE_OPTIONS)), **over}


def test_hive_partition_keys_are_columns(world):
    for day in ("2026-01-01", "2026-01-02"):
        world.parquet(f"preds/day={day}/part.parquet", log_frame(3).drop("region"))
    world.sync(
        path="preds/*/*.parquet",
        where="day = '2026-01-02'",
        features={"categorical": ["day"]},
    )
    rows = world.query('SELECT DISTINCT day FROM "predictions__credit-predictions"')
    assert rows == [("2026-01-02",)]


def test_a_log_whose_files_are_gone_is_left_out_of_the_canonical_view(world, caplog):
    world.parquet("a.parquet", log_frame(5))
    b = world.parquet("b.parquet", log_frame(7))
    world.sync_many(
        [{"name": "alpha", **_base(path="a.parquet")}, {"name": "beta", **_base(path="b.parquet")}]
    )
    b.unlink()
    world.sync_many([{"name": "alpha", **_base(path="a.parquet")}])
    assert world.query("SELECT log, count(*) FROM predictions GROUP BY ALL") == [("alpha", 5)]
    assert "prediction log beta" in caplog.text
    # Once beta's files are back and it syncs again, it rejoins.
    world.parquet("b.parquet", log_frame(7))
    world.sync_many([{"name": "beta", **_base(path="b.parquet")}])
    rows = world.query("SELECT log, count(*) FROM predictions GROUP BY ALL ORDER BY 1")
    assert rows == [("alpha", 5), ("beta", 7)]


def test_check_counts_files(world):
    world.parquet("preds/a.parquet", log_frame(2))
    world.parquet("preds/b.parquet", log_frame(2))
    text = json_to_toml([{"name": "p", "type": "predictions", **_base(path="preds/*.parquet")}])
    (source,) = build(parse_config(text, None, world.root))
    assert source.check() == "2 file(s)"
