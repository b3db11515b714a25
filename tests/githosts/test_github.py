"""The github source on a recorded repository: rows, pages, ETags, increments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlreport.warehouse import Warehouse
from tests.githosts.github_repo import BASE, add_deployment, add_pull, github_host, populate
from tests.githosts.helpers import cursors, rows, sync, write_config


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "ghp_secretvalue123")
    config = write_config(
        tmp_path, "github", repo="octo/app", token="${GH_TOKEN}", entity="credit-risk", per_page=2
    )
    host = github_host()
    populate(host)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield config, host, wh


def test_first_sync_writes_every_table(setup):
    config, host, wh = setup
    stats = sync(wh, config, host)
    assert stats.error is None
    pulls = rows(
        wh,
        "SELECT number, title, author, created_at, merged_at, merge_sha, head_sha, base_ref, "
        "first_commit_at, first_review_at, additions, deletions, labels, repo, source "
        "FROM pull_requests ORDER BY number",
    )
    assert [p[0] for p in pulls] == [1, 2, 4, 5]  # 3 was closed without merging
    one = pulls[0]
    assert one[1:3] == ("Change 1", "octocat")
    assert (one[3], one[4]) == (t(1), t(3))
    assert one[5] == f"{1:040x}" and one[7] == "master"
    assert one[8] == t(1) and one[9] == t(2)
    assert one[10:13] == (10, 1, ["feature"])
    assert one[13:] == ("host", "host")
    # 2: the author's own comment is not a review; 4: a pending review is not submitted
    assert pulls[1][9] == t(4) and pulls[2][9] == t(7)
    assert pulls[3][8] is None and pulls[3][9] is None  # no commits listed, no reviews

    deps = rows(
        wh,
        "SELECT deployment_id, entity, environment, version, commit_sha, started_at, "
        "finished_at, status FROM deployments ORDER BY deployment_id",
    )
    assert deps == [
        ("11", "credit-risk", "production", "v1.11", f"{11:040x}", t(4), t(4, 2), "success"),
        ("12", "credit-risk", "production", "v1.12", f"{12:040x}", t(6), t(6, 2), "failure"),
        # inactive after success: the latest *terminal* status gives state and time
        ("13", "credit-risk", "production", "v1.13", f"{13:040x}", t(8), t(8, 1), "success"),
    ]  # 14 is still queued: not finished, watched for the next sync
    assert "14" in cursors(wh)["deployments"]["watch"]

    incidents = rows(
        wh,
        "SELECT incident_id, entity, environment, severity, detected_at, resolved_at, title "
        "FROM incidents ORDER BY incident_id",
    )
    assert incidents == [
        ("21", "credit-risk", "production", "high", t(6), t(7), "Outage 21"),
        ("22", "credit-risk", "production", None, t(9), None, "Outage 22"),
    ]  # 23 is a pull request listed by the issues API
    assert rows(wh, "SELECT kind, tag, sha, prerelease FROM releases ORDER BY kind, tag") == [
        ("release", "v1.11", None, True),
        ("release", "v1.13", None, False),
        ("tag", "v1.0", f"{1:040x}", None),
        ("tag", "v1.11", f"{11:040x}", None),
        ("tag", "v1.13", f"{13:040x}", None),
    ]
    assert rows(wh, "SELECT repo, entity FROM repo_entities") == [("host", "credit-risk")]
    # per_page = 2: the listings were followed over their Link headers
    pages = [r.url.params.get("page") for r in host.requests if host._path(r) == f"{BASE}/pulls"]
    assert pages == [None, "2", "3"]
    assert all(r.headers["authorization"] == "Bearer ghp_secretvalue123" for r in host.requests)
    assert host.requests[0].headers["x-github-api-version"] == "2022-11-28"


def test_unchanged_repository_costs_no_rate_limit(setup):
    config, host, wh = setup
    sync(wh, config, host)
    before = rows(wh, "SELECT * EXCLUDE (synced_at) FROM pull_requests ORDER BY number")
    spent, state = host.counted, cursors(wh)
    stats = sync(wh, config, host)
    assert stats.rows == 0
    assert host.counted == spent + 2  # 304s, but for the tags (2 pages, read in full)
    assert stats.reads["requests"] == 2 and stats.reads["not_modified"] >= 5
    assert rows(wh, "SELECT * EXCLUDE (synced_at) FROM pull_requests ORDER BY number") == before
    assert cursors(wh) == state


def test_second_sync_reads_only_what_changed(setup):
    config, host, wh = setup
    sync(wh, config, host)
    add_pull(host, 6, 9, 10, 10, [8], [("hubot", 9, "APPROVED")])
    add_pull(host, 2, 2, 5, 11, [1], [("octocat", 3, "COMMENTED"), ("mona", 4, "APPROVED")])
    host.routes[f"{BASE}/pulls/2"]["title"] = "Change 2, retitled"
    add_deployment(host, 14, 9, "staging", [("queued", 9), ("error", 10)])
    host.requests.clear()
    stats = sync(wh, config, host)
    assert stats.streams["pull_requests"].rows == 2
    assert stats.streams["deployments"].rows == 1
    details = {p for p in host.paths() if p.startswith(f"{BASE}/pulls/")}
    assert details == {f"{BASE}/pulls/{n}{s}" for n in (2, 6) for s in ("", "/commits", "/reviews")}
    assert rows(wh, "SELECT title FROM pull_requests WHERE number = 2") == [("Change 2, retitled",)]
    assert rows(wh, "SELECT status, finished_at FROM deployments WHERE deployment_id = '14'") == [
        ("failure", t(10, 2))
    ]
    assert cursors(wh)["pull_requests"]["since"] == "2026-03-11T00:00:00Z"


def test_full_resync_is_idempotent(setup):
    config, host, wh = setup
    sync(wh, config, host)
    first = rows(wh, "SELECT * EXCLUDE (synced_at) FROM deployments ORDER BY deployment_id")
    sync(wh, config, host, full=True)
    assert rows(wh, "SELECT * EXCLUDE (synced_at) FROM deployments ORDER BY deployment_id") == first
    assert rows(wh, "SELECT count(*) FROM pull_requests") == [(4,)]


def test_several_entities_get_a_row_each(tmp_path):
    config = write_config(tmp_path, "github", repo="octo/app", entities=["a", "b"])
    host = github_host()
    add_deployment(host, 11, 4, "production", [("success", 4)])
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync(wh, config, host)
        assert rows(wh, "SELECT deployment_id, entity FROM deployments ORDER BY 1") == [
            ("11:a", "a"),
            ("11:b", "b"),
        ]


def test_entity_defaults_to_the_repository_name(tmp_path):
    config = write_config(tmp_path, "github", repo="octo/app")
    host = github_host()
    add_deployment(host, 11, 4, "production", [("success", 4)])
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync(wh, config, host)
        assert rows(wh, "SELECT entity FROM deployments") == [("app",)]
        assert rows(wh, "SELECT kind, name, declared FROM entities") == [("service", "app", False)]


def test_empty_repository(tmp_path):
    config = write_config(tmp_path, "github", repo="octo/app", entity="x")
    host = github_host()
    with Warehouse(tmp_path / "w.duckdb") as wh:
        stats = sync(wh, config, host)
        assert stats.error is None and stats.rows == 1  # the repo_entities mapping only
        for table in ("pull_requests", "deployments", "incidents", "releases"):
            assert rows(wh, f"SELECT count(*) FROM {table}") == [(0,)]


def test_enterprise_api_url_keeps_its_path(tmp_path):
    config = write_config(
        tmp_path, "github", repo="octo/app", api_url="https://ghe.example.com/api/v3/"
    )
    host = github_host("https://ghe.example.com/api/v3")
    populate(host)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync(wh, config, host)
        assert rows(wh, "SELECT count(*) FROM pull_requests") == [(4,)]
    assert all(r.url.path.startswith("/api/v3/repos/octo/app") for r in host.requests)
