"""The ``delivery`` family against an independent pandas/numpy computation on generated data."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from mlreport.config import parse_config
from mlreport.metrics import MetricRequest, Window, compute_metrics, run_metrics
from mlreport.warehouse import Warehouse

START = datetime(2026, 1, 1, tzinfo=UTC)
ENVS = ["production", "prod", "staging"]


def generate(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pull requests of three repos (two entities share one), deployments of both entities."""
    rng = np.random.default_rng(seed)
    mapping = pd.DataFrame({"repo": ["svc-a", "svc-b", "shared"], "entity": ["a", "b", "a"]})
    mapping = pd.concat([mapping, pd.DataFrame({"repo": ["shared"], "entity": ["b"]})])
    n = 300
    created = START + pd.to_timedelta(rng.uniform(0, 80, n), unit="D")
    first_commit = created - pd.to_timedelta(rng.exponential(30, n), unit="h")
    first_commit = first_commit.where(rng.random(n) > 0.1)  # some without commits listed
    review = created + pd.to_timedelta(rng.exponential(10, n), unit="h")
    review = review.where(rng.random(n) > 0.2)  # some never reviewed
    merged = created + pd.to_timedelta(rng.exponential(40, n), unit="h")
    merged = merged.where(rng.random(n) > 0.05)  # a few closed, not merged
    prs = pd.DataFrame(
        {
            "repo": rng.choice(["svc-a", "svc-b", "shared"], n),
            "number": np.arange(1, n + 1),
            "created_at": created,
            "first_commit_at": first_commit,
            "first_review_at": review,
            "merged_at": merged,
        }
    )
    m = 120
    deps = pd.DataFrame(
        {
            "source": "ci",
            "deployment_id": [f"d{i}" for i in range(m)],
            "entity": rng.choice(["a", "b"], m),
            "environment": rng.choice(ENVS, m),
            "finished_at": START + pd.to_timedelta(rng.uniform(0, 90, m), unit="D"),
            "status": rng.choice(["success", "success", "success", "failure"], m),
        }
    )
    return mapping, prs, deps


def load(wh: Warehouse, mapping, prs, deps) -> None:
    for name, frame in (("repo_entities", mapping), ("pull_requests", prs), ("deployments", deps)):
        cols = ", ".join(frame.columns)
        wh.con.register("_frame", frame)
        wh.con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _frame")
        wh.con.unregister("_frame")


def reference(mapping, prs, deps, windows: list[Window]) -> dict:
    """Per (metric, entity, window, dims): (value, n), computed without the family's SQL."""
    out = {}
    merged = prs[prs.merged_at.notna()].merge(mapping, on="repo")
    prod = deps[(deps.status == "success") & deps.environment.isin(["production", "prod"])]
    for (entity, env), group in prod.groupby(["entity", "environment"]):
        times = sorted(group.finished_at)
        for _, pr in merged[merged.entity == entity].iterrows():
            i = bisect.bisect_left(times, pr.merged_at)  # first finished at or after the merge
            if i == len(times):
                continue
            deployed = times[i]
            began = pr.first_commit_at if pd.notna(pr.first_commit_at) else pr.created_at
            hours = (deployed - began).total_seconds() / 3600
            for w in windows:
                if w.start <= deployed < w.end:
                    out.setdefault(("delivery.lead_time", entity, w, env), []).append(hours)
    for entity, group in merged.groupby("entity"):
        for w in windows:
            inside = group[(group.merged_at >= w.start) & (group.merged_at < w.end)]
            if inside.empty:
                continue
            hours = (inside.first_review_at - inside.created_at).dt.total_seconds() / 3600
            out[("delivery.review_time", entity, w, None)] = list(hours.dropna())
            out[("delivery.unreviewed", entity, w, None)] = int(hours.isna().sum())
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equal_to_pandas(tmp_path, seed):
    mapping, prs, deps = generate(seed)
    config = parse_config("", None, tmp_path)
    windows = [
        Window(START + timedelta(days=30 * i), START + timedelta(days=30 * (i + 1)))
        for i in range(3)
    ]
    windows.append(Window(START, START + timedelta(days=90)))  # overlapping windows too
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load(wh, mapping, prs, deps)
        got = compute_metrics(wh, config, windows, "delivery.*", store=False)
    expected = reference(mapping, prs, deps, windows)
    checked = 0
    for (metric, entity, w, env), values in expected.items():
        sel = got.filter(
            (pl.col("metric") == metric)
            & (pl.col("entity") == entity)
            & (pl.col("window_start") == w.start)
            & (pl.col("window_end") == w.end)
        )
        if env is not None:
            sel = sel.filter(pl.col("dimensions").str.contains(f'"environment":"{env}"'))
        if metric == "delivery.unreviewed":
            assert sel["value"].to_list() == [float(values)]
            checked += 1
            continue
        for stat, q in (("p50", 50), ("p75", 75), ("p90", 90)):
            one = sel.filter(pl.col("dimensions").str.contains(f'"stat":"{stat}"'))
            assert one.height == 1, (metric, entity, w, env, stat)
            assert one["n"][0] == len(values)
            want = float(np.percentile(values, q)) if values else None
            assert one["value"][0] == pytest.approx(want, rel=1e-9, abs=1e-6)
            checked += 1
    assert checked > 40
    rows_for_expected = {(m, e, w.start, w.end) for m, e, w, _ in expected}
    assert {
        (r["metric"], r["entity"], r["window_start"], r["window_end"])
        for r in got.iter_rows(named=True)
    } == rows_for_expected  # no row the reference does not have


def test_lead_time_is_graded_with_the_dora_levels(tmp_path):
    mapping, prs, deps = generate(4)
    config = parse_config("", None, tmp_path)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load(wh, mapping, prs, deps)
        got = compute_metrics(
            wh, config, [Window(START, START + timedelta(days=90))], "delivery.lead_time"
        )
    p50 = got.filter(pl.col("dimensions").str.contains("p50"))
    assert p50.height > 0 and all(b in {"elite", "high", "medium", "low"} for b in p50["band"])
    assert got.filter(pl.col("dimensions").str.contains("p90"))["band"].null_count() > 0


def test_no_pull_requests_no_rows_and_dora_unchanged(tmp_path):
    config = parse_config("", None, tmp_path)
    _, _, deps = generate(5)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load(wh, pd.DataFrame({"repo": [], "entity": []}), generate(5)[1].iloc[:0], deps)
        window = Window(START, START + timedelta(days=90))
        assert compute_metrics(wh, config, [window], "delivery.*", store=False).height == 0
        run = run_metrics(wh, config, [MetricRequest("dora.lead_time", (window,))])
        assert run.families == ["dora"]  # the commit basis is dora's own, untouched


def test_details_are_published(tmp_path):
    mapping, prs, deps = generate(6)
    config = parse_config("", None, tmp_path)
    window = Window(START, START + timedelta(days=90))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load(wh, mapping, prs, deps)
        run = run_metrics(wh, config, [MetricRequest("delivery.*", (window,), details=True)])
    frame = run.details["delivery_pull_requests"]
    merged = prs.merged_at.notna().sum()
    assert (
        frame.select("entity", "repo", "number").unique().height
        == len(prs[prs.merged_at.notna()].merge(mapping, on="repo"))
        and merged > 0
    )
    shipped = frame.filter(pl.col("lead_time_hours").is_not_null())
    assert (shipped["deployed_at"] >= shipped["merged_at"]).all()


def test_an_entity_filter_gives_that_entitys_rows_unchanged(tmp_path):
    mapping, prs, deps = generate(7)
    config = parse_config("", None, tmp_path)
    window = [Window(START, START + timedelta(days=90))]
    with Warehouse(tmp_path / "w.duckdb") as wh:
        load(wh, mapping, prs, deps)
        only = compute_metrics(wh, config, window, "delivery.*", entities=["b"], store=False)
        every = compute_metrics(wh, config, window, "delivery.*", store=False)
    assert only.height > 0 and only["entity"].unique().to_list() == ["b"]
    assert only.equals(every.filter(pl.col("entity") == "b"))
