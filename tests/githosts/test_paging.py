"""Link headers, x-next-page, Retry-After and `mlreport doctor`'s check, one by one."""

from __future__ import annotations

import httpx
import pytest

from mlreport.connectors.githosts.paging import _retry_after, next_page, parse_links
from mlreport.sources import SourceError
from mlreport.warehouse import Warehouse
from tests.githosts.github_repo import BASE, github_host
from tests.githosts.helpers import make_source, write_config


def test_link_header_rels():
    value = (
        '<https://api.github.com/repositories/1/pulls?page=3>; rel="next", '
        '<https://api.github.com/repositories/1/pulls?page=5>; rel="last",'
        '<https://api.github.com/repositories/1/pulls?page=1>; rel="first"'
    )
    assert parse_links(value) == [
        ("https://api.github.com/repositories/1/pulls?page=3", "next"),
        ("https://api.github.com/repositories/1/pulls?page=5", "last"),
        ("https://api.github.com/repositories/1/pulls?page=1", "first"),
    ]
    headers = httpx.Headers({"link": value})
    assert next_page(headers, "/x", None) == "https://api.github.com/repositories/1/pulls?page=3"
    assert next_page(httpx.Headers({"link": value.split(",", 1)[1]}), "/x", None) is None


def test_gitlab_next_page_header():
    headers = httpx.Headers({"x-next-page": "3", "x-page": "2"})
    assert next_page(headers, "/projects/1/issues", {"per_page": 100, "page": 2}) == (
        "/projects/1/issues?per_page=100&page=3"
    )
    assert next_page(httpx.Headers({"x-next-page": ""}), "/p", {}) is None


def test_retry_after_forms():
    assert _retry_after("120", 0) == 120
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 60) == 60
    assert _retry_after("soon", 0) is None and _retry_after(None, 0) is None


def test_check_names_the_repository(tmp_path):
    config = write_config(tmp_path, "github", repo="octo/app")
    host = github_host()
    source = make_source(config, host)
    assert source.check() == "https://api.github.com: repository octo/app readable"
    del host.routes[BASE]
    with pytest.raises(SourceError, match="not found: check repo = 'octo/app'"):
        make_source(config, host).check()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"repo": "octo"}, 'must be "owner/name"'),
        ({"repo": "../x"}, 'must be "owner/name"'),
        ({"repo": "o/a", "api_url": "api.github.com"}, "http:// or https://"),
        ({"repo": "o/a", "per_page": 500}, "per_page"),
        ({"repo": "o/a", "entity": " "}, "must not be empty"),
        ({"repo": "o/a", "tokn": "x"}, "tokn"),
    ],
)
def test_bad_options_name_the_key(tmp_path, options, message):
    from mlreport.config import ConfigError

    config = write_config(tmp_path, "github", **options)
    with pytest.raises(ConfigError, match=message) as err:
        make_source(config, github_host())
    assert "sources[0]" in str(err.value)


def test_token_only_from_an_env_var_is_redacted_in_config_errors(tmp_path, monkeypatch):
    from mlreport.config import ConfigError

    monkeypatch.setenv("GH_TOKEN", "ghp_zzz")
    config = write_config(tmp_path, "github", repo="o/a", token="${GH_TOKEN}", retries=99)
    with pytest.raises(ConfigError) as err:
        make_source(config, github_host())
    assert "ghp_zzz" not in str(err.value)


def test_warehouse_gets_the_new_columns(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        cols = wh.columns("pull_requests")
        for col in ("first_commit_at", "first_review_at", "additions", "deletions", "labels"):
            assert col in cols
        assert "releases" in wh.tables()


def test_watches_are_pruned():
    from datetime import timedelta

    from mlreport.connectors.githosts.github import pruned

    watch = {
        "1": {"created_at": "2026-03-01T00:00:00Z", "done": True},  # finished, before lookback
        "2": {"created_at": "2026-03-29T00:00:00Z", "done": True},  # finished, inside lookback
        "3": {"created_at": "2026-03-02T00:00:00Z", "done": False},  # unfinished, young enough
        "4": {"created_at": "2026-02-01T00:00:00Z", "done": False},  # unfinished, abandoned
    }
    kept = pruned(watch, "2026-03-30T00:00:00Z", timedelta(days=3))
    assert sorted(kept) == ["2", "3"]
    assert pruned(watch, None, timedelta(days=3)) == watch
