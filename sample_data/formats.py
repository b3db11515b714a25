"""Write simulated deployments and incidents in the three formats the events source reads.

- canonical CSV (credit-risk), the way a CI system's export usually looks;
- canonical JSON lines (recsys-api), the way a deploy bot logs;
- CDEvents JSON lines (fraud-detector), the way a CD platform emits events.

Output is byte-stable: fixed column order, ``\\n`` line ends, UTC times with ``Z``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlreport.connectors.events.canonical import DEPLOYMENTS, INCIDENTS
from mlreport.sample_data.teams import Deployment, Incident

# The canonical columns, in the order the events source documents them.
DEPLOYMENT_COLUMNS = DEPLOYMENTS.columns
INCIDENT_COLUMNS = INCIDENTS.columns

ShaOf = Callable[[Deployment], str]


def ts(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_row(d: Deployment, sha_of: ShaOf) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "entity": d.entity,
        "environment": d.environment,
        "version": d.version,
        "commit_sha": sha_of(d),
        "model_version": d.model_version,
        "started_at": ts(d.started_at),
        "finished_at": ts(d.finished_at),
        "status": d.status,
        "kind": d.kind,
        "trigger": d.trigger,
    }


def incident_row(i: Incident) -> dict[str, Any]:
    return {
        "incident_id": i.incident_id,
        "entity": i.entity,
        "environment": i.environment,
        "severity": i.severity,
        "detected_at": ts(i.detected_at),
        "resolved_at": ts(i.resolved_at),
        "cause_deployment_id": i.cause.deployment_id if i.cause else None,
        "title": i.title,
    }


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def canonical(
    deployments: list[Deployment], incidents: list[Incident], sha_of: ShaOf, ext: str
) -> dict[str, str]:
    """``deployments.<ext>`` and ``incidents.<ext>`` with the canonical columns."""
    deps = [deployment_row(d, sha_of) for d in deployments]
    incs = [incident_row(i) for i in sorted(incidents, key=lambda i: i.detected_at)]
    if ext == "csv":
        return {
            "deployments.csv": to_csv(deps, DEPLOYMENT_COLUMNS),
            "incidents.csv": to_csv(incs, INCIDENT_COLUMNS),
        }
    return {"deployments.jsonl": to_jsonl(deps), "incidents.jsonl": to_jsonl(incs)}


# -- CDEvents (spec v0.4) ---------------------------------------------------------------------
# Mapping (connectors/events/cdevents.py reads it back): a deployment's id is the event's
# ``context.id``, the service is ``subject.id``, the environment
# ``subject.content.environment.id``; what CDEvents has no field for (commit, timings, trigger)
# travels in ``customData``. A rollback is a ``service.rolledback`` event naming the deployment
# it undid; that deployment's own event says nothing about it, as a CD tool would emit it.

CDEVENTS_SPEC = "0.4.1"
CDEVENT_TYPES = {
    "deployed": "dev.cdevents.service.deployed.0.2.0",
    "rolledback": "dev.cdevents.service.rolledback.0.2.0",
    "detected": "dev.cdevents.incident.detected.0.2.0",
    "resolved": "dev.cdevents.incident.resolved.0.2.0",
}
CD_SOURCE = "/spinnaker/fraud-platform"
MONITOR_SOURCE = "/alertmanager/payments"
REGISTRY = "registry.example.com%2Ffraud-platform"


def cdevent(
    kind: str,
    event_id: str,
    subject_id: str,
    source: str,
    at: datetime,
    content: dict,
    custom: dict,
) -> dict[str, Any]:
    subject_type = "incident" if kind in ("detected", "resolved") else "service"
    return {
        "context": {
            "version": CDEVENTS_SPEC,
            "id": event_id,
            "source": source,
            "type": CDEVENT_TYPES[kind],
            "timestamp": ts(at),
        },
        "subject": {"id": subject_id, "source": source, "type": subject_type, "content": content},
        "customData": {k: v for k, v in custom.items() if v is not None},
        "customDataContentType": "application/json",
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def deployment_cdevent(d: Deployment, sha_of: ShaOf) -> dict[str, Any]:
    """``service.deployed``, or ``service.rolledback`` for a rollback."""
    kind = "rolledback" if d.kind == "rollback" else "deployed"
    content = {
        "environment": {"id": d.environment, "source": "/k8s/eu-west-1"},
        "artifactId": f"pkg:oci/{d.entity}@sha256%3A{_digest(d.entity + d.version)}"
        f"?repository_url={REGISTRY}",
    }
    custom = {
        "version": d.version,
        "commit_sha": sha_of(d),
        "model_version": d.model_version,
        "started_at": ts(d.started_at),
        "status": "failure" if d.status == "failure" else None,
        "kind": d.kind if d.kind == "hotfix" else None,
        "trigger": d.trigger,
        "rolled_back_deployment_id": d.undoes.deployment_id if d.undoes else None,
    }
    return cdevent(kind, d.deployment_id, d.entity, CD_SOURCE, d.finished_at, content, custom)


def incident_cdevents(i: Incident) -> list[dict[str, Any]]:
    content = {
        "description": i.title,
        "environment": {"id": i.environment},
        "service": {"id": i.entity},
    }
    custom = {
        "severity": i.severity,
        "cause_deployment_id": i.cause.deployment_id if i.cause else None,
    }
    events = [
        cdevent(
            "detected",
            f"{i.incident_id}-detected",
            i.incident_id,
            MONITOR_SOURCE,
            i.detected_at,
            content,
            custom,
        )
    ]
    if i.resolved_at is not None:
        events.append(
            cdevent(
                "resolved",
                f"{i.incident_id}-resolved",
                i.incident_id,
                MONITOR_SOURCE,
                i.resolved_at,
                content,
                {"severity": i.severity},
            )
        )
    return events


def cdevents(
    deployments: list[Deployment], incidents: list[Incident], sha_of: ShaOf
) -> dict[str, str]:
    """One ``cdevents.jsonl`` with every event, in the order they happened."""
    events = [deployment_cdevent(d, sha_of) for d in deployments]
    for inc in incidents:
        events.extend(incident_cdevents(inc))
    events.sort(key=lambda e: (e["context"]["timestamp"], e["context"]["id"]))
    return {"cdevents.jsonl": to_jsonl(events)}
