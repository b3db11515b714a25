"""Bad input: a clear error naming the key, the expression or the file; nothing stored changes."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mlreport.config import ConfigError, parse_config
from mlreport.sources import SourceError
from tests.predictions.conftest import BASE_OPTIONS, build, json_to_toml, log_frame

VIEW = "predictions__credit-predictions"


def cols(**over: str) -> dict[str, str]:
    return {**BASE_OPTIONS["columns"], **over}


def fails(world, *texts: str, **options) -> str:
    """Sync with ``options``; it must fail with every text in the message, changing nothing."""
    before = world.snapshot() if world.warehouse_path.exists() else None
    with pytest.raises(SourceError) as err:
        world.sync(**options)
    message = str(err.value)
    for text in texts:
        assert text in message, message
    if before is not None:
        assert world.snapshot() == before
    return message


@pytest.fixture
def synced(world):
    """A world with one good sync stored, so each failure can be checked to change nothing."""
    world.parquet("preds/a.parquet", log_frame(10))
    world.sync(path="preds/*.parquet", reference={"since": "2026-01-01", "until": "2026-01-02"})
    world.good = world.snapshot()
    return world


def test_expression_that_does_not_parse(synced):
    message = fails(
        synced,
        "columns.score",
        "'p_default +'",
        "Parser Error",
        path="preds/*.parquet",
        columns=cols(score="p_default +"),
    )
    assert "LINE 1" not in message  # our wrapper query is not shown


def test_where_that_does_not_parse(synced):
    fails(synced, "where", "'ts >= ('", "Parser Error", path="preds/*.parquet", where="ts >= (")


def test_missing_column(synced):
    fails(
        synced,
        "columns.label",
        "'defaultd'",
        'column "defaultd" not found',
        str(synced.root / "preds/a.parquet"),
        path="preds/*.parquet",
        columns=cols(label="defaultd"),
    )


def test_non_numeric_label(synced):
    fails(
        synced,
        "columns.label",
        "'region'",
        "VARCHAR",
        "number or boolean",
        path="preds/*.parquet",
        columns=cols(label="region"),
    )


def test_classification_prediction_must_be_zero_or_one(synced):
    fails(
        synced,
        "columns.prediction",
        "'p_default'",
        "must be 0 or 1",
        path="preds/*.parquet",
        columns=cols(prediction="p_default"),
    )


def test_timestamp_of_the_wrong_type(synced):
    fails(
        synced,
        "columns.timestamp",
        "'debt_ratio'",
        "BIGINT",
        "to_timestamp",
        path="preds/*.parquet",
        columns=cols(timestamp="debt_ratio"),
    )


def test_text_times_that_do_not_parse(synced):
    synced.csv("bad.csv", log_frame(3).with_columns(pl.lit("yesterday").alias("when_")))
    fails(
        synced,
        "bad.csv",
        "yesterday",
        path="bad.csv",
        columns=cols(timestamp="when_"),
    )


def test_injected_statement_is_refused(synced):
    fails(
        synced,
        "columns.score",
        "not one SQL expression",
        path="preds/*.parquet",
        columns=cols(score="1); DROP TABLE prediction_logs; SELECT (1"),
    )
    fails(
        synced,
        "where",
        "not one SQL expression",
        path="preds/*.parquet",
        where="true) AS x, (1",
    )


def test_missing_and_mistyped_features(synced):
    fails(
        synced,
        "features.numeric",
        "'incme'",
        "income",
        path="preds/*.parquet",
        features={"numeric": ["incme"]},
    )
    fails(
        synced,
        "features.numeric",
        "'region'",
        "VARCHAR",
        "features.categorical",
        path="preds/*.parquet",
        features={"numeric": ["region"]},
    )
    fails(
        synced,
        "features.sensitive",
        "'race'",
        path="preds/*.parquet",
        features={"sensitive": ["race"]},
    )


def test_missing_shap_columns(synced):
    fails(
        synced,
        "explain.shap_prefix",
        "'shap_income'",
        path="preds/*.parquet",
        explain={"shap_prefix": "shap_"},
    )


def test_files_with_differing_schemas_in_one_glob(synced):
    synced.parquet("preds/b.parquet", log_frame(4).drop("region").rename({"income": "salary"}))
    message = fails(
        synced,
        str(synced.root / "preds/a.parquet"),
        str(synced.root / "preds/b.parquet"),
        "region",
        "salary",
        "income",
        path="preds/*.parquet",
    )
    assert "path" in message


def test_differing_types_in_one_glob(synced):
    synced.parquet("preds/b.parquet", log_frame(4).with_columns(pl.col("debt_ratio").cast(pl.Utf8)))
    fails(synced, "debt_ratio: BIGINT vs VARCHAR", "b.parquet", path="preds/*.parquet")


def test_empty_glob(synced):
    fails(synced, "path", "no file matches", "nothing/*.parquet", path="nothing/*.parquet")


def test_missing_literal_path(synced):
    fails(synced, "path", "nope.parquet", "does not exist", path="nope.parquet")


def test_empty_file(synced):
    (synced.root / "preds/b.parquet").write_bytes(b"")
    fails(synced, "b.parquet", "empty", path="preds/*.parquet")


def test_corrupt_parquet_file(synced):
    (synced.root / "preds/b.parquet").write_bytes(b"ts,p\n1,2\n")
    fails(synced, "b.parquet", "cannot be read", path="preds/*.parquet")


def test_unknown_extension_and_mixed_formats(synced):
    (synced.root / "log.txt").write_text("x")
    fails(synced, "log.txt", "unknown file type", path="log.txt")
    synced.csv("preds/c.csv", log_frame(2))
    fails(synced, "different formats", path=["preds/*.parquet", "preds/*.csv"])


def test_reference_files_that_map_differently(synced):
    synced.parquet("ref.parquet", log_frame(4).drop("region"))
    fails(
        synced,
        "reference.path",
        "ref.parquet",
        "'region'",
        path="preds/*.parquet",
        reference={"path": "ref.parquet"},
    )


def test_database_and_table_problems(synced):
    fails(synced, "database", "does not exist", database="nope.duckdb", table="t")
    import duckdb

    con = duckdb.connect(str(synced.root / "logs.duckdb"))
    con.execute("CREATE TABLE preds AS SELECT 1 AS a")
    con.close()
    fails(synced, "table", "'missing'", "logs.duckdb", database="logs.duckdb", table="missing")
    fails(synced, "columns.timestamp", "'ts'", database="logs.duckdb", table="preds")


def test_failed_sync_keeps_the_previous_view_and_row(synced):
    rows_before = synced.query(f'SELECT count(*) FROM "{VIEW}"')
    fails(synced, "columns.label", path="preds/*.parquet", columns=cols(label="nope"))
    assert synced.snapshot() == synced.good
    assert synced.query(f'SELECT count(*) FROM "{VIEW}"') == rows_before


# -- config errors (before anything is read) -----------------------------------------------------


def config_error(world, **options) -> str:
    text = json_to_toml([{"name": "p", "type": "predictions", **BASE_OPTIONS, **options}])
    with pytest.raises(ConfigError) as err:
        build(parse_config(text, None, world.root))
    return str(err.value)


@pytest.mark.parametrize(
    ("options", "texts"),
    [
        ({"features": {"numeric": ["income", "income"]}}, ["features", "'income' is listed twice"]),
        ({"features": {"numeric": ["x"], "categorical": ["X"]}}, ["'x'", "numeric", "categorical"]),
        ({"features": {"numeric": ["age"], "sensitive": ["age"]}}, ["'age'", "sensitive"]),
        ({"features": {"categorical": ["label"]}}, ["'label'", "predictions view"]),
        ({"features": {"categorical": ["shap__x"]}}, ["reserved"]),
        (
            {"features": {"sensitive": ["sex"], "intersections": [["sex", "race"]]}},
            ["intersections[0]", "'race'"],
        ),
        ({"features": {"sensitive": ["sex"], "intersections": [["sex"]]}}, ["intersections[0]"]),
        ({"path": "a.parquet", "database": "x.duckdb", "table": "t"}, ["either `path`"]),
        ({}, ["needs `path`"]),
        ({"path": []}, ["empty list"]),
        ({"path": "a", "task": "ranking"}, ["task"]),
        ({"path": "a", "columns": {"prediction": "p"}}, ["columns.timestamp", "Field required"]),
        ({"path": "a", "columns": {**BASE_OPTIONS["columns"], "extra": "x"}}, ["columns.extra"]),
        ({"path": "a", "reference": {"since": "2026-01-01"}}, ["reference", "`until`"]),
        (
            {"path": "a", "reference": {"since": "2026-01-02", "until": "2026-01-01"}},
            ["must be before"],
        ),
        (
            {"path": "a", "reference": {"since": "2026-01-01", "until": "2026-02-01", "path": "r"}},
            ["either `since` and `until`"],
        ),
        ({"path": "a", "reference": {"since": "yesterday", "until": "x"}}, ["not an ISO date"]),
        ({"path": "a", "explain": {"sample": 10}}, ["explain", "`model`"]),
        ({"path": "a", "explain": {"model": "m.skops", "shap_prefix": "s_"}}, ["either `model`"]),
        ({"path": "a", "explain": {"model": "m", "sample": 0}}, ["explain.sample"]),
        ({"path": "a", "explain": {"model": "m", "features": ["nope"]}}, ["explain.features"]),
        ({"path": "a", "where": ""}, ["where"]),
    ],
)
def test_config_errors_name_the_key(world, options, texts):
    message = config_error(world, **options)
    for text in texts:
        assert text in message, message


def test_duplicate_source_names(world):
    entry = {"name": "p", "type": "predictions", **BASE_OPTIONS, "path": "a.parquet"}
    with pytest.raises(ConfigError, match="duplicate source name"):
        parse_config(json_to_toml([entry, dict(entry)]), None, world.root)


# -- hostile strings ---------------------------------------------------------------------


HOSTILE = 'it\'s "odd" [1] *?<script>alert(1)</script> file:///etc/passwd'


def test_hostile_names_and_paths(world):
    frame = log_frame(6).rename({"region": 'reg"ion <b>', "sex": "s'ex"})
    folder = f"logs {HOSTILE}".replace("/", "_")
    path = world.parquet(f"{folder}/part [0].parquet", frame)
    world.parquet(f"{folder}/part 0.parquet", log_frame(2))  # what an unescaped glob would read
    world.sync(
        path=str(path),
        entity=HOSTILE,
        features={"categorical": ['reg"ion <b>'], "sensitive": ["s'ex"]},
        reference={"path": str(path)},
    )
    cols = [c for c, _ in world.describe(VIEW)]
    assert cols[-2:] == ['reg"ion <b>', "s'ex"]
    rows = world.query(f'SELECT entity, "reg""ion <b>", "s\'ex" FROM "{VIEW}" ORDER BY ts')
    assert len(rows) == 6
    assert rows[0] == (HOSTILE, "north", "F")
    row = world.log_row()
    assert [f["path"] for f in json.loads(row["files"])] == [str(path)]
    assert row["row_count"] == 6
    (n,) = world.query('SELECT count(*) FROM "predictions_reference__credit-predictions"')[0]
    assert n == 6


def test_hostile_table_name(world):
    import duckdb

    con = duckdb.connect(str(world.root / "logs.duckdb"))
    frame = log_frame(4)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute('CREATE TABLE "t\'; DROP TABLE x; --" AS SELECT * FROM frame')
    con.close()
    world.sync(database="logs.duckdb", table="t'; DROP TABLE x; --")
    assert world.log_row()["row_count"] == 4


def test_a_bad_value_far_down_a_csv_is_found_at_sync_naming_file_row_and_column(world):
    """Row 3,500 of 4,000 has a time that does not parse: the sync reads the whole (small)
    file, so the error comes now, not from every metric family later."""
    frame = log_frame(4000).with_columns(pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S"))
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3499)
        .then(pl.lit("2026-13-45 99:00:00"))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    path = world.csv("preds/a.csv", frame)
    message = fails(world, "columns.timestamp does not convert", path="preds/*.csv")
    assert f"{path}: row 3,500 (line 3,501 with the header)" in message, message


def test_a_large_log_is_sampled_and_the_sync_says_so(world, monkeypatch, caplog):
    from mlreport.connectors.predictions import checks

    monkeypatch.setattr(checks, "FULL_CHECK_BYTES", 10)
    world.parquet("preds/a.parquet", log_frame(50))
    with caplog.at_level("INFO", logger="mlreport.predictions"):
        world.sync(path="preds/*.parquet")
    assert "checked its first 1000 rows only" in caplog.text
