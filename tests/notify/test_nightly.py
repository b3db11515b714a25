"""The nightly sequence: run, change the data, run again, run once more with nothing new.
Reports and messages show exactly the changes; a real SMTP server and a real HTTP receiver
get one message per run (``on = "change"``: none when nothing changed)."""

from __future__ import annotations

import pytest

from tests.notify.conftest import HOOK_TOKEN, SMTP_PASSWORD, deploy, incident

DAY1, DAY2, DAY3 = "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z", "2026-03-12T00:00:00Z"

STATS = ("p50", "p75", "p90")
CFR = {"metric": "dora.change_failure_rate", "entity": "svc"}
NEW_FAILURE = {
    **CFR,
    "dimensions": {"environment": "production"},
    "unit": "ratio",
    "severity": "error",
    "min": None,
    "max": 0.15,
    "failing_value": 0.25,
    "other_value": 0.0,
}


@pytest.fixture
def configured(nightly, http_receiver, smtp_receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", http_receiver.url())
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    nightly.config(
        f"""
[[notifiers]]
url = "${{HOOK_URL}}"
on = "change"
backoff = 0

[[notifiers]]
type = "apprise"
url = "{smtp_receiver.url(password="${SMTP_PASSWORD}")}"
on = "always"
title = "nightly mlreport"
backoff = 0
"""
    )
    return nightly, http_receiver, smtp_receiver


def test_nightly_sequence_reports_and_messages_show_exactly_the_changes(configured):
    world, hook, smtp = configured

    first = world.run(DAY1, "-vv")
    assert first.exit_code == 0, first.output
    assert len(hook.posts) == 1 and len(smtp.messages) == 1
    assert world.report_json("2026-03-10")["since_last_run"] == {
        "previous": None,
        "new_failures": [],
        "resolved_failures": [],
        "moves": [],
        "moved": 0,
    }
    assert "First run: nothing to compare with yet." in hook.posts[0]["body"]["message"]
    assert hook.posts[0]["body"]["title"] == "mlreport: ok"
    assert hook.posts[0]["path"] == f"/hook/{HOOK_TOKEN}"
    assert smtp.messages[0]["Subject"] == "nightly mlreport"
    assert smtp.logins == [("mlreport", SMTP_PASSWORD)]  # the ${VAR} password reached SMTP

    world.append("incidents.csv", incident(1, 5, "d4"))
    second = world.run(DAY2, "-vv")
    assert second.exit_code == 1, second.output  # the policy now fails
    assert len(hook.posts) == 2 and len(smtp.messages) == 2
    changes = world.report_json("2026-03-11")["since_last_run"]
    assert changes["previous"] == {
        "as_of": DAY1,
        "window": {"since": "2025-12-10T00:00:00Z", "until": DAY1},
    }
    assert changes["new_failures"] == [NEW_FAILURE]
    assert changes["resolved_failures"] == []
    # the failure, and the durations that have a value now that a failure was resolved:
    # d4 finished 10:05, the incident was detected 12:00 and resolved 14:00
    recovery, detect, restore = 235 / 60, 115 / 60, 2.0
    assert [
        (m["metric"], m["dimensions"].get("stat"), m["before"], m["after"])
        for m in changes["moves"]
    ] == [
        ("dora.change_failure_rate", None, 0.0, 0.25),
        *(("dora.recovery_time", s, None, pytest.approx(recovery)) for s in STATS),
        *(("ops.time_to_detect", s, None, pytest.approx(detect)) for s in STATS),
        *(("ops.time_to_restore", s, None, pytest.approx(restore)) for s in STATS),
    ]
    assert changes["moved"] == 10
    assert [m["relative"] for m in changes["moves"]] == [None] * 10
    message = hook.posts[1]["body"]["message"]
    assert hook.posts[1]["body"]["title"] == "mlreport: policy failure"
    assert f"Since the previous run (as of {DAY1}):" in message
    assert (
        "New failures:\n- dora.change_failure_rate (svc, environment=production): 0.25 "
        "(was 0)" in message
    )
    assert "Resolved failures" not in message
    assert str(world.root / "out" / "2026-03-11" / "delivery.html") in message
    assert message.strip() == smtp.bodies()[1].replace("\r\n", "\n").strip()  # by email too
    md = (world.root / "out" / "2026-03-11" / "delivery.md").read_text()
    assert (
        "❌ new failure: **dora.change\\_failure\\_rate** svc environment=production: 25% "
        "(was 0%)" in md
    )
    html = (world.root / "out" / "2026-03-11" / "delivery.html").read_text()
    assert '<ul class="new-failures">' in html and "resolved-failures" not in html

    third = world.run(DAY3, "-vv")
    assert third.exit_code == 1, third.output
    assert len(hook.posts) == 2  # on = "change": nothing changed, nothing sent
    assert len(smtp.messages) == 3  # on = "always"
    assert world.report_json("2026-03-12")["since_last_run"] == {
        "previous": {"as_of": DAY2, "window": {"since": "2025-12-11T00:00:00Z", "until": DAY2}},
        "new_failures": [],
        "resolved_failures": [],
        "moves": [],
        "moved": 0,
    }
    assert "- no policy outcome changed" in smtp.bodies()[2]
    html = (world.root / "out" / "2026-03-12" / "delivery.html").read_text()
    assert "No policy outcome and no value changed." in html

    # the secrets never appear: not in any output, log line or file written
    for result in (first, second, third):
        for secret in (HOOK_TOKEN, SMTP_PASSWORD):
            assert secret not in result.stdout and secret not in result.stderr
    for secret in (HOOK_TOKEN, SMTP_PASSWORD):
        assert secret not in world.output_text()


def test_a_resolved_failure_is_reported_and_sent(configured):
    world, hook, _ = configured
    world.append("incidents.csv", incident(1, 5, "d4"))
    assert world.run(DAY1).exit_code == 1
    # four more clean deployments: one failure in eight, 0.125, within the policy
    world.append("deployments.csv", *(deploy(i, 6) for i in range(5, 9)))
    assert world.run(DAY2).exit_code == 0
    changes = world.report_json("2026-03-11")["since_last_run"]
    assert changes["new_failures"] == []
    assert changes["resolved_failures"] == [
        {**NEW_FAILURE, "failing_value": 0.25, "other_value": 0.125}
    ]
    message = hook.posts[-1]["body"]["message"]
    assert (
        "Resolved failures:\n- dora.change_failure_rate (svc, environment=production): "
        "0.125 (was 0.25)" in message
    )
