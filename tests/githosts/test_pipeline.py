"""The github source through the pipeline (`sync_all`, as `mlreport sync` runs it) and into the
delivery metrics; the only seam is the transport under the shared HTTP client."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import polars as pl
import pytest

import mlreport.http
from mlreport.metrics import Window, compute_metrics
from mlreport.pipeline import sync_all
from mlreport.sources import sync_failures
from mlreport.warehouse import Warehouse
from tests.githosts.fakehost import fixture
from tests.githosts.github_repo import BASE, github_host, populate
from tests.githosts.helpers import write_config

TOKEN = "ghp_pipelinesecret789"


@pytest.fixture
def host(monkeypatch):
    fake = github_host()
    populate(fake)
    real = mlreport.http.http_client

    def with_fake(base_url, **kwargs):
        kwargs["transport"] = fake.transport
        kwargs["sleep"] = lambda seconds: None
        return real(base_url, **kwargs)

    monkeypatch.setattr(mlreport.http, "http_client", with_fake)
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    return fake


def test_a_rate_limit_stop_is_recorded_without_the_token(tmp_path, host):
    config = write_config(tmp_path, "github", repo="octo/app", token="${GH_TOKEN}", max_wait=5)
    reset = str(int(time.time() + 7200))
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    host.queue(
        f"{BASE}/pulls",
        httpx.Response(403, json=fixture("github", "rate_limited"), headers=headers),
    )
    with Warehouse(tmp_path / "w.duckdb") as wh:
        (stats,) = sync_all(wh, config)
        assert "rate limit is used up until" in stats.error and TOKEN not in stats.error
        (failure,) = sync_failures(wh)
        assert failure["source"] == "host" and "run the sync again" in failure["error"]
        # the streams before the stop are stored; pull_requests has neither rows nor a cursor
        assert wh.con.execute("SELECT count(*) FROM deployments").fetchall() == [(3,)]
        assert wh.con.execute("SELECT count(*) FROM pull_requests").fetchall() == [(0,)]
        (stats,) = sync_all(wh, config)  # later: it goes on from where it stopped
        assert stats.error is None and sync_failures(wh) == []
        assert wh.con.execute("SELECT count(*) FROM pull_requests").fetchall() == [(4,)]


def test_synced_pull_requests_give_delivery_metrics(tmp_path, host):
    config = write_config(tmp_path, "github", repo="octo/app", entity="credit-risk")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync_all(wh, config)
        window = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        got = compute_metrics(wh, config, [window], "delivery.*", store=False)

    def value(metric: str, stat: str | None) -> tuple:
        sel = got.filter(pl.col("metric") == metric)
        if stat:
            sel = sel.filter(pl.col("dimensions").str.contains(f'"stat":"{stat}"'))
        return sel["value"][0], sel["n"][0]

    # Production successes finished 4 Mar 02:00 and 8 Mar 01:00 (12 failed). PR 1 (first
    # commit 1 Mar, merged 3 Mar) ships on 4 Mar 02:00: 74 h; PR 2 (commit 1 Mar, merged 5 Mar),
    # PR 4 (commit 5 Mar, merged 7 Mar) and PR 5 (no commits: opened 6 Mar, merged 8 Mar
    # 00:00) ship on 8 Mar 01:00: 169 h, 73 h, 49 h.
    leads = [74.0, 169.0, 73.0, 49.0]

    assert value("delivery.lead_time", "p50") == (73.5, 4) == (np.percentile(leads, 50), 4)
    assert value("delivery.lead_time", "p90") == (pytest.approx(np.percentile(leads, 90)), 4)
    # reviews: PR 1 after 24 h, PR 2 after 48 h (the author's own comment does not count),
    # PR 4 after 48 h (the pending review does not count); PR 5 unreviewed
    assert value("delivery.review_time", "p50") == (48.0, 3)
    assert value("delivery.unreviewed", None) == (1.0, 3)


def test_cli_sync_error_is_one_line_naming_the_source(tmp_path, host, monkeypatch):
    from click.testing import CliRunner

    from mlreport.cli import cli

    write_config(tmp_path, "github", repo="octo/app", token="${GH_TOKEN}")
    host.queue(
        f"{BASE}/deployments", httpx.Response(401, json=fixture("github", "bad_credentials"))
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 2
    (line,) = [x for x in result.output.splitlines() if "HTTP 401" in x]
    assert line.startswith("Error: source host: https://api.github.com: GET /repos/octo/app/")
    assert "sources[0].token" in line and "check the token and its scopes" in line
    assert TOKEN not in result.output


def test_the_delivery_report_shows_pull_request_lead_and_review_time(tmp_path, host):
    from click.testing import CliRunner

    from mlreport.cli import cli

    config = write_config(tmp_path, "github", repo="octo/app", entity="credit-risk")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        sync_all(wh, config)
    out = tmp_path / "out"
    args = ["--config", str(tmp_path / "mlreport.toml"), "--warehouse", str(tmp_path / "w.duckdb")]
    args += ["report", "delivery", "--format", "json,md,html", "--out", str(out)]
    args += ["--since", "2026-03-01", "--until", "2026-04-01"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "delivery.json").read_text())
    (row,) = report["sections"]["pull_requests"]["rows"]
    (env,) = row["lead_time"]
    # the same four requests as the metrics test above: lead times 74, 169, 73 and 49 hours
    assert env["environment"] == "production"
    assert (env["p50"]["value"], env["p50"]["n"]) == (73.5, 4)
    assert env["p90"]["value"] == pytest.approx(np.percentile([74.0, 169.0, 73.0, 49.0], 90))
    assert (row["review_time"]["p50"]["value"], row["unreviewed"]["value"]) == (48.0, 1.0)
    md = (out / "delivery.md").read_text()
    assert "### Pull requests" in md and "| credit-risk | production | 3.1 d |" in md
    assert "Merged without review" in (out / "delivery.html").read_text()
