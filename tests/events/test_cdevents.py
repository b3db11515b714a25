"""CDEvents v0.4: service.deployed / rolledback and incident.detected / resolved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mlreport.connectors.events.cdevents import commit_from_purl, parse_purl
from mlreport.sources import SourceError

SHA = "0123456789abcdef0123456789abcdef01234567"
DEEP = json.loads("[" * 100 + "1" + "]" * 100)  # 100 nested arrays


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def event(
    kind: str,
    event_id: str,
    at: str,
    subject: str,
    content: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    spec_version: str = "0.2.0",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "context": {
            "version": "0.4.1",
            "id": event_id,
            "source": "/pipelines/deploy",
            "type": f"dev.cdevents.{kind}.{spec_version}",
            "timestamp": at,
        },
        "subject": {
            "id": subject,
            "source": "/pipelines/deploy",
            "type": kind.split(".")[0],
            "content": content or {},
        },
    }
    if custom is not None:
        body["customData"] = custom
        body["customDataContentType"] = "application/json"
    return body


def deployed(
    event_id,
    at,
    service="credit-risk",
    env="production",
    artifact=None,
    custom=None,
    kind="service.deployed",
):
    content: dict[str, Any] = {"environment": {"id": env, "source": "/k8s/prod"}}
    if artifact:
        content["artifactId"] = artifact
    return event(kind, event_id, at, service, content, custom)


def rolledback(event_id, at, service="credit-risk", env="production", artifact=None, custom=None):
    return deployed(event_id, at, service, env, artifact, custom, kind="service.rolledback")


def incident(
    kind,
    event_id,
    at,
    incident_id,
    service="credit-risk",
    env="production",
    description="Latency above 100ms",
    custom=None,
):
    content = {
        "description": description,
        "environment": {"id": env},
        "service": {"id": service, "source": "/k8s/prod"},
    }
    return event(f"incident.{kind}", event_id, at, incident_id, content, custom)


def jsonl(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


@pytest.fixture
def cd(world):
    world.config(cdevents="cd/*.jsonl")
    return world


# -- deployments ----------------------------------------------------------------------------


def test_service_deployed_is_a_successful_planned_deployment(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z", artifact=f"pkg:github/acme/credit-risk@{SHA}")
        ),
    )
    stats = cd.sync()
    assert stats.reads["events"] == 1
    assert cd.rows("deployments") == [
        {
            "source": "log",
            "deployment_id": "ev-1",
            "entity": "credit-risk",
            "environment": "production",
            "version": SHA,
            "commit_sha": SHA,
            "model_version": None,
            "started_at": None,
            "finished_at": ts("2026-02-01T10:00:00+00:00"),
            "status": "success",
            "kind": "planned",
            "trigger": None,
            "strategy": None,  # CDEvents have no strategy field; customData.strategy may say
        }
    ]


def test_custom_data_fills_and_overrides_columns(cd):
    custom = {
        "entity": "credit-risk-v2",
        "environment": "prod",
        "version": "2.4.0",
        "commit_sha": "feedbeef",
        "model_version": "17",
        "started_at": "2026-02-01T09:50:00+01:00",
        "status": "failure",
        "kind": "hotfix",
        "trigger": "manual",
        "unrelated": {"nested": True},
    }
    oci = "pkg:oci/credit-risk@sha256%3A0b31b1c0?repository_url=ghcr.io/acme/credit-risk"
    cd.write(
        "cd/a.jsonl", jsonl(deployed("ev-1", "2026-02-01T10:00:00Z", artifact=oci, custom=custom))
    )
    cd.sync()
    (row,) = cd.rows("deployments")
    assert {k: row[k] for k in custom if k in row} == {
        "entity": "credit-risk-v2",
        "environment": "prod",
        "version": "2.4.0",
        "commit_sha": "feedbeef",
        "model_version": "17",
        "started_at": ts("2026-02-01T08:50:00+00:00"),
        "status": "failure",
        "kind": "hotfix",
        "trigger": "manual",
    }


def test_version_and_commit_from_the_artifact_purl(cd):
    oci = "pkg:oci/credit-risk@sha256%3A0b31b1c0?vcs_url=git%2Bhttps://github.com/acme/cr%40" + SHA
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z", artifact=oci),
            deployed("ev-2", "2026-02-02T10:00:00Z", artifact="pkg:pypi/credit-risk@2.1.0"),
            deployed("ev-3", "2026-02-03T10:00:00Z"),
        ),
    )
    cd.sync()
    rows = cd.by_id("deployments")
    assert (rows["ev-1"]["version"], rows["ev-1"]["commit_sha"]) == ("sha256:0b31b1c0", SHA)
    assert (rows["ev-2"]["version"], rows["ev-2"]["commit_sha"]) == ("2.1.0", None)
    assert (rows["ev-3"]["version"], rows["ev-3"]["commit_sha"]) == (None, None)


@pytest.mark.parametrize(
    ("purl", "version", "commit"),
    [
        ("pkg:github/acme/app@" + SHA.upper(), SHA.upper(), SHA),
        ("pkg:gitlab/acme/app@abc1234", "abc1234", "abc1234"),
        ("pkg:github/acme/app@v1.2.0", "v1.2.0", None),
        ("pkg:oci/app@sha256%3Aab12?tag=1.0", "sha256:ab12", None),
        (
            "pkg:generic/app@1.0?vcs_url=git%2Bhttps://example.com/r.git%40abcdef12",
            "1.0",
            "abcdef12",
        ),
        ("pkg:npm/%40acme/app@1.0.0#dist", "1.0.0", None),
        ("pkg:docker/app", None, None),
    ],
)
def test_purl_parsing(purl, version, commit):
    parsed = parse_purl(purl)
    assert parsed is not None and parsed.version == version
    assert commit_from_purl(parsed) == commit


def test_a_non_purl_artifact_gives_no_version():
    assert parse_purl("ghcr.io/acme/app:1.0") is None
    assert commit_from_purl(None) is None


def test_rolledback_is_a_rollback_deployment_and_marks_the_one_it_undid(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z", artifact="pkg:pypi/cr@1.0"),
            deployed("ev-2", "2026-02-02T10:00:00Z", env="staging", artifact="pkg:pypi/cr@1.1"),
            deployed("ev-3", "2026-02-03T10:00:00Z", artifact="pkg:pypi/cr@1.1"),
            deployed("ev-4", "2026-02-03T11:00:00Z", service="fraud"),
            rolledback("ev-5", "2026-02-03T12:00:00Z", artifact="pkg:pypi/cr@1.0"),
        ),
    )
    cd.sync()
    rows = cd.by_id("deployments")
    assert {k: (r["status"], r["kind"]) for k, r in rows.items()} == {
        "ev-1": ("success", "planned"),
        "ev-2": ("success", "planned"),  # another environment
        "ev-3": ("rolled_back", "planned"),  # the latest before the rollback
        "ev-4": ("success", "planned"),  # another service
        "ev-5": ("success", "rollback"),
    }
    assert rows["ev-5"]["version"] == "1.0"
    assert cd.cursors()["cdevents_deployments"]["rollbacks"] == {"ev-5": "ev-3"}


def test_a_rollback_in_a_later_sync_marks_a_stored_deployment(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(deployed("ev-1", "2026-02-01T10:00:00Z"), deployed("ev-2", "2026-02-02T10:00:00Z")),
    )
    cd.sync()
    cd.write("cd/b.jsonl", jsonl(rolledback("ev-3", "2026-02-02T11:00:00Z")))
    stats = cd.sync()
    assert stats.reads["files"] == 2  # b.jsonl, once per CDEvents stream
    statuses = {k: r["status"] for k, r in cd.by_id("deployments").items()}
    assert statuses == {"ev-1": "success", "ev-2": "rolled_back", "ev-3": "success"}
    # Re-reading the first file (it changed) keeps ev-2 rolled back.
    cd.append("cd/a.jsonl", jsonl(deployed("ev-9", "2026-01-01T00:00:00Z")))
    cd.sync()
    assert cd.by_id("deployments")["ev-2"]["status"] == "rolled_back"


def test_two_rollbacks_in_a_row_undo_two_deployments(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z"),
            deployed("ev-2", "2026-02-02T10:00:00Z"),
            deployed("ev-3", "2026-02-03T10:00:00Z"),
            rolledback("ev-4", "2026-02-03T11:00:00Z"),
            rolledback("ev-5", "2026-02-03T12:00:00Z"),
        ),
    )
    cd.sync()
    statuses = {k: r["status"] for k, r in cd.by_id("deployments").items()}
    assert statuses == {
        "ev-1": "success",
        "ev-2": "rolled_back",
        "ev-3": "rolled_back",
        "ev-4": "success",
        "ev-5": "success",
    }


def test_an_explicit_target_even_when_it_arrives_later(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z"),
            deployed("ev-2", "2026-02-02T10:00:00Z"),
            rolledback(
                "ev-3", "2026-02-02T11:00:00Z", custom={"rolled_back_deployment_id": "ev-1"}
            ),
            rolledback(
                "ev-4", "2026-02-02T12:00:00Z", custom={"rolled_back_deployment_id": "ev-0"}
            ),
        ),
    )
    cd.sync()
    statuses = {k: r["status"] for k, r in cd.by_id("deployments").items()}
    assert statuses["ev-1"] == "rolled_back" and statuses["ev-2"] == "success"
    cd.write("cd/b.jsonl", jsonl(deployed("ev-0", "2026-01-01T10:00:00Z")))
    cd.sync()
    assert cd.by_id("deployments")["ev-0"]["status"] == "rolled_back"


def test_a_failed_rollback_undoes_nothing(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            deployed("ev-1", "2026-02-01T10:00:00Z"),
            rolledback("ev-2", "2026-02-01T11:00:00Z", custom={"status": "failure"}),
        ),
    )
    cd.sync()
    rows = cd.by_id("deployments")
    assert (rows["ev-1"]["status"], rows["ev-2"]["status"]) == ("success", "failure")
    assert rows["ev-2"]["kind"] == "rollback"


# -- incidents ------------------------------------------------------------------------------


def test_detected_then_resolved_in_the_same_file(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            incident(
                "detected",
                "ev-1",
                "2026-02-01T10:00:00Z",
                "inc-1",
                custom={"severity": "sev2", "cause_deployment_id": "ev-0"},
            ),
            incident(
                "resolved",
                "ev-2",
                "2026-02-01T12:30:00Z",
                "inc-1",
                description="Latency back to normal",
            ),
        ),
    )
    cd.sync()
    assert cd.rows("incidents") == [
        {
            "source": "log",
            "incident_id": "inc-1",
            "entity": "credit-risk",
            "environment": "production",
            "severity": "sev2",
            "detected_at": ts("2026-02-01T10:00:00+00:00"),
            "resolved_at": ts("2026-02-01T12:30:00+00:00"),
            "cause_deployment_id": "ev-0",
            "title": "Latency above 100ms",
        }
    ]


def test_resolved_in_a_later_sync_and_a_later_file(cd):
    cd.write(
        "cd/2026-02-01.jsonl", jsonl(incident("detected", "ev-1", "2026-02-01T10:00:00Z", "inc-1"))
    )
    cd.sync()
    assert cd.by_id("incidents")["inc-1"]["resolved_at"] is None
    cd.write(
        "cd/2026-02-02.jsonl", jsonl(incident("resolved", "ev-2", "2026-02-02T09:00:00Z", "inc-1"))
    )
    stats = cd.sync()
    assert stats.reads["files"] == 2  # only the new file, once per stream
    (row,) = cd.rows("incidents")
    assert row["resolved_at"] == ts("2026-02-02T09:00:00+00:00")
    assert row["detected_at"] == ts("2026-02-01T10:00:00+00:00")
    assert row["title"] == "Latency above 100ms"
    # The first file changes and is re-read: the resolution stays.
    cd.append(
        "cd/2026-02-01.jsonl", jsonl(incident("detected", "ev-3", "2026-02-01T11:00:00Z", "inc-2"))
    )
    cd.sync()
    assert cd.by_id("incidents")["inc-1"]["resolved_at"] == ts("2026-02-02T09:00:00+00:00")


def test_resolved_appended_to_the_same_file_later(cd):
    cd.write("cd/a.jsonl", jsonl(incident("detected", "ev-1", "2026-02-01T10:00:00Z", "inc-1")))
    cd.sync()
    cd.append("cd/a.jsonl", jsonl(incident("resolved", "ev-2", "2026-02-01T11:00:00Z", "inc-1")))
    cd.sync()
    assert cd.by_id("incidents")["inc-1"]["resolved_at"] == ts("2026-02-01T11:00:00+00:00")


def test_a_resolution_seen_before_its_incident_waits_in_the_cursor(cd):
    cd.write("cd/a.jsonl", jsonl(incident("resolved", "ev-2", "2026-02-01T12:00:00Z", "inc-1")))
    cd.sync()
    assert cd.rows("incidents") == []
    pending = cd.cursors()["cdevents_incidents"]["pending_resolutions"]
    assert pending == {"inc-1": "2026-02-01T12:00:00+00:00"}
    cd.write("cd/b.jsonl", jsonl(incident("detected", "ev-1", "2026-02-01T10:00:00Z", "inc-1")))
    cd.sync()
    (row,) = cd.rows("incidents")
    assert row["resolved_at"] == ts("2026-02-01T12:00:00+00:00")
    assert cd.cursors()["cdevents_incidents"]["pending_resolutions"] == {}


def test_reported_and_detected_the_earliest_opening_wins(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            incident("detected", "ev-2", "2026-02-01T10:00:00Z", "inc-1", description="monitor"),
            incident("reported", "ev-1", "2026-02-01T09:30:00Z", "inc-1", description="a user"),
        ),
    )
    cd.sync()
    (row,) = cd.rows("incidents")
    assert (row["detected_at"], row["title"]) == (ts("2026-02-01T09:30:00+00:00"), "a user")


def test_resolved_before_detected_is_an_error(cd):
    cd.write(
        "cd/a.jsonl",
        jsonl(
            incident("detected", "ev-1", "2026-02-01T10:00:00Z", "inc-1"),
            incident("resolved", "ev-2", "2026-02-01T09:00:00Z", "inc-1"),
        ),
    )
    with pytest.raises(
        SourceError,
        match=r"a\.jsonl: line 2: field 'context\.timestamp': "
        r"incident 'inc-1' is resolved at .* before it was "
        r"detected",
    ):
        cd.sync()


# -- envelopes, noise and errors ------------------------------------------------------------


def test_cloudevents_envelopes_and_other_event_types(cd):
    wrapped = {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "/pipelines/deploy",
        "type": "dev.cdevents.service.deployed.0.2.0",
        "time": "2026-02-01T10:00:00Z",
        "datacontenttype": "application/json",
        "data": deployed("ev-1", "2026-02-01T10:00:00Z"),
    }
    other = event("pipelinerun.finished", "ev-2", "2026-02-01T10:00:00Z", "run-1")
    cd.write("cd/a.jsonl", jsonl(wrapped, other, deployed("ev-1", "2026-02-01T10:00:00Z")))
    stats = cd.sync()
    assert sorted(cd.by_id("deployments")) == ["ev-1"]  # the duplicate delivery counts once
    assert stats.reads["events"] == 1  # events each stream used: ev-1, once
    assert cd.rows("incidents") == []


@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z"), deployed("ev-1", "2026-02-02T10:00:00Z")],
            r"line 2: field 'context\.id': event id 'ev-1' is also on line 1 with different "
            r"content",
        ),
        (
            [{"context": {"id": "x", "type": "cd.service.deployed.v1"}}],
            r"line 1: field 'context\.type': 'cd\.service\.deployed\.v1' is not a CDEvents type",
        ),
        ([{"subject": {}}], r"line 1: field 'context': missing; not a CDEvent"),
        (
            [deployed("ev-1", "yesterday")],
            r"line 1: column 'context\.timestamp': not an ISO 8601 timestamp: 'yesterday'",
        ),
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z", custom={"status": "done"})],
            r"line 1: column 'customData\.status': unknown value 'done' \(allowed: success, "
            r"failure, rolled_back\)",
        ),
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z", custom={"trigger": ["ci"]})],
            r"line 1: field 'customData\.trigger': expected a string",
        ),
        (
            [event("service.deployed", "ev-1", "2026-02-01T10:00:00Z", "cr", {})],
            r"line 1: column 'subject\.content\.environment\.id': a value is required",
        ),
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z", service="")],
            r"line 1: field 'subject\.id': a value is required",
        ),
        (
            [deployed("ev-1", "2026-06-30T23:59:60Z")],
            r"line 1: column 'context\.timestamp': leap seconds are not supported",
        ),
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z", custom={"version": "\udfff"})],
            r"line 1: key 'customData\.version': not valid Unicode \(a lone surrogate",
        ),
        (
            [deployed("ev-1", "2026-02-01T10:00:00Z", custom={"x": DEEP})],
            r"line 1: JSON nested deeper than 64 levels",
        ),
    ],
    ids=[
        "conflicting-ids",
        "bad-type",
        "no-context",
        "bad-time",
        "bad-status",
        "list-value",
        "no-environment",
        "no-service",
        "leap-second",
        "lone-surrogate",
        "deep-nesting",
    ],
)
def test_bad_deployment_events(cd, lines, pattern):
    cd.write("cd/ok.jsonl", jsonl(deployed("ev-0", "2026-01-01T10:00:00Z")))
    cd.sync()
    before = cd.rows("deployments")
    cd.write("cd/z.jsonl", jsonl(*lines))
    with pytest.raises(SourceError, match=pattern) as info:
        cd.sync()
    assert "z.jsonl" in str(info.value)
    assert cd.rows("deployments") == before


def test_bad_json_line_in_a_cdevents_file(cd):
    cd.write("cd/a.jsonl", jsonl(deployed("ev-1", "2026-02-01T10:00:00Z")) + '{"context": \n')
    with pytest.raises(SourceError, match=r"a\.jsonl: line 2: not valid JSON"):
        cd.sync()


def test_an_incident_without_a_service_is_an_error(cd):
    body = incident("detected", "ev-1", "2026-02-01T10:00:00Z", "inc-1")
    del body["subject"]["content"]["service"]
    cd.write("cd/a.jsonl", jsonl(body))
    with pytest.raises(
        SourceError,
        match=r"line 1: column 'subject\.content\.service\.id': "
        r"a value is required",
    ):
        cd.sync()


# -- a round trip ---------------------------------------------------------------------------


def test_round_trip_over_three_syncs_equals_one_full_sync(cd, tmp_path):
    """Events arriving over three days give the tables that reading them all at once gives."""
    days = [
        [
            deployed("ev-1", "2026-02-01T10:00:00Z", artifact=f"pkg:github/a/cr@{SHA}"),
            incident(
                "detected",
                "ev-2",
                "2026-02-01T11:00:00Z",
                "inc-1",
                custom={"cause_deployment_id": "ev-1"},
            ),
        ],
        [
            rolledback("ev-3", "2026-02-02T09:00:00Z"),
            deployed("ev-4", "2026-02-02T10:00:00Z", service="fraud"),
        ],
        [
            incident("resolved", "ev-5", "2026-02-03T08:00:00Z", "inc-1"),
            incident("detected", "ev-6", "2026-02-03T09:00:00Z", "inc-2", service="fraud"),
        ],
    ]
    for n, day in enumerate(days):
        cd.write(f"cd/day{n}.jsonl", jsonl(*day))
        cd.sync()
    again = type(cd)(tmp_path / "again")
    for n, day in enumerate(days):
        again.write(f"cd/day{n}.jsonl", jsonl(*day))
    again.config(cdevents="cd/*.jsonl")
    again.sync()
    assert again.rows("deployments") == cd.rows("deployments")
    assert again.rows("incidents") == cd.rows("incidents")
    incident_1 = cd.by_id("incidents")["inc-1"]
    assert incident_1["resolved_at"] == ts("2026-02-03T08:00:00+00:00")
    assert cd.by_id("deployments")["ev-1"]["status"] == "rolled_back"
    cd.sync(full=True)
    assert again.rows("deployments") == cd.rows("deployments")
    assert again.rows("incidents") == cd.rows("incidents")
