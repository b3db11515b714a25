"""The PagerDuty source on recorded API responses (httpx.MockTransport), through the real
mlreport kernel (mlreport.testing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mlreport import SourceError
from mlreport.testing import make_source, sync, sync_twice
from replay import FIRST_SYNC, OPEN_SINCE, START, TOKEN, Replay

from mlreport_pagerduty import PagerDutySource


def t(text):
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def build(mlreport_config, monkeypatch):
    """A configured pagerduty source answered by ``replay``."""

    def make(replay, **options):
        monkeypatch.setattr(PagerDutySource, "transport", replay.transport())
        monkeypatch.setenv("PAGERDUTY_TOKEN", TOKEN)
        config = mlreport_config.source(
            "pd",
            "pagerduty",
            token="${PAGERDUTY_TOKEN}",
            start="2026-01-01T00:00:00Z",
            page_size=2,
            **options,
        ).build()
        return make_source(config, "pd")

    return make


def incidents(warehouse):
    return warehouse.con.execute(
        "SELECT incident_id, entity, environment, severity, detected_at, resolved_at, title "
        "FROM incidents ORDER BY incident_id"
    ).fetchall()


def test_incidents_become_canonical_rows(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC)
    source = build(replay, services={"PSVC001": "checkout", "Search": "search"})
    stats = sync(source, mlreport_warehouse)
    assert stats.rows == 3
    assert incidents(mlreport_warehouse) == [
        (
            "Q1ABC01",
            "checkout",
            "production",
            "high",
            t("2026-02-03T09:15:00Z"),
            t("2026-02-03T10:05:00Z"),
            "Checkout p99 latency above 2s",
        ),
        (
            "Q1ABC02",
            "search",
            "production",
            "low",
            t("2026-02-10T14:00:00Z"),
            t("2026-02-10T18:30:00Z"),
            "Search index lag",
        ),
        (
            "Q1ABC03",
            "checkout",
            "production",
            "high",
            t("2026-03-01T08:00:00Z"),
            None,
            "Checkout 5xx spike",
        ),
    ]
    first, second = replay.requests[:2]
    assert (first["since"], first["offset"], first["limit"]) == (START, "0", "2")
    assert (second["since"], second["offset"]) == (START, "2")  # offset pagination
    # the cursor resumes at the incident still open, so its resolution is read later
    assert mlreport_warehouse.get_cursor("pd", "incidents") == OPEN_SINCE


def test_the_second_sync_rereads_only_the_open_incident(build, mlreport_warehouse):
    replay = Replay({**FIRST_SYNC, (OPEN_SINCE, 0): "incidents-open.json"})
    result = sync_twice(build(replay), mlreport_warehouse, reread=1)
    assert result.rows[1] == {"incidents": 3}
    assert result.cursors[1] == {"incidents": OPEN_SINCE}


def test_a_later_resolution_is_stored_and_the_cursor_moves_on(build, mlreport_warehouse):
    replay = Replay({**FIRST_SYNC, (OPEN_SINCE, 0): "incidents-open-resolved.json"})
    source = build(replay)
    sync(source, mlreport_warehouse)
    before = datetime.now(UTC)
    assert sync(source, mlreport_warehouse).rows == 1
    row = [r for r in incidents(mlreport_warehouse) if r[0] == "Q1ABC03"][0]
    assert row[5] == t("2026-03-01T11:30:00Z")
    cursor = t(mlreport_warehouse.get_cursor("pd", "incidents"))
    assert cursor >= before.replace(microsecond=0)  # nothing open: resume from this sync
    assert [r[1] for r in incidents(mlreport_warehouse)] == [
        "Checkout API",
        "Search",
        "Checkout API",
    ]


def test_unmapped_services_can_be_skipped_and_urgency_mapped(build, mlreport_warehouse):
    source = build(
        Replay(FIRST_SYNC),
        services={"PSVC001": "checkout"},
        only_mapped=True,
        severity={"high": "sev1", "low": "sev3"},
    )
    sync(source, mlreport_warehouse)
    assert [(r[0], r[1], r[3]) for r in incidents(mlreport_warehouse)] == [
        ("Q1ABC01", "checkout", "sev1"),
        ("Q1ABC03", "checkout", "sev1"),
    ]


def test_rate_limits_and_server_errors_are_retried(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC)
    replay.answers = [
        (429, {"error": {"message": "Too many requests"}}, {"Retry-After": "0"}),
        (503, b"<html>unavailable</html>", {"Retry-After": "0"}),
    ]
    assert sync(build(replay), mlreport_warehouse).rows == 3
    assert len(replay.requests) == 2 + 3  # two refused, then every page


def test_a_refused_key_is_a_clear_error_without_the_key(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC, token="another-key")
    with pytest.raises(SourceError) as err:
        sync(build(replay), mlreport_warehouse)
    assert "HTTP 401: the API key in token was refused" in str(err.value)
    assert TOKEN not in str(err.value)
    assert mlreport_warehouse.get_cursor("pd", "incidents") is None


def test_malformed_json_stores_nothing(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC)
    replay.answers = [(200, b'{"incidents": [', {})]
    with pytest.raises(SourceError, match="the response is not valid JSON"):
        sync(build(replay), mlreport_warehouse)
    assert incidents(mlreport_warehouse) == []
    assert mlreport_warehouse.get_cursor("pd", "incidents") is None


def test_an_api_error_names_the_endpoint_and_message(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC)
    replay.answers = [
        (400, {"error": {"message": "Invalid Input Provided", "errors": ["bad"]}}, {})
    ]
    with pytest.raises(SourceError, match=r"/incidents: HTTP 400: Invalid Input Provided \(bad\)"):
        sync(build(replay), mlreport_warehouse)


def test_a_broken_incident_names_the_incident_and_field(build, mlreport_warehouse):
    replay = Replay(FIRST_SYNC)
    broken = {"id": "QX", "service": {"id": "PSVC001"}, "status": "triggered", "created_at": "soon"}
    replay.answers = [(200, {"incidents": [broken], "more": False}, {})]
    with pytest.raises(SourceError, match="incident QX: created_at: 'soon' is not an ISO-8601"):
        sync(build(replay), mlreport_warehouse)
