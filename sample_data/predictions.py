"""Prediction logs and a scoring model for the sample models (see docs/sample-data.md).

Everything is drawn from one seeded ``numpy.random.Generator`` per log and rounded to fixed
decimals, so the Parquet files (and the skops model) have the same bytes on every run and
machine with the same library versions. The stories:

- credit-risk: the lender expands into a new region ("islands") on 15 May; its applicants
  earn less, so ``income`` drifts and a category the reference never saw appears. The model
  uses ``age``, so young applicants are predicted to default far more often (a demographic
  parity ratio well under 0.8). Default labels arrive about a month late.
- fraud-detector: model 8 is replaced by model 9 on 13 March; release 2.20.0 on 25 June
  makes card-not-present (``ecom``) scores jump (the open incident INC-2024). Chargeback labels
  arrive one to three weeks late. SHAP values are logged with each prediction, and the
  reference is a separate validation file.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from mlreport.atomic import write_changed
from mlreport.sample_data.org import PERIOD_END, PERIOD_START

SEED = 20260701
DAY = 86_400
START = datetime(PERIOD_START.year, PERIOD_START.month, PERIOD_START.day, tzinfo=UTC)
END = PERIOD_END
AGE_BANDS = ("18-25", "26-40", "41-60", "61+")
AGE_EDGES = (26, 41, 61)

# credit-risk
CREDIT_DIR = "predictions/credit-risk"
CREDIT_MODEL = "models/credit-risk.skops"
CREDIT_FEATURES = ("income", "debt_ratio", "age", "utilisation", "credit_history_months")
CREDIT_DAILY = 260
REGIONS = ("north", "south", "east", "west", "capital")
REGION_P = (0.22, 0.2, 0.18, 0.15, 0.25)
NEW_REGION = "islands"
DRIFT_AT = datetime(2026, 5, 15, tzinfo=UTC)
NEW_REGION_SHARE = 0.6  # of applications after DRIFT_AT
CREDIT_VERSIONS = ("22", "24")
CREDIT_SWITCH = datetime(2026, 5, 26, 12, 34, 37, tzinfo=UTC)  # model 24 reaches production
CREDIT_REFERENCE = ("2026-01-05", "2026-03-01")

# fraud-detector
FRAUD_DIR = "predictions/fraud-detector"
FRAUD_REFERENCE = "predictions/fraud-detector-validation.parquet"
FRAUD_DAILY = 320
FRAUD_REFERENCE_ROWS = 20_000
FRAUD_VERSIONS = ("8", "9")
FRAUD_SWITCH = datetime(2026, 3, 13, 10, 44, 44, tzinfo=UTC)  # 2.12.0 with model 9
FRAUD_BUG_AT = datetime(2026, 6, 25, 14, 34, 17, tzinfo=UTC)  # 2.20.0: the ecom score spike
CHANNELS = ("pos", "ecom", "atm")
CHANNEL_P = (0.55, 0.38, 0.07)
FRAUD_NUMERIC = ("amount", "merchant_risk", "txn_count_1h", "distance_km")


def _epoch(t: datetime) -> int:
    return int(t.timestamp())


def timestamps(rng: np.random.Generator, daily: int) -> np.ndarray:
    """Sorted whole-second UTC times over the sample period, fewer at weekends."""
    days = (_epoch(END) - _epoch(START)) // DAY
    weekday = (np.arange(days) + START.weekday()) % 7
    counts = rng.poisson(np.where(weekday < 5, daily, daily * 0.6))
    day_of = np.repeat(np.arange(days), counts)
    secs = rng.integers(0, DAY, size=day_of.size)
    return np.sort(_epoch(START) + day_of * DAY + secs)


def age_band(age: np.ndarray) -> np.ndarray:
    return np.asarray(AGE_BANDS, dtype=object)[np.searchsorted(AGE_EDGES, age, side="right")]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def late_labels(
    rng: np.random.Generator, ts: np.ndarray, labels: np.ndarray, min_days: int, mean_days: int
) -> pl.Series:
    """Labels as known at the end of the period: null where the outcome arrives after it."""
    lag = (min_days + rng.exponential(mean_days, size=ts.size)) * DAY
    known = pl.Series(ts + lag <= _epoch(END))
    return pl.select(pl.when(known).then(pl.Series(labels))).to_series()


# -- credit-risk -----------------------------------------------------------------------------


def applicants(rng: np.random.Generator, ts: np.ndarray) -> dict[str, np.ndarray]:
    """Application features; after DRIFT_AT part of them come from the new region."""
    n = ts.size
    new = (ts >= _epoch(DRIFT_AT)) & (rng.random(n) < NEW_REGION_SHARE)
    age = np.clip(18 + rng.gamma(2.4, 9.0, n), 18, 85).astype(np.int64)
    log_income = 10.25 + 0.012 * np.minimum(age - 18, 30) + rng.normal(0, 0.42, n)
    log_income = np.where(new, log_income - 0.9, log_income)
    region = np.asarray(REGIONS, dtype=object)[rng.choice(len(REGIONS), n, p=REGION_P)]
    region = np.where(new, NEW_REGION, region)
    history = np.clip((age - 18) * 12 * rng.uniform(0.2, 0.9, n), 0, None)
    employment = np.round(np.clip((age - 18) * rng.uniform(0.1, 0.7, n), 0, None), 1)
    return {
        "income": np.round(np.exp(log_income), -1),
        "debt_ratio": np.round(rng.beta(2.0, 5.0, n), 3),
        "age": age,
        "utilisation": np.round(rng.beta(2.0, 3.0, n), 3),
        "credit_history_months": history.astype(np.int64),
        "employment_years": np.where(rng.random(n) < np.where(new, 0.12, 0.03), np.nan, employment),
        "region": region,
        "sex": np.where(rng.random(n) < 0.5, "F", "M").astype(object),
        "age_band": age_band(age),
    }


def default_probability(x: dict[str, np.ndarray]) -> np.ndarray:
    """The true (unknown to the model) chance that an applicant defaults."""
    z = (
        -2.1
        + 4.0 * (x["debt_ratio"] - 0.29)
        + 3.0 * (x["utilisation"] - 0.4)
        - 1.3 * np.log(x["income"] / 40_000)
        - 0.035 * (x["age"] - 40)
        - 0.004 * (x["credit_history_months"] - 100)
    )
    return sigmoid(z)


def training_set(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Applicants from before the expansion, with their outcomes."""
    rng = np.random.default_rng(seed)
    ts = np.full(n, _epoch(START))
    x = applicants(rng, ts)
    y = (rng.random(n) < default_probability(x)).astype(np.int64)
    return np.column_stack([x[f].astype(np.float64) for f in CREDIT_FEATURES]), y


def train_credit_model(seed: int, n: int = 4000, trees: int = 50):
    """A small gradient-boosted PD model (single-threaded, so bit-for-bit reproducible)."""
    import pandas as pd
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = training_set(seed, n)
    model = GradientBoostingClassifier(
        n_estimators=trees, max_depth=3, learning_rate=0.15, subsample=0.8, random_state=0
    )
    return model.fit(pd.DataFrame(X, columns=list(CREDIT_FEATURES)), y)


def credit_models() -> dict[str, object]:
    """The two model versions in the log; the last is the one in production now."""
    return {
        CREDIT_VERSIONS[0]: train_credit_model(SEED + 22, trees=35),
        CREDIT_VERSIONS[1]: train_credit_model(SEED + 24, trees=50),
    }


def credit_log(models: dict[str, object]) -> pl.DataFrame:
    import pandas as pd

    rng = np.random.default_rng(SEED)
    ts = timestamps(rng, CREDIT_DAILY)
    x = applicants(rng, ts)
    defaulted = rng.random(ts.size) < default_probability(x)
    version = np.where(ts >= _epoch(CREDIT_SWITCH), CREDIT_VERSIONS[1], CREDIT_VERSIONS[0])
    features = pd.DataFrame({f: x[f].astype(np.float64) for f in CREDIT_FEATURES})
    score = np.zeros(ts.size)
    for name, model in models.items():
        rows = version == name
        score[rows] = model.predict_proba(features[rows])[:, 1]
    return pl.DataFrame(
        {
            "application_id": [f"app-{i:06d}" for i in range(1, ts.size + 1)],
            "ts": _datetimes(ts),
            "model_version": version.astype(object),
            "p_default": np.round(score, 6),
            "defaulted": late_labels(rng, ts, defaulted, 30, 12).cast(pl.Int8),
            **{k: x[k] for k in ("income", "debt_ratio", "age", "utilisation")},
            "credit_history_months": x["credit_history_months"],
            "employment_years": pl.Series(x["employment_years"]).fill_nan(None),
            "region": pl.Series(x["region"], dtype=pl.String),
            "sex": pl.Series(x["sex"], dtype=pl.String),
            "age_band": pl.Series(x["age_band"], dtype=pl.String),
        }
    )


# -- fraud-detector --------------------------------------------------------------------------

# A logistic model per version: intercept, per-feature weights on transformed features,
# per-channel offsets. SHAP of a linear model against a fixed background is w * (f(x) - mean).
FRAUD_TRUE = (-13.5, (0.7, 14.0, 1.0, 0.06), (0.0, 1.2, 0.5))
FRAUD_MODELS = {
    "8": (-11.3, (0.55, 11.0, 0.8, 0.04), (0.0, 0.9, 0.3)),
    "9": (-13.3, (0.68, 13.5, 0.97, 0.058), (0.0, 1.15, 0.45)),
}
ECOM_BUG = 2.2  # added to ecom log-odds by release 2.20.0
BACKGROUND = {"amount": 3.7, "merchant_risk": 0.16, "txn_count_1h": 1.2, "distance_km": 15.0}


def transactions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_P)
    age = np.clip(18 + rng.gamma(2.6, 8.5, n), 18, 90).astype(np.int64)
    return {
        "amount": np.round(rng.lognormal(3.7, 1.0, n), 2),
        "merchant_risk": np.round(rng.beta(1.5, 8.0, n), 3),
        "txn_count_1h": rng.poisson(1.2, n),
        "distance_km": np.round(rng.exponential(15.0, n), 1),
        "channel_index": channel,
        "channel": np.asarray(CHANNELS, dtype=object)[channel],
        "age_band": age_band(age),
    }


def _fraud_terms(x: dict[str, np.ndarray], weights) -> dict[str, np.ndarray]:
    """Each feature's log-odds contribution relative to the background (its SHAP value)."""
    amount = np.log(x["amount"])
    values = (amount, x["merchant_risk"], x["txn_count_1h"], x["distance_km"])
    out = {
        f: w * (v - BACKGROUND[f])
        for f, w, v in zip(FRAUD_NUMERIC, weights[1], values, strict=True)
    }
    offsets = np.asarray(weights[2])
    out["channel"] = offsets[x["channel_index"]] - float(np.dot(CHANNEL_P, offsets))
    return out


def _fraud_logit(x: dict[str, np.ndarray], weights) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    terms = _fraud_terms(x, weights)
    base = weights[0] + sum(
        w * BACKGROUND[f] for f, w in zip(FRAUD_NUMERIC, weights[1], strict=True)
    )
    base += float(np.dot(CHANNEL_P, weights[2]))
    return base + sum(terms.values()), terms


def fraud_frame(rng: np.random.Generator, ts: np.ndarray, version: np.ndarray) -> pl.DataFrame:
    x = transactions(rng, ts.size)
    truth, _ = _fraud_logit(x, FRAUD_TRUE)
    fraud = rng.random(ts.size) < sigmoid(truth)
    logit, shap = np.zeros(ts.size), {f: np.zeros(ts.size) for f in (*FRAUD_NUMERIC, "channel")}
    for name, weights in FRAUD_MODELS.items():
        rows = version == name
        z, terms = _fraud_logit({k: v[rows] for k, v in x.items()}, weights)
        logit[rows] = z
        for f, t in terms.items():
            shap[f][rows] = t
    bug = (ts >= _epoch(FRAUD_BUG_AT)) & (x["channel"] == "ecom")
    logit[bug] += ECOM_BUG
    shap["channel"][bug] += ECOM_BUG
    score = np.round(sigmoid(logit), 6)
    return pl.DataFrame(
        {
            "transaction_id": [f"tx-{i:07d}" for i in range(1, ts.size + 1)],
            "event_time": _datetimes(ts),
            "model_version": version.astype(object),
            "fraud_score": score,
            "decision": np.where(score >= 0.5, "decline", "approve").astype(object),
            "chargeback": late_labels(rng, ts, fraud, 7, 5),
            **{f: x[f] for f in FRAUD_NUMERIC},
            "channel": pl.Series(x["channel"], dtype=pl.String),
            "age_band": pl.Series(x["age_band"], dtype=pl.String),
            **{f"shap_{f}": np.round(v, 6) for f, v in shap.items()},
        }
    )


def fraud_log() -> pl.DataFrame:
    rng = np.random.default_rng(SEED + 1)
    ts = timestamps(rng, FRAUD_DAILY)
    version = np.where(ts >= _epoch(FRAUD_SWITCH), FRAUD_VERSIONS[1], FRAUD_VERSIONS[0])
    return fraud_frame(rng, ts, version)


def fraud_validation() -> pl.DataFrame:
    """Model 9's held-out validation set, scored before release (all labels known)."""
    rng = np.random.default_rng(SEED + 2)
    at = _epoch(datetime(2026, 3, 1, tzinfo=UTC))
    ts = np.sort(at + rng.integers(0, 10 * DAY, FRAUD_REFERENCE_ROWS))
    frame = fraud_frame(rng, ts, np.full(ts.size, FRAUD_VERSIONS[1], dtype=object))
    return frame.with_columns(pl.col("chargeback").fill_null(False))


# -- files -----------------------------------------------------------------------------------


def _datetimes(ts: np.ndarray) -> pl.Series:
    return pl.Series(ts * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """Parquet with fixed settings: one row group, zstd level 3, statistics."""
    buf = io.BytesIO()
    frame.write_parquet(
        buf, compression="zstd", compression_level=3, statistics=True, row_group_size=1 << 20
    )
    return buf.getvalue()


def by_month(frame: pl.DataFrame, ts: str) -> dict[str, pl.DataFrame]:
    """One frame per calendar month, keyed ``YYYY-MM``."""
    months = frame.get_column(ts).dt.strftime("%Y-%m")
    return {m: frame.filter(months == m) for m in sorted(months.unique().to_list())}


def model_bytes(model: object) -> bytes:
    """skops bytes made reproducible: object ids renumbered, fixed zip timestamps.

    skops names each node by ``id()`` (memory addresses) and stamps the current time; the
    renumbering keeps which nodes are the same object, so the file loads the same.
    """
    import skops.io as sio

    raw = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    ids: dict[str, str] = {}
    schema = _renumber(json.loads(raw.read("schema.json")), ids)
    files = {"schema.json": json.dumps(schema, sort_keys=True).encode()}
    for name in raw.namelist():
        if name != "schema.json":
            stem, dot, ext = name.partition(".")
            files[ids.setdefault(stem, str(len(ids) + 1)) + dot + ext] = raw.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return out.getvalue()


def _renumber(node: object, ids: dict[str, str]) -> object:
    """``node`` with every ``__id__`` and ``file`` name mapped to 1, 2, … in visiting order."""
    if isinstance(node, list):
        return [_renumber(v, ids) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "__id__":
            value = int(ids.setdefault(str(value), str(len(ids) + 1)))
        elif key == "file" and isinstance(value, str):
            stem, dot, ext = value.partition(".")
            value = ids.setdefault(stem, str(len(ids) + 1)) + dot + ext
        out[key] = _renumber(value, ids)
    return out


@functools.cache
def outputs() -> dict[str, bytes]:
    """Every generated file's bytes, keyed by path relative to the demo folder.

    Cached: the bytes never change within a process, and tests materialize often.
    """
    models = credit_models()
    files = {}
    for month, part in by_month(credit_log(models), "ts").items():
        files[f"{CREDIT_DIR}/{month}.parquet"] = parquet_bytes(part)
    for month, part in by_month(fraud_log(), "event_time").items():
        files[f"{FRAUD_DIR}/{month}.parquet"] = parquet_bytes(part)
    files[FRAUD_REFERENCE] = parquet_bytes(fraud_validation())
    files[CREDIT_MODEL] = model_bytes(models[CREDIT_VERSIONS[1]])
    return files


def write_outputs(out_dir: Path) -> list[Path]:
    """Write the generated files under ``out_dir``, touching only those whose bytes changed."""
    return write_changed(out_dir, outputs())


# -- config ----------------------------------------------------------------------------------


def _toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def sources_toml() -> str:
    """The ``predictions`` sources of the demo config (paths relative to the demo folder)."""
    since, until = CREDIT_REFERENCE
    fraud_shap = (*FRAUD_NUMERIC, "channel")
    return f"""\
[[sources]]
name = "credit-risk-predictions"
type = "predictions"
path = "{CREDIT_DIR}/*.parquet"
entity = "credit-risk"
task = "classification"
[sources.columns]
timestamp = "ts"
prediction = "CAST(p_default >= 0.5 AS INTEGER)"
score = "p_default"
label = "defaulted"
model_version = "model_version"
[sources.reference]
since = "{since}"
until = "{until}"
[sources.features]
numeric = {_toml_list((*CREDIT_FEATURES, "employment_years"))}
categorical = ["region"]
sensitive = ["sex", "age_band"]
intersections = [["sex", "age_band"]]
[sources.explain]
model = "{CREDIT_MODEL}"
trusted = true
features = {_toml_list(CREDIT_FEATURES)}
sample = 1000
seed = 0

[[sources]]
name = "fraud-detector-predictions"
type = "predictions"
path = "{FRAUD_DIR}/*.parquet"
entity = "fraud-detector"
task = "classification"
[sources.columns]
timestamp = "event_time"
prediction = "CAST(decision = 'decline' AS INTEGER)"
score = "fraud_score"
label = "CAST(chargeback AS INTEGER)"
model_version = "model_version"
[sources.reference]
path = "{FRAUD_REFERENCE}"
[sources.features]
numeric = {_toml_list(FRAUD_NUMERIC)}
categorical = ["channel"]
sensitive = ["age_band"]
[sources.explain]
shap_prefix = "shap_"
features = {_toml_list(fraud_shap)}

"""
