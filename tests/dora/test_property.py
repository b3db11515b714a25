"""Every dora and ops metric equals the plain-Python reference on random histories."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlreport.metrics import Window, split_window
from mlreport.warehouse import Warehouse

from .builder import Data, compute, config, t
from .reference import reference

ENTITIES = ["alpha", "beta", "gamma"]
ENVS = ["production", "prod", "staging"]


@st.composite
def histories(draw) -> tuple[Data, list[Window], float, list[str] | None]:
    data = Data()
    shas: list[str] = []
    for repo in draw(st.sampled_from([["r1"], ["r1", "r2"]])):
        n = draw(st.integers(1, 25))
        local: list[str] = []
        for i in range(n):
            shape = draw(st.sampled_from(["line"] * 6 + ["jump", "jump", "merge", "merge", "root"]))
            parents: list[str] = []
            if local and shape in ("line", "merge"):
                parents.append(local[-1])
            if local and shape in ("jump", "merge"):
                parents.append(draw(st.sampled_from(local)))
            if local and shape == "merge" and draw(st.booleans()):
                parents.append(draw(st.sampled_from(local)))  # an octopus merge
            parents = sorted(set(parents))
            sha = f"{repo}-{i}"
            authored = None if draw(st.integers(0, 30)) == 0 else t(hours=draw(st.integers(0, 600)))
            data.commit(sha, tuple(parents), authored=authored, repo=repo)
            local.append(sha)
        shas += local
    if len(shas) > 3 and draw(st.booleans()):
        # the same sha in two repositories (a fork): linking must pick deterministically
        other = draw(st.sampled_from(shas))
        data.commit(other, (), authored=t(), repo="r0")
    for entity in ENTITIES:
        if draw(st.booleans()):
            data.map(draw(st.sampled_from(["r0", "r1", "r2"])), entity)
    for i in range(draw(st.integers(0, 30))):
        roll = draw(st.integers(0, 20))
        sha = None if roll == 0 else ("unknown" if roll == 1 else draw(st.sampled_from(shas)))
        data.deploy(
            f"d{i}",
            sha,
            t(hours=draw(st.integers(0, 700))),
            entity=draw(st.sampled_from(ENTITIES)),
            environment=draw(st.sampled_from(ENVS)),
            status=draw(st.sampled_from(["success", "success", "failure", "rolled_back"])),
            kind=draw(st.sampled_from(["planned", "planned", "hotfix", "rollback"])),
            trigger=draw(st.sampled_from(["automated", "manual", None])),
            source=draw(st.sampled_from(["ci", "cd"])),
        )
    ids = [d["deployment_id"] for d in data.deployments] + ["nope", " ", ""]
    for i in range(draw(st.integers(0, 12))):
        entity = draw(st.sampled_from(ENTITIES))
        env = draw(st.sampled_from(["production", "prod", "staging", None]))
        if data.deployments and draw(st.booleans()):
            # right at a deployment, or exactly at the edges of the attribution windows
            anchor = draw(st.sampled_from(data.deployments))
            entity = anchor["entity"]
            env = draw(st.sampled_from([anchor["environment"], None]))
            after = draw(st.sampled_from([0, 1, 12, 13, 48, 168, 169]))
            detected = int((anchor["finished_at"] - t()).total_seconds() // 3600) + after
        else:
            detected = draw(st.integers(0, 720))
        resolved = draw(st.one_of(st.none(), st.integers(-5, 100)))
        data.incident(
            f"i{i}",
            t(hours=detected),
            None if resolved is None else t(hours=detected + resolved),
            entity=entity,
            environment=env,
            cause=draw(st.one_of(st.none(), st.none(), st.sampled_from(ids))),
        )
    for i, inc in enumerate(draw(st.lists(st.sampled_from(data.incidents or [None]), max_size=3))):
        if inc is not None:  # deployments exactly when an incident opens or closes
            edge = draw(st.sampled_from([inc["detected_at"], inc["resolved_at"]]))
            if edge is not None:
                data.deploy(f"edge{i}", None, edge, entity=inc["entity"])
    kind = draw(st.sampled_from(["one", "weeks", "overlap"]))
    whole = Window(t(days=draw(st.integers(0, 10))), t(days=draw(st.integers(11, 31))))
    if kind == "one":
        windows = [whole]
    elif kind == "weeks":
        windows = split_window(whole, "week")
    else:
        windows = [whole, Window(whole.start + timedelta(days=3), whole.end + timedelta(days=2))]
    days = draw(st.sampled_from([7.0, 0.5, 2.0]))
    entities = draw(st.sampled_from([None, ["alpha"], ["beta", "gamma"]]))
    return data, windows, days, entities


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    with Warehouse(tmp_path_factory.mktemp("prop") / "w.duckdb") as w:
        yield w


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories())
def test_every_metric_matches_the_reference(wh, history):
    data, windows, days, entities = history
    data.write(wh)
    cfg = config(f"[metrics]\nattribution_window_days = {days}\n")
    got = compute(wh, windows, cfg, entities)
    want = reference(
        data.commits,
        data.deployments,
        data.incidents,
        data.repo_entities,
        windows,
        attribution_days=days,
        entities=entities,
    )
    rows = {
        (r["metric"], r["entity"], r["window_start"], r["dimensions"]): (r["value"], r["n"])
        for r in got.iter_rows(named=True)
    }
    assert len(rows) == got.height, "duplicate rows"
    assert set(rows) == set(want)
    for key, (value, n) in want.items():
        got_value, got_n = rows[key]
        assert got_n == n, key
        if value is None:
            assert got_value is None, key
        else:
            assert got_value is not None and math.isclose(got_value, value, rel_tol=1e-9), (
                key,
                got_value,
                value,
            )
