"""A prediction log as the ``predictions`` source leaves it (view contract of issue 4), small
models trained on it, and the config that points the explain family at them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from mlreport.config import Config, parse_config
from mlreport.metrics import MetricContext, Window
from mlreport.warehouse import Warehouse

START = datetime(2026, 1, 1, tzinfo=UTC)
REF_UNTIL = START + timedelta(days=30)
END = START + timedelta(days=60)
NUMERIC = ("x1", "x2", "x3")
CATEGORICAL = ("color",)
FEATURES = NUMERIC + CATEGORICAL


def log_frame(rows: int = 600, seed: int = 7) -> pd.DataFrame:
    """Rows over 60 days: three numeric features, one categorical, a 0/1 label and a score."""
    rng = np.random.default_rng(seed)
    colors = np.array(["red", "green", "blue"])
    frame = pd.DataFrame(
        {
            "ts": [START + timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 60, rows)],
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "x3": rng.uniform(0, 10, size=rows),
            "color": colors[rng.integers(0, 3, rows)],
        }
    )
    margin = 1.5 * frame.x1 - frame.x2 + 0.2 * frame.x3 + (frame.color == "red") * 1.0 - 1.0
    frame["label"] = (rng.uniform(size=rows) < 1 / (1 + np.exp(-margin))).astype(float)
    frame["score"] = 1 / (1 + np.exp(-margin))
    frame["prediction"] = (frame.score >= 0.5).astype(float)
    return frame


@dataclass
class Log:
    """A warehouse with one synced log ``credit`` and the folder its config lives in."""

    folder: Path
    warehouse: Warehouse
    frame: pd.DataFrame

    def context(self, explain_toml: str, windows: list[Window] | None = None) -> MetricContext:
        windows = windows or [Window(START, END)]
        return MetricContext(self.warehouse, self.config(explain_toml), windows)

    def config(self, explain_toml: str) -> Config:
        text = (
            '[[sources]]\nname = "credit"\ntype = "predictions"\npath = "log.parquet"\n'
            'entity = "credit-risk"\ntask = "classification"\n'
            '[sources.columns]\ntimestamp = "ts"\nprediction = "prediction"\n'
            'score = "score"\nlabel = "label"\n'
            f"[sources.features]\nnumeric = {list(NUMERIC)}\ncategorical = {list(CATEGORICAL)}\n"
        ).replace("'", '"')
        if explain_toml:
            text += "[sources.explain]\n" + explain_toml
        file = self.folder / "mlreport.toml"
        file.write_text(text, encoding="utf-8")
        return parse_config(text, file, self.folder)


def build_log(
    folder: Path,
    frame: pd.DataFrame,
    reference: str | None = "window",
    shap_columns: dict[str, str] | None = None,
) -> Log:
    """Write the log as Parquet and make the views and the ``prediction_logs`` row the
    ``predictions`` source would make (reference: "window", "files" or None)."""
    folder.mkdir(parents=True, exist_ok=True)
    parquet = folder / "log.parquet"
    pl.from_pandas(frame).write_parquet(parquet)
    wh = Warehouse(folder / "wh.duckdb")
    shap_columns = shap_columns or {}
    columns = ", ".join(
        ["'credit' AS log", "'credit-risk' AS entity", "NULL::VARCHAR AS model_version"]
        + ["ts::TIMESTAMPTZ AS ts", "prediction::DOUBLE AS prediction"]
        + ["score::DOUBLE AS score", "label::DOUBLE AS label"]
        + [f'"{f}"::DOUBLE AS "{f}"' for f in NUMERIC]
        + [f'"{f}"::VARCHAR AS "{f}"' for f in CATEGORICAL]
        + [f'"{c}"::DOUBLE AS "{c}"' for c in shap_columns.values()]
    )
    body = f"SELECT {columns} FROM read_parquet('{parquet}')"
    wh.con.execute(f"CREATE VIEW predictions__credit AS {body}")
    ref_view = None
    since = until = None
    if reference == "window":
        ref_view = "predictions_reference__credit"
        since, until = START, REF_UNTIL
        wh.con.execute(
            f"CREATE VIEW {ref_view} AS SELECT * FROM predictions__credit "
            f"WHERE ts >= TIMESTAMPTZ '{since.isoformat()}' "
            f"AND ts < TIMESTAMPTZ '{until.isoformat()}'"
        )
    elif reference == "files":
        ref_view = "predictions_reference__credit"
        wh.con.execute(f"CREATE VIEW {ref_view} AS SELECT * FROM predictions__credit WHERE x3 < 5")
    wh.con.execute(
        "INSERT INTO prediction_logs (log, entity, task, view_name, reference_view, "
        "reference_kind, reference_since, reference_until, numeric_features, "
        "categorical_features, sensitive_features, intersections, shap_columns, files, "
        "reference_files, row_count, source, synced_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            "credit",
            "credit-risk",
            "classification",
            "predictions__credit",
            ref_view,
            reference,
            since,
            until,
            list(NUMERIC),
            list(CATEGORICAL),
            [],
            "[]",
            json.dumps(shap_columns),
            "[]",
            "[]",
            len(frame),
            "credit",
        ],
    )
    return Log(folder, wh, frame)


def shap_by_feature(values: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Sum transformed columns (``num__x1``, ``cat__color_red``) back to their input column,
    by the names sklearn gives them: the test's own reading of its pipelines."""
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        feature = name.split("__", 1)[1]
        if name.startswith("cat__"):
            feature = next(f for f in CATEGORICAL if feature.startswith(f + "_"))
        out[feature] = out.get(feature, 0) + values[:, j]
    return out
