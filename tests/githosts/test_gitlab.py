"""The gitlab source on a recorded project: rows, pages, ETags, updated_after, errors."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import httpx
import pytest

from mlreport.sources import SourceError
from mlreport.warehouse import Warehouse
from tests.githosts.fakehost import fixture
from tests.githosts.gitlab_project import (
    BASE,
    add_deployment,
    add_merge_request,
    gitlab_host,
    populate,
)
from tests.githosts.helpers import cursors, rows, sync, write_config

TOKEN = "glpat-secretvalue456"


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture(params=["gitlab", "gitlab-offset"])
def setup(request, tmp_path, monkeypatch):
    """Both ways GitLab pages: Link headers (with x-next-page) and x-next-page alone."""
    monkeypatch.setenv("GL_TOKEN", TOKEN)
    config = write_config(
        tmp_path,
        "gitlab",
        project="my-group/my-project",
        url="https://gitlab.example.com",
        token="${GL_TOKEN}",
        entity="fraud",
        per_page=1,
        max_wait=30,
    )
    host = gitlab_host(request.param)
    populate(host)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield config, host, wh


def test_first_sync(setup):
    config, host, wh = setup
    stats = sync(wh, config, host)
    assert stats.error is None
    assert rows(
        wh,
        "SELECT deployment_id, entity, environment, commit_sha, started_at, finished_at, status "
        "FROM deployments ORDER BY 1",
    ) == [
        ("41", "fraud", "production", f"{41:040x}", t(4, 1), t(4, 2), "success"),
        ("42", "fraud", "production", f"{42:040x}", t(5, 1), t(5, 2), "failure"),
    ]  # running and canceled deployments are not finished ones
    assert rows(
        wh,
        "SELECT number, author, created_at, merged_at, merge_sha, base_ref, first_commit_at, "
        "first_review_at, additions, labels FROM pull_requests ORDER BY number",
    ) == [
        (
            1,
            "admin",
            t(1),
            t(3),
            f"{1:040x}",
            "main",
            t(1),
            t(2),
            None,
            ["Community contribution", "Manage"],
        ),
        (
            2,
            "admin",
            t(2),
            t(4),
            f"{2:040x}",
            "main",
            t(2),
            t(3),
            None,
            ["Community contribution", "Manage"],
        ),
        (
            3,
            "admin",
            t(3),
            t(5),
            f"{3:040x}",
            "main",
            None,
            None,
            None,
            ["Community contribution", "Manage"],
        ),
    ]  # 1: the author's note and the system's "added 1 commit" are not reviews; approval is
    assert rows(wh, "SELECT incident_id, severity, detected_at, resolved_at FROM incidents") == [
        ("6", "high", t(5), t(6))
    ]
    assert rows(wh, "SELECT kind, tag, sha FROM releases ORDER BY kind") == [
        ("release", "v0.2", "079e90101242458910cccd35eab0e211dfc359c0"),
        ("tag", "v1.0.0", "2695effb5807a22ff3d138d593fd856244e155e7"),
    ]
    assert all(r.headers["private-token"] == TOKEN for r in host.requests)
    assert all("authorization" not in r.headers for r in host.requests)
    assert f"{BASE}/merge_requests" in host.paths()  # the project path is URL-encoded
    asked = [r for r in host.requests if host._path(r) == f"{BASE}/deployments"]
    # keyset first (answered 405: deployments have none), then offset pages 1-4
    assert asked[0].url.params["pagination"] == "keyset"
    assert [r.url.params.get("page") for r in asked[1:]] == [None, "2", "3", "4"]


def test_second_sync_asks_updated_after_and_reuses_etags(setup):
    config, host, wh = setup
    sync(wh, config, host)
    assert cursors(wh)["deployments"]["since"] == "2026-03-07T03:00:00Z"
    # GitLab's updated_after means "on or after": the cursor's second is asked again (one page
    # per stream), and what was read then is skipped; from then on the query is fixed: 304s
    assert sync(wh, config, host).rows == 0
    spent = host.counted
    stats = sync(wh, config, host)
    assert stats.rows == 0 and host.counted == spent and stats.reads["not_modified"] == 5
    add_deployment(host, 43, 6, "success", updated=9)  # the running one finished
    add_merge_request(host, 4, 6, 8, 8, [7], [])
    host.requests.clear()
    stats = sync(wh, config, host)
    assert stats.streams["deployments"].rows == 1 and stats.streams["pull_requests"].rows == 1
    asked = [r for r in host.requests if host._path(r) == f"{BASE}/deployments"]
    assert asked[0].url.params["updated_after"] == "2026-03-07T03:00:00Z"
    assert asked[0].url.params["order_by"] == "updated_at"
    assert rows(wh, "SELECT status FROM deployments WHERE deployment_id = '43'") == [("success",)]


def test_keyset_pagination_where_the_endpoint_has_it(setup):
    config, host, wh = setup
    add_issue = fixture(
        "gitlab",
        "issue",
        id=78,
        iid=8,
        created_at="2026-03-08T00:00:00Z",
        closed_at=None,
        updated_at="2026-03-08T00:00:00Z",
        labels=["incident"],
    )
    host.routes[f"{BASE}/issues"].append(add_issue)
    sync(wh, config, host)
    issues = [r for r in host.requests if host._path(r) == f"{BASE}/issues"]
    assert [r.url.params.get("cursor") is not None for r in issues] == [False, True]
    assert all(
        r.url.params["pagination"] == "keyset" and "page" not in r.url.params for r in issues
    )
    assert rows(wh, "SELECT incident_id FROM incidents ORDER BY 1") == [("6",), ("8",)]
    state = cursors(wh)
    assert state["incidents"]["keyset"] is True and state["deployments"]["keyset"] is False
    host.requests.clear()
    sync(wh, config, host)  # the 405 is remembered: no second try on deployments
    deployments = [r for r in host.requests if host._path(r) == f"{BASE}/deployments"]
    assert deployments and all("pagination" not in r.url.params for r in deployments)


def test_rate_limit_429_waits_or_stops(setup):
    config, host, wh = setup
    soon = {"ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time() + 10))}
    host.queue(f"{BASE}/releases", httpx.Response(429, json={"message": "x"}, headers=soon))
    waits: list[float] = []
    assert sync(wh, config, host, waits=waits).error is None
    assert len(waits) == 1 and waits[0] <= 30
    state = cursors(wh)
    add_merge_request(host, 4, 6, 8, 8, [7], [])
    late = {"retry-after": "3600"}
    host.queue(f"{BASE}/merge_requests/4/notes", httpx.Response(429, headers=late))
    with pytest.raises(SourceError, match="GitLab API rate limit is used up until"):
        sync(wh, config, host, waits=[])
    assert cursors(wh)["pull_requests"] == state["pull_requests"]  # the stream that stopped
    assert rows(wh, "SELECT count(*) FROM pull_requests") == [(3,)]


def test_unauthorized_and_unknown_project(setup, caplog):
    config, host, wh = setup
    caplog.set_level(logging.DEBUG)
    host.queue(f"{BASE}/deployments", httpx.Response(401, json=fixture("gitlab", "unauthorized")))
    with pytest.raises(SourceError) as err:
        sync(wh, config, host)
    assert "sources[0].token" in str(err.value) and "401 Unauthorized" in str(err.value)
    del host.routes[f"{BASE}/deployments"]
    with pytest.raises(SourceError) as err:
        sync(wh, config, host)
    assert "404 Project Not Found" in str(err.value)
    assert "check project = 'my-group/my-project'" in str(err.value)
    assert TOKEN not in str(err.value) and TOKEN not in caplog.text


def test_malformed_json(setup):
    config, host, wh = setup
    host.queue(f"{BASE}/merge_requests", httpx.Response(200, content=b"<html>oops"))
    with pytest.raises(SourceError, match="not valid JSON"):
        sync(wh, config, host)
    assert "pull_requests" not in cursors(wh)
    assert rows(wh, "SELECT count(*) FROM deployments") == [(2,)]  # the stream before is kept


def test_numeric_project_id_and_options(tmp_path):
    from mlreport.config import ConfigError

    config = write_config(tmp_path, "gitlab", project=3)
    host = FakeHostAlias = gitlab_host()  # noqa: F841
    host.routes = {k.replace(BASE, "/projects/3"): v for k, v in host.routes.items()}
    host.filters = {k.replace(BASE, "/projects/3"): v for k, v in host.filters.items()}
    host.base = httpx.URL("https://gitlab.com/api/v4")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert sync(wh, config, host).error is None
    assert all(r.url.host == "gitlab.com" for r in host.requests)
    for bad, message in [
        ({"project": "no-group"}, "group/name"),
        ({"project": "a/b", "url": "https://gitlab.com/api/v4"}, "without /api/v4"),
        ({"project": "a/b", "url": "gitlab.com"}, "http:// or https://"),
    ]:
        cfg = write_config(tmp_path, "gitlab", **bad)
        with pytest.raises(ConfigError, match=message):
            from tests.githosts.helpers import make_source

            make_source(cfg, host)


def test_empty_project(tmp_path):
    config = write_config(
        tmp_path,
        "gitlab",
        project="my-group/my-project",
        entity="fraud",
        url="https://gitlab.example.com",
    )
    host = gitlab_host()
    with Warehouse(tmp_path / "w.duckdb") as wh:
        stats = sync(wh, config, host)
        assert stats.error is None and stats.rows == 1  # the repo_entities mapping only
        for table in ("pull_requests", "deployments", "incidents", "releases"):
            assert rows(wh, f"SELECT count(*) FROM {table}") == [(0,)]
        assert sync(wh, config, host).rows == 0
