"""The cost figures computed the plain way, with pandas over the same export files, for the
tests to compare against: no mlreport code is used here."""

from __future__ import annotations

import json
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path

import pandas as pd


def read_exports(paths: list[Path]) -> pd.DataFrame:
    frames = []
    for p in paths:
        if p.name.endswith(".parquet"):
            f = pd.read_parquet(p)
        else:
            f = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=["NULL", ""])
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    for c in ("BilledCost", "EffectiveCost", "ListCost"):
        df[c] = df[c].map(lambda v: Decimal(str(v)))
    df["start"] = pd.to_datetime(df["ChargePeriodStart"].astype(str), utc=True)
    return df


def entity_of(tags, keys: list[str], mapping: dict[str, str]) -> str | None:
    """The first configured key present (keys compared without surrounding spaces), mapped."""
    if tags is None or (isinstance(tags, float) and pd.isna(tags)):
        return None
    obj = {k.strip(): v for k, v in json.loads(tags).items()}
    value = next((str(obj[k]).strip() for k in keys if obj.get(k) is not None), None)
    if not value:
        return None
    for pattern, target in mapping.items():
        if fnmatchcase(value, pattern):
            return target
    return value


def attribute(df: pd.DataFrame, keys: list[str], mapping: dict[str, str]) -> pd.DataFrame:
    df = df.copy()
    df["entity"] = [entity_of(t, keys, mapping) for t in df.get("Tags", [None] * len(df))]
    return df


def in_window(df: pd.DataFrame, start, end) -> pd.DataFrame:
    return df[(df["start"] >= pd.Timestamp(start)) & (df["start"] < pd.Timestamp(end))]


def sums(df: pd.DataFrame, by: list[str]) -> dict[tuple, dict[str, float]]:
    out = {}
    for key, g in df.groupby(by, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out[key] = {
            "effective": float(sum(g["EffectiveCost"], Decimal(0))),
            "billed": float(sum(g["BilledCost"], Decimal(0))),
            "list": float(sum(g["ListCost"], Decimal(0))),
            "n": len(g),
        }
    return out
