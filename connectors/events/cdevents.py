"""CDEvents (v0.4) to canonical ``deployments`` and ``incidents`` rows.

One JSON event per line, bare or wrapped in a CloudEvents envelope (the CDEvent is the
envelope's ``data``). Four event types matter; all others are skipped:

- ``dev.cdevents.service.deployed.*``: a deployment row, status ``success``, kind ``planned``
  (``customData`` may say otherwise);
- ``dev.cdevents.service.rolledback.*``: a deployment row of kind ``rollback`` (status
  ``success``: the rollback itself went out), and the deployment it undid becomes
  ``rolled_back``;
- ``dev.cdevents.incident.detected.*`` (and ``incident.reported.*``): opens an incident;
- ``dev.cdevents.incident.resolved.*``: sets ``resolved_at`` on the incident of the same
  ``subject.id``, whether it is in the same file, an earlier one, or arrives before it.

Facts that span files live in the stream cursor (which rollback undid which deployment,
resolutions whose incident has not been seen yet), so re-reading any file gives the same rows.
docs/sources-events.md has the field-by-field mapping.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl

from mlreport.connectors.events.canonical import (
    DEPLOYMENTS,
    INCIDENTS,
    LINE,
    UTC_US,
    TableSpec,
    validate,
)
from mlreport.connectors.events.files import json_object, split_lines
from mlreport.sources import SourceError

_TYPE = re.compile(r"^dev\.cdevents\.([A-Za-z]+)\.([A-Za-z]+)\.(\d+\.\d+\.\d+\S*)$")
DEPLOYED, ROLLEDBACK = "service.deployed", "service.rolledback"
DETECTED, REPORTED, RESOLVED = "incident.detected", "incident.reported", "incident.resolved"
KINDS = {"deployments": (DEPLOYED, ROLLEDBACK), "incidents": (DETECTED, REPORTED, RESOLVED)}
RELEVANT = (*KINDS["deployments"], *KINDS["incidents"])

# Where each canonical column comes from, for error messages.
DEPLOYMENT_FIELDS = {
    "deployment_id": "context.id",
    "entity": "subject.id",
    "environment": "subject.content.environment.id",
    "version": "customData.version",
    "commit_sha": "customData.commit_sha",
    "model_version": "customData.model_version",
    "started_at": "customData.started_at",
    "finished_at": "context.timestamp",
    "status": "customData.status",
    "kind": "customData.kind",
    "trigger": "customData.trigger",
    "strategy": "customData.strategy",
}
INCIDENT_FIELDS = {
    "incident_id": "subject.id",
    "entity": "subject.content.service.id",
    "environment": "subject.content.environment.id",
    "severity": "customData.severity",
    "detected_at": "context.timestamp",
    "resolved_at": "context.timestamp",
    "cause_deployment_id": "customData.cause_deployment_id",
    "title": "subject.content.description",
}
ROLLED_BACK = "rolled_back_deployment_id"
# customData may override any canonical deployment column but the id (context.id) and the
# finish time (context.timestamp), and may name the deployment a rollback undid.
CUSTOM_DEPLOYMENT_KEYS = tuple(
    c for c in DEPLOYMENTS.columns if c not in ("deployment_id", "finished_at")
) + (ROLLED_BACK,)
# Openers may repeat an id (detected, then reported); the merge keeps the earliest.
OPENERS = replace(INCIDENTS, ordered=(), unique_ids=False)
RESOLUTIONS = TableSpec(
    table="incidents",
    id_column="incident_id",
    columns=("incident_id", "resolved_at"),
    required=("incident_id", "resolved_at"),
    timestamps=("resolved_at",),
    unique_ids=False,
)


@dataclass(frozen=True)
class Event:
    line: int
    kind: str  # subject.predicate, e.g. "service.deployed"
    body: dict[str, Any]  # the CDEvent: context, subject, customData


# -- reading events ---------------------------------------------------------------------------


def parse_file(path: Path, text: str) -> list[Event]:
    """The relevant events of a JSON-lines file; other CDEvents are skipped."""
    events: list[Event] = []
    seen: dict[str, tuple[int, str]] = {}
    lines = split_lines(text)
    for raw, line in zip(lines["text"], lines[LINE], strict=True):
        if not raw.strip():
            continue
        body = _event_object(path, line, raw)
        kind = _event_kind(path, line, body)
        if kind not in RELEVANT:
            continue
        event_id = _text(path, line, body, "context.id", required=True)
        canonical = json.dumps(body, sort_keys=True)
        if event_id in seen:
            first_line, first = seen[event_id]
            if first == canonical:
                continue  # delivered twice: at-least-once transports do that
            raise SourceError(
                f"{path}: line {line}: field 'context.id': event id {event_id!r} is also on "
                f"line {first_line} with different content (event ids must be unique)"
            )
        seen[event_id] = (line, canonical)
        events.append(Event(line, kind, body))
    return events


def _event_object(path: Path, line: int, raw: str) -> dict[str, Any]:
    body = json_object(path, line, raw, "CDEvents files hold one complete event per line")
    if "context" not in body and isinstance(body.get("data"), dict) and "specversion" in body:
        body = body["data"]  # a CloudEvents envelope around the CDEvent
    if not isinstance(body.get("context"), dict):
        raise SourceError(
            f"{path}: line {line}: field 'context': missing; not a CDEvent "
            "(expected an object with context, subject and optionally customData)"
        )
    return body


def _event_kind(path: Path, line: int, body: dict[str, Any]) -> str:
    type_ = _text(path, line, body, "context.type", required=True)
    match = _TYPE.match(type_)
    if not match:
        raise SourceError(
            f"{path}: line {line}: field 'context.type': {type_!r} is not a CDEvents type "
            "(expected dev.cdevents.<subject>.<predicate>.<version>)"
        )
    return f"{match.group(1)}.{match.group(2)}"


def _get(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(
    path: Path, line: int, body: dict[str, Any], dotted: str, required: bool = False
) -> str | None:
    """A field as text: strings as they are, integers in decimal; anything else is an error."""
    value = _get(body, dotted)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SourceError(f"{path}: line {line}: field {dotted!r}: a value is required")
        return None
    raise SourceError(
        f"{path}: line {line}: field {dotted!r}: expected a string, found {json.dumps(value)[:60]}"
    )


def _custom(path: Path, line: int, body: dict[str, Any], key: str) -> str | None:
    if not isinstance(body.get("customData"), dict):
        return None
    return _text(path, line, body, f"customData.{key}")


# -- artifact purls ---------------------------------------------------------------------------

_HEX_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_VCS_SHA = re.compile(r"@([0-9a-fA-F]{7,64})$")
_GIT_HOSTS = ("github", "gitlab", "bitbucket")


@dataclass(frozen=True)
class Purl:
    type: str
    version: str | None
    qualifiers: dict[str, str]


def parse_purl(text: str) -> Purl | None:
    """The parts of a package URL that name a version or a commit (None: not a purl)."""
    if not text.startswith("pkg:"):
        return None
    rest = text[4:].split("#", 1)[0]
    rest, _, query = rest.partition("?")
    qualifiers = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        qualifiers[key.lower()] = unquote(value)
    name, at, version = rest.rpartition("@")
    if not at:
        name, version = rest, ""
    type_ = name.lstrip("/").split("/", 1)[0].lower()
    return Purl(type_, unquote(version) or None, qualifiers)


def commit_from_purl(purl: Purl | None) -> str | None:
    """A commit sha the purl carries: ``vcs_url=...@<sha>``, or the version of a git host."""
    if purl is None:
        return None
    vcs = purl.qualifiers.get("vcs_url")
    if vcs:
        match = _VCS_SHA.search(vcs)
        if match:
            return match.group(1).lower()
    if purl.type in _GIT_HOSTS and purl.version and _HEX_SHA.match(purl.version):
        return purl.version.lower()
    return None


# -- deployments ------------------------------------------------------------------------------


def deployment_row(path: Path, event: Event) -> dict[str, Any]:
    """The text columns of one deployed / rolledback event (typed later, vectorised)."""
    b, line = event.body, event.line
    artifact = _text(path, line, b, "subject.content.artifactId")
    purl = parse_purl(artifact) if artifact else None
    custom = {k: _custom(path, line, b, k) for k in CUSTOM_DEPLOYMENT_KEYS}
    rollback = event.kind == ROLLEDBACK
    return {
        "deployment_id": _text(path, line, b, "context.id"),
        "entity": custom["entity"] or _text(path, line, b, "subject.id", required=True),
        "environment": custom["environment"]
        or _text(path, line, b, "subject.content.environment.id"),
        "version": custom["version"] or (purl.version if purl else None),
        "commit_sha": custom["commit_sha"] or commit_from_purl(purl),
        "model_version": custom["model_version"],
        "started_at": custom["started_at"],
        "finished_at": _text(path, line, b, "context.timestamp", required=True),
        "status": custom["status"] or "success",
        "kind": "rollback" if rollback else (custom["kind"] or "planned"),
        "trigger": custom["trigger"],
        "strategy": custom["strategy"],
        ROLLED_BACK: custom[ROLLED_BACK] if rollback else None,
        LINE: line,
    }


def deployments(
    events: list[Event], file: str, state: dict[str, Any], store: Store
) -> pl.DataFrame:
    """Deployment rows of one file, plus stored rows that a rollback in it marks."""
    path = Path(file)
    rows = [deployment_row(path, e) for e in events if e.kind in (DEPLOYED, ROLLEDBACK)]
    targets = {r[LINE]: r.pop(ROLLED_BACK) for r in rows}
    typed = validate(_text_frame(rows, DEPLOYMENTS), DEPLOYMENTS, file, DEPLOYMENT_FIELDS)
    marked = Rollbacks(state, store).apply(typed.to_dicts(), targets)
    return pl.DataFrame(marked, schema=_schema(DEPLOYMENTS), orient="row").drop(LINE)


class Rollbacks:
    """Which deployment each successful rollback undid, remembered in the cursor.

    The target is ``customData.rolled_back_deployment_id`` when given, else the latest successful,
    non-rollback deployment of the same entity and environment that finished before the
    rollback (in this file or already stored). Once chosen it is recorded, so re-reading a
    file (or reading the target's file again later) marks the same deployment.
    """

    def __init__(self, state: dict[str, Any], store: Store) -> None:
        self.chosen: dict[str, str] = state.setdefault("rollbacks", {})
        self.store = store
        self.candidates: dict[tuple[str, str], list[tuple[datetime, str]]] = {}

    def apply(self, rows: list[dict[str, Any]], targets: dict[int, str | None]) -> list[dict]:
        by_id = {r["deployment_id"]: r for r in rows}
        undone = set(self.chosen.values())
        for row in rows:
            if row["deployment_id"] in undone and row["kind"] != "rollback":
                row["status"] = "rolled_back"
        extra: dict[str, dict[str, Any]] = {}
        for rb in sorted(rows, key=lambda r: (r["finished_at"], r[LINE])):
            if rb["kind"] != "rollback" or rb["status"] != "success":
                continue
            target_id = self.chosen.get(rb["deployment_id"]) or targets.get(rb[LINE])
            target = self._find(rb, target_id, rows, by_id, extra)
            if target is not None:
                target_id = target["deployment_id"]
                target["status"] = "rolled_back"
                if target_id not in by_id:
                    extra[target_id] = target
            if target_id is not None:
                self.chosen[rb["deployment_id"]] = target_id
        return rows + list(extra.values())

    def _find(
        self,
        rb: dict[str, Any],
        target_id: str | None,
        rows: list[dict[str, Any]],
        by_id: dict[str, dict[str, Any]],
        extra: dict[str, dict[str, Any]],
    ) -> dict[str, Any] | None:
        if target_id is not None:
            return by_id.get(target_id) or extra.get(target_id) or self.store.deployment(target_id)
        here = [
            r
            for r in rows
            if r["kind"] != "rollback"
            and r["status"] == "success"
            and r["entity"] == rb["entity"]
            and r["environment"] == rb["environment"]
            and r["finished_at"] < rb["finished_at"]
        ]
        best = max(here, key=lambda r: (r["finished_at"], r[LINE]), default=None)
        stored = self._latest_stored(rb, best, skip={*by_id, *extra})
        return stored if stored is not None else best

    def _latest_stored(
        self, rb: dict[str, Any], best: dict[str, Any] | None, skip: set[str]
    ) -> dict[str, Any] | None:
        """The latest stored candidate before the rollback, if later than ``best``.

        Rows this file holds anew, or that a rollback here already took, are skipped.
        """
        pair = (rb["entity"], rb["environment"])
        if pair not in self.candidates:
            self.candidates[pair] = self.store.success_times(*pair)
        times = self.candidates[pair]
        j = bisect.bisect_left(times, rb["finished_at"], key=lambda c: c[0]) - 1
        while j >= 0 and (best is None or times[j][0] > best["finished_at"]):
            if times[j][1] not in skip:
                return self.store.deployment(times[j][1])
            j -= 1
        return None


# -- incidents --------------------------------------------------------------------------------


def incident_row(path: Path, event: Event) -> dict[str, Any]:
    b, line = event.body, event.line
    return {
        "incident_id": _text(path, line, b, "subject.id", required=True),
        "entity": _custom(path, line, b, "entity")
        or _text(path, line, b, "subject.content.service.id"),
        "environment": _custom(path, line, b, "environment")
        or _text(path, line, b, "subject.content.environment.id"),
        "severity": _custom(path, line, b, "severity"),
        "detected_at": _text(path, line, b, "context.timestamp", required=True),
        "resolved_at": None,
        "cause_deployment_id": _custom(path, line, b, "cause_deployment_id"),
        "title": _custom(path, line, b, "title")
        or _text(path, line, b, "subject.content.description"),
        LINE: line,
    }


def resolution_row(path: Path, event: Event) -> dict[str, Any]:
    b, line = event.body, event.line
    return {
        "incident_id": _text(path, line, b, "subject.id", required=True),
        "resolved_at": _text(path, line, b, "context.timestamp", required=True),
        LINE: line,
    }


def incidents(events: list[Event], file: str, state: dict[str, Any], store: Store) -> pl.DataFrame:
    """Incident rows of one file merged with what is stored and what the cursor holds.

    detected_at is the earliest opening event seen, resolved_at the latest resolution; a
    resolution for an incident not seen yet waits in the cursor (``pending_resolutions``).
    """
    path = Path(file)
    opened = [incident_row(path, e) for e in events if e.kind in (DETECTED, REPORTED)]
    closed = [resolution_row(path, e) for e in events if e.kind == RESOLVED]
    opened_t = validate(_text_frame(opened, OPENERS), OPENERS, file, INCIDENT_FIELDS)
    closed_t = validate(_text_frame(closed, RESOLUTIONS), RESOLUTIONS, file, INCIDENT_FIELDS)
    first_open: dict[str, dict[str, Any]] = {}
    for row in opened_t.sort(["detected_at", LINE]).to_dicts():
        first_open.setdefault(row["incident_id"], row)
    last_close: dict[str, dict[str, Any]] = {}
    for row in closed_t.sort(["resolved_at", LINE]).to_dicts():
        last_close[row["incident_id"]] = row
    ids = list(dict.fromkeys([*first_open, *last_close]))
    stored = store.incidents(ids)
    pending: dict[str, str] = state.setdefault("pending_resolutions", {})
    out = []
    for incident_id in ids:
        row = _merge_incident(
            file,
            first_open.get(incident_id),
            stored.get(incident_id),
            last_close.get(incident_id),
            pending,
            incident_id,
        )
        if row is not None:
            out.append(row)
    return pl.DataFrame(out, schema=_schema(INCIDENTS), orient="row").drop(LINE)


def _merge_incident(
    file: str,
    opened: dict[str, Any] | None,
    stored: dict[str, Any] | None,
    closed: dict[str, Any] | None,
    pending: dict[str, str],
    incident_id: str,
) -> dict[str, Any] | None:
    base = opened
    if stored is not None and (base is None or stored["detected_at"] < base["detected_at"]):
        base = {**stored, LINE: opened[LINE] if opened else None}
    candidates = [
        stored["resolved_at"] if stored else None,
        closed["resolved_at"] if closed else None,
        _from_iso(pending.get(incident_id)),
    ]
    resolved_at = max((c for c in candidates if c is not None), default=None)
    if base is None:  # resolved before we saw it open: wait for the opening event
        pending[incident_id] = resolved_at.isoformat()
        return None
    pending.pop(incident_id, None)
    if resolved_at is not None and resolved_at < base["detected_at"]:
        line = closed[LINE] if closed else base[LINE]
        raise SourceError(
            f"{file}: line {line}: field 'context.timestamp': incident {incident_id!r} is "
            f"resolved at {resolved_at.isoformat()}, before it was detected at "
            f"{base['detected_at'].isoformat()}"
        )
    return {**base, "resolved_at": resolved_at}


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- frames and the warehouse -----------------------------------------------------------------


def _schema(spec: TableSpec) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {
        c: (UTC_US if c in spec.timestamps else pl.String) for c in spec.columns
    }
    schema[LINE] = pl.Int64
    return schema


def _text_frame(rows: list[dict[str, Any]], spec: TableSpec) -> pl.DataFrame:
    schema = {c: pl.String for c in spec.columns}
    schema[LINE] = pl.Int64
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


class Store:
    """What this source has already stored (read-only; the kernel does all writes)."""

    def __init__(self, warehouse: Any, source: str) -> None:
        self.warehouse = warehouse
        self.source = source

    def _rows(self, table: str, spec: TableSpec, where: str, params: list[Any]) -> list[dict]:
        if self.warehouse is None:
            return []
        cols = ", ".join(f'"{c}"' for c in spec.columns)
        frame = self.warehouse.query(
            f"SELECT {cols} FROM {table} WHERE source = ? AND {where}", [self.source, *params]
        )
        return [{**r, LINE: None} for r in frame.to_dicts()]

    def deployment(self, deployment_id: str) -> dict[str, Any] | None:
        rows = self._rows("deployments", DEPLOYMENTS, "deployment_id = ?", [deployment_id])
        return rows[0] if rows else None

    def success_times(self, entity: str, environment: str) -> list[tuple[datetime, str]]:
        """(finished_at, id) of stored successful non-rollback deployments, oldest first."""
        if self.warehouse is None:
            return []
        rows = self.warehouse.con.execute(
            "SELECT finished_at, deployment_id FROM deployments WHERE source = ? AND entity = ? "
            "AND environment = ? AND status = 'success' AND kind <> 'rollback' "
            "ORDER BY finished_at, deployment_id",
            [self.source, entity, environment],
        ).fetchall()
        return [(at, deployment_id) for at, deployment_id in rows]

    def incidents(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        rows = self._rows("incidents", INCIDENTS, "list_contains(?::VARCHAR[], incident_id)", [ids])
        return {r["incident_id"]: r for r in rows}
