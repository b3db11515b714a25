"""Prediction logs for the Spark engine tests: the same Parquet files read by DuckDB and by
Spark. Classification and regression, several weeks and model versions, sensitive features,
nulls, NaN and out-of-range scores, tied scores, a reference window and reference files."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 1, 5, tzinfo=UTC)
SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("model_version", pa.string()),
        ("p", pa.float64()),
        ("y", pa.float64()),
        ("income", pa.float64()),
        ("debt", pa.int64()),
        ("region", pa.string()),
        ("sex", pa.string()),
        ("age_band", pa.string()),
        ("amount", pa.float64()),
        ("estimate", pa.float64()),
        ("labelled_at", pa.timestamp("us", tz="UTC")),  # when y arrived (monitoring)
    ]
)


def rows(n: int, seed: int, start: datetime = START, shift: float = 0.0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        band = rng.choice(["18-25", "26-60", "61+"])
        p = round(rng.random(), 2)  # two decimals: many tied scores
        if i % 97 == 0:
            p = math.nan
        elif i % 101 == 0:
            p = None
        elif i % 211 == 0:
            p = 1.5  # outside [0, 1]: excluded from the score metrics, counted
        y = None if rng.random() < 0.07 else float(rng.random() < 0.45)
        amount = rng.lognormvariate(3 + shift, 1)
        ts = start + timedelta(minutes=53 * i)
        # not drawn from rng, so every other column stays as it was
        lag = timedelta(hours=(i * 37) % 200 + (i % 7) / 7, microseconds=(i * 7919) % 10**6)
        out.append(
            {
                "ts": start + timedelta(minutes=53 * i),
                "model_version": None if i % 89 == 0 else rng.choice(["v1", "v2", "v3"]),
                "p": p,
                "y": y,
                "income": None if i % 31 == 0 else round(rng.gauss(50_000 + shift * 9000, 12_000)),
                "debt": rng.randint(0, 9),
                "region": None if i % 43 == 0 else rng.choice(["north", "south", "east", "west"]),
                "sex": rng.choice(["F", "M", None] if band != "61+" else ["F", "M"]),
                "age_band": band,
                "amount": amount,
                "estimate": (math.nan if i % 59 == 0 else amount * rng.uniform(0.7, 1.3)),
                "labelled_at": None if y is None or i % 13 == 0 else ts + lag,
            }
        )
    return out


def write(path: Path, data: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(data, schema=SCHEMA), path)
    return path


def make_logs(root: Path) -> Path:
    """Three weekly-ish files of the log and one reference file; returns the folder."""
    folder = root / "logs"
    write(folder / "part-0.parquet", rows(900, seed=1, start=START - timedelta(days=21)))
    write(folder / "part-1.parquet", rows(900, seed=2, start=START + timedelta(days=12), shift=0.3))
    write(folder / "part-2.parquet", rows(600, seed=3, start=START + timedelta(days=45), shift=0.8))
    write(root / "reference" / "ref.parquet", rows(700, seed=9, start=START - timedelta(days=90)))
    return folder


def config_text(root: Path, engine: str, spark: str = "") -> str:
    """Two logs over the same files (classification with a reference window, regression with
    reference files), on ``engine``; ``spark`` is the body of ``[sources.spark]``."""
    engine_lines = f'engine = "{engine}"\n' if engine != "duckdb" else ""
    spark_table = f"[sources.spark]\n{spark}\n" if spark else ""
    return f"""
[warehouse]
path = "wh-{engine}.duckdb"

[metrics]
min_group_size = 5

[[sources]]
name = "credit"
type = "predictions"
path = "{root}/logs/*.parquet"
entity = "credit-risk"
{engine_lines}
[sources.columns]
timestamp = "ts"
prediction = "CAST(p >= 0.5 AS INTEGER)"
score = "p"
label = "y"
model_version = "model_version"
label_timestamp = "labelled_at"
[sources.reference]
since = "2025-12-15"
until = "2026-01-05"
[sources.features]
numeric = ["income", "debt"]
categorical = ["region"]
sensitive = ["sex", "age_band"]
intersections = [["sex", "age_band"]]
{spark_table}
[[sources]]
name = "amounts"
type = "predictions"
path = "{root}/logs/*.parquet"
entity = "amount-model"
task = "regression"
where = "amount > 1"
{engine_lines}
[sources.columns]
timestamp = "ts"
prediction = "estimate"
label = "amount"
model_version = "model_version"
[sources.reference]
path = "{root}/reference/ref.parquet"
[sources.features]
numeric = ["income", "amount"]
categorical = ["region", "age_band"]
{spark_table}
"""
