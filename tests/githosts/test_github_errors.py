"""The github source when things go wrong: rate limits, 401/404, malformed answers.

Each failure must name the source and what to do, leave stored rows and cursors as they were,
and never show the token."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from mlreport.sources import SourceError
from mlreport.warehouse import Warehouse
from tests.githosts.fakehost import fixture
from tests.githosts.github_repo import BASE, add_pull, github_host, populate
from tests.githosts.helpers import cursors, rows, sync, write_config

TOKEN = "ghp_secretvalue123"


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    config = write_config(
        tmp_path, "github", repo="octo/app", token="${GH_TOKEN}", per_page=2, max_wait=60
    )
    host = github_host()
    populate(host)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        yield config, host, wh


def limited(reset_in: float) -> httpx.Response:
    """GitHub's primary rate limit answer (403 with remaining 0 and the reset time)."""
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(time.time() + reset_in)),
    }
    return httpx.Response(403, json=fixture("github", "rate_limited"), headers=headers)


def snapshot(wh: Warehouse) -> tuple:
    return (
        rows(wh, "SELECT * EXCLUDE (synced_at) FROM pull_requests ORDER BY number"),
        rows(wh, "SELECT * EXCLUDE (synced_at) FROM deployments ORDER BY deployment_id"),
        cursors(wh),
    )


def changed_since_first_sync(host) -> None:
    add_pull(host, 6, 9, 10, 10, [8], [])


def test_rate_limit_resetting_soon_is_waited_for(setup):
    config, host, wh = setup
    host.queue(f"{BASE}/pulls", limited(reset_in=20))
    waits: list[float] = []
    stats = sync(wh, config, host, waits=waits)
    assert stats.error is None and stats.reads["rate_limited"] == 1
    assert len(waits) == 1 and 0 < waits[0] <= 60
    assert rows(wh, "SELECT count(*) FROM pull_requests") == [(4,)]


def test_a_limit_that_does_not_lift_is_an_error(setup):
    config, host, wh = setup
    for _ in range(4):
        host.queue(f"{BASE}/deployments", limited(reset_in=5))
    waits: list[float] = []
    with pytest.raises(SourceError, match="still rate limited after waiting for the reset 3"):
        sync(wh, config, host, waits=waits)
    assert len(waits) == 3


def test_rate_limit_resetting_late_stops_with_a_clear_message(setup):
    config, host, wh = setup
    sync(wh, config, host)
    before = snapshot(wh)
    changed_since_first_sync(host)
    host.queue(f"{BASE}/pulls/6/reviews", limited(reset_in=3600))
    with pytest.raises(SourceError) as err:
        sync(wh, config, host, waits=[])
    message = str(err.value)
    assert message.startswith("the GitHub API rate limit is used up until")
    assert "run the sync again after that time" in message and "max_wait = 60" in message
    assert snapshot(wh) == before  # the pull request read before the stop is not half-stored
    stats = sync(wh, config, host)  # after the reset: the change is read
    assert stats.streams["pull_requests"].rows == 1


def test_403_without_rate_limit_headers_is_a_permission_error(setup):
    config, host, wh = setup
    host.queue(f"{BASE}/pulls", httpx.Response(403, json={"message": "Resource not accessible"}))
    with pytest.raises(SourceError, match=r"HTTP 403.*sources\[0\]\.token.*scopes"):
        sync(wh, config, host)


def test_bad_credentials(setup, caplog):
    config, host, wh = setup
    host.queue(
        BASE + "/deployments", httpx.Response(401, json=fixture("github", "bad_credentials"))
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as err:
        sync(wh, config, host)
    message = str(err.value)
    assert "GET /repos/octo/app/deployments: HTTP 401" in message
    assert "sources[0].token" in message and "Bad credentials" in message
    assert TOKEN not in message and TOKEN not in caplog.text


def test_unknown_repository(setup):
    config, host, wh = setup
    del host.routes[f"{BASE}/deployments"]
    with pytest.raises(SourceError) as err:
        sync(wh, config, host)
    assert "HTTP 404" in str(err.value) and "check repo = 'octo/app'" in str(err.value)
    assert "private repository" in str(err.value)


def test_malformed_json_keeps_everything(setup):
    config, host, wh = setup
    sync(wh, config, host)
    before = snapshot(wh)
    changed_since_first_sync(host)
    host.queue(
        f"{BASE}/pulls/6/commits",
        httpx.Response(200, content=b'[{"sha": "abc", "commit": {', headers={"etag": '"x"'}),
    )
    with pytest.raises(SourceError, match=r"/pulls/6/commits: the response is not valid JSON"):
        sync(wh, config, host)
    assert snapshot(wh) == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "not a list"}, "expected a JSON array, got dict"),
        (["a string"], "item 0 is str, not an object"),
        ([{"id": 1, "environment": "production"}], "item 1: field 'created_at' is missing"),
        (
            [fixture("github", "deployment", created_at="yesterday")],
            "field 'created_at' is 'yesterday', not an ISO time",
        ),
    ],
)
def test_answers_of_the_wrong_shape(setup, body, expected):
    config, host, wh = setup
    host.routes[f"{BASE}/deployments"] = body
    with pytest.raises(SourceError, match=expected):
        sync(wh, config, host)
    assert cursors(wh).get("deployments") is None


def test_a_next_page_on_another_host_is_not_followed(setup):
    config, host, wh = setup
    evil = '<https://evil.example.com/steal?page=2>; rel="next"'
    host.queue(f"{BASE}/deployments", httpx.Response(200, json=[], headers={"link": evil}))
    with pytest.raises(SourceError, match="another host; not followed"):
        sync(wh, config, host)
    assert not any(r.url.host == "evil.example.com" for r in host.requests)


def test_a_page_loop_is_stopped(setup):
    config, host, wh = setup
    url = f"https://api.github.com{BASE}/tags?page=2"
    link = {"link": f'<{url}>; rel="next"'}
    host.routes[f"{BASE}/tags"] = []
    for _ in range(3):
        host.queue(f"{BASE}/tags", httpx.Response(200, json=[], headers=link))
    with pytest.raises(SourceError, match="pointed back to a page already read"):
        sync(wh, config, host)


def test_a_moved_repository_is_named_not_followed(setup):
    config, host, wh = setup
    moved = {"location": "https://api.github.com/repositories/42/deployments"}
    body = {"message": "Moved Permanently", "url": moved["location"]}
    host.queue(f"{BASE}/deployments", httpx.Response(301, json=body, headers=moved))
    host.queue(f"{BASE}/deployments", httpx.Response(302, content=b"<html>", headers=moved))
    with pytest.raises(SourceError, match=r"HTTP 301 \(moved\) to https://api.github.com/repos"):
        sync(wh, config, host)
    with pytest.raises(SourceError, match=r"HTTP 302 \(moved\)"):  # a body that is not JSON
        sync(wh, config, host)
    assert len([r for r in host.requests if "repositories/42" in str(r.url)]) == 0


def test_hostile_and_duplicated_items(setup):
    """Text is stored as given (reports escape it); an item listed on two pages (the list
    moved while paging) is stored once; invalid UTF-8 is a clear error."""
    config, host, wh = setup
    hostile = "<script>alert(1)</script> file:///etc/passwd " + "x" * 100_000
    host.routes[f"{BASE}/pulls/1"]["title"] = hostile
    listing = host.routes[f"{BASE}/pulls"]
    host.routes[f"{BASE}/pulls"] = listing[:2] + [listing[1]] + listing[2:]  # 2 listed twice
    sync(wh, config, host)
    assert rows(wh, "SELECT title FROM pull_requests WHERE number = 1") == [(hostile,)]
    assert rows(wh, "SELECT count(*), count(DISTINCT number) FROM pull_requests") == [(4, 4)]
    host.queue(f"{BASE}/releases", httpx.Response(200, content=b'[{"tag_name": "v\xff"}]'))
    with pytest.raises(SourceError, match="releases: the response is not valid JSON"):
        sync(wh, config, host)


def test_numbers_of_the_wrong_type(setup):
    config, host, wh = setup
    host.routes[f"{BASE}/pulls/1"]["additions"] = "100"
    with pytest.raises(SourceError, match=r"item 1: field 'additions' is '100', not a whole"):
        sync(wh, config, host)
    assert rows(wh, "SELECT count(*) FROM pull_requests") == [(0,)]
