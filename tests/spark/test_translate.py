"""DuckDB-dialect SQL to Spark SQL (no Spark needed): parameters become literals built by
sqlglot, never formatted by hand; the DuckDB functions sqlglot passes through get their
Spark form; options that cannot work fail when the config loads or the sync starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlreport.config import parse_config
from mlreport.connectors.spark.translate import TranslationError, inline, to_spark
from mlreport.pipeline import sync_all
from mlreport.warehouse import Warehouse
from tests.spark.logs import config_text, make_logs


def test_parameters_are_literals_and_marks_in_strings_are_left_alone():
    sql = "SELECT '?' AS q, \"a?\" FROM t WHERE x = ? AND y IN (SELECT unnest(?::BIGINT[]))"
    out = to_spark(sql, ["it's \\ here", [1, 2]])
    assert out == (
        "SELECT '?' AS q, `a?` FROM t WHERE x = 'it\\'s \\\\ here' AND y IN "
        "(SELECT EXPLODE(CAST(ARRAY(1, 2) AS ARRAY<BIGINT>)))"
    )


def test_floats_times_and_nulls_keep_their_value():
    when = datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)
    out = to_spark("SELECT ?, ?, ?, ?, ?", [0.1, float("-inf"), None, when, True])
    assert out == (
        "SELECT CAST('0.1' AS DOUBLE), CAST('-inf' AS DOUBLE), NULL, "
        "CAST('2026-03-01 12:30:00.123456+00:00' AS TIMESTAMP), TRUE"
    )


@pytest.mark.parametrize(
    "sql, params, message",
    [
        ("SELECT ?", [], "1 parameter(s) but 0 value(s)"),
        ("SELECT 1", [2], "0 parameter(s) but 1 value(s)"),
        ("SELECT ?", [datetime(2026, 1, 1)], "without a time zone"),
        ("SELECT ?", [object()], "cannot pass a object"),
    ],
)
def test_bad_parameters_are_refused(sql, params, message):
    with pytest.raises(TranslationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        inline(sql, params)


@pytest.mark.parametrize(
    "duckdb_sql, spark_sql",
    [
        ("SELECT isfinite(x) FROM t", "SELECT ABS(x) < CAST('inf' AS DOUBLE) FROM t"),
        ("SELECT fsum(x) FILTER (WHERE y) FROM t", "SELECT SUM(x) FILTER(WHERE y) FROM t"),
        ("SELECT x::HUGEINT FROM t", "SELECT CAST(x AS DECIMAL(38, 0)) FROM t"),
        (
            "SELECT len(list_filter([1.5, 2.5], lambda e: e < p)) FROM t",
            "SELECT SIZE(FILTER(ARRAY(1.5, 2.5), e -> e < p)) FROM t",
        ),
        (
            "SELECT quantile_disc(c0, [0.25, 0.75]) FROM t",
            "SELECT ARRAY(PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY c0 NULLS LAST), "
            "PERCENTILE_DISC(0.75) WITHIN GROUP (ORDER BY c0 NULLS LAST)) FROM t",
        ),
        (
            "SELECT timezone('UTC', CAST((ts) AS TIMESTAMP)) AS ts FROM t",
            "SELECT CAST((ts) AS TIMESTAMP) AS ts FROM t",
        ),
        (
            "WITH g AS MATERIALIZED (SELECT 1 AS a) SELECT a FROM g",
            "WITH g AS (SELECT 1 AS a) SELECT a FROM g",
        ),
    ],
)
def test_duckdb_functions_get_their_spark_form(duckdb_sql, spark_sql):
    assert to_spark(duckdb_sql) == spark_sql


def test_unparseable_sql_is_a_translation_error():
    with pytest.raises(TranslationError, match="sqlglot cannot read the query"):
        to_spark("SELECT (1 FROM")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[sources.spark]\nmaster = "local[1]"\n', '`[spark]` settings need `engine = "spark"`'),
        (
            'engine = "spark"\n[sources.spark]\nmaster = "local[1]"\nremote = "sc://h:1"\n',
            "either `master`",
        ),
    ],
)
def test_spark_options_are_checked_when_the_config_loads(tmp_path, extra, message):
    text = (
        '[[sources]]\nname = "p"\ntype = "predictions"\npath = "x.parquet"\nentity = "m"\n'
        f'{extra}[sources.columns]\ntimestamp = "ts"\nprediction = "p"\n'
    )
    config = parse_config(text, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        (stats,) = sync_all(wh, config)
    assert message in stats.error


def test_csv_logs_are_refused_before_spark_starts(tmp_path):
    make_logs(tmp_path)
    (tmp_path / "logs.csv").write_text("ts,p\n2026-01-01,0.5\n")
    text = config_text(tmp_path, "spark", 'master = "local[1]"').replace(
        f'path = "{tmp_path}/logs/*.parquet"', f'path = "{tmp_path}/logs.csv"'
    )
    config = parse_config(text, tmp_path / "mlreport.toml", tmp_path)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        stats = sync_all(wh, config, ["credit"])[0]
    assert "engine 'spark' reads Parquet files" in stats.error
    assert "logs.csv is CSV" in stats.error
