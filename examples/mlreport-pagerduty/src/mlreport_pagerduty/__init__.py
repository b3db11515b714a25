"""mlreport-pagerduty: PagerDuty incidents into mlreport's canonical ``incidents`` table.

Reads the REST API v2 ``GET /incidents`` with ``since``/``until`` windows (at most 179 days
each: the API refuses longer ones) and its offset pagination (``limit``, ``offset``, ``more``).
``created_at`` becomes ``detected_at``; a resolved incident's ``last_status_change_at`` becomes
``resolved_at``; the incident's service becomes the entity through the ``services`` mapping
(unmapped services keep their PagerDuty name); ``urgency`` becomes ``severity``.

Why the cursor is not simply "the last time synced": an incident is listed by the time it was
*created*, but it is resolved later. So the next sync starts at the creation time of the
earliest incident still open, re-reading (and upserting) the open ones until they resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import polars as pl
from mlreport import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream, hookimpl
from pydantic import Field, SecretStr

from mlreport_pagerduty.client import PagerDutyClient

MAX_RANGE = timedelta(days=179)
SCHEMA = {
    "incident_id": pl.String,
    "entity": pl.String,
    "environment": pl.String,
    "severity": pl.String,
    "detected_at": pl.Datetime("us", "UTC"),
    "resolved_at": pl.Datetime("us", "UTC"),
    "title": pl.String,
}


class PagerDutyOptions(SourceOptions):
    token: SecretStr  # a REST API key: token = "${PAGERDUTY_TOKEN}"
    api_url: str = "https://api.pagerduty.com"
    start: datetime = Field(
        default_factory=lambda: datetime.now(UTC) - timedelta(days=90)
    )  # where the first sync starts
    services: dict[str, str] = {}  # PagerDuty service id or name -> entity
    only_mapped: bool = False  # skip incidents of services not in `services`
    environment: str = "production"
    severity: dict[str, str] = {"high": "high", "low": "low"}  # urgency -> severity
    page_size: int = Field(100, ge=1, le=100)
    timeout: float = Field(30.0, gt=0)


class PagerDutySource(Source):
    """PagerDuty incidents, incrementally by creation time, re-reading those still open."""

    Options = PagerDutyOptions
    transport: ClassVar[httpx.BaseTransport | None] = None  # tests replay recorded responses

    def streams(self) -> list[Stream]:
        return [Stream("incidents", "incidents", ("source", "incident_id"), "entity")]

    def check(self) -> str:
        with self._client() as client:
            client.page(self._now() - timedelta(days=1), self._now(), 0, 1)
        return f"{self.options.api_url}: the API key can list incidents"

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        since = _parse_time(cursor, "cursor") if cursor else _utc(self.options.start)
        until = self._now()
        open_since: datetime | None = None  # creation time of the earliest open incident
        with self._client() as client:
            while since < until:
                end = min(since + MAX_RANGE, until)
                rows = []
                for incident in client.incidents(since, end, self.options.page_size):
                    self.count("incidents")
                    row = self._row(incident)
                    if row is None:
                        continue
                    rows.append(row)
                    if row["resolved_at"] is None:
                        detected = row["detected_at"]
                        open_since = detected if open_since is None else min(open_since, detected)
                if rows:
                    yield Rows(pl.DataFrame(rows, schema=SCHEMA))
                resume = end if open_since is None else min(open_since, end)
                yield Checkpoint(resume.isoformat())
                since = end
            self.count("requests", client.requests)

    def _row(self, incident: dict[str, Any]) -> dict[str, Any] | None:
        where = f"incident {incident.get('id', '?')}"
        service = incident.get("service") or {}
        entity = self.options.services.get(service.get("id", "")) or self.options.services.get(
            service.get("summary", "")
        )
        if entity is None:
            if self.options.only_mapped:
                return None
            entity = service.get("summary") or service.get("id")
        if not entity or not incident.get("id"):
            raise SourceError(f"{where}: the response has no id or service; is api_url right?")
        status = incident.get("status")
        resolved = None
        if status == "resolved":
            resolved = _parse_time(
                incident.get("last_status_change_at"), f"{where}: last_status_change_at"
            )
        urgency = incident.get("urgency")
        return {
            "incident_id": incident["id"],
            "entity": entity,
            "environment": self.options.environment,
            "severity": self.options.severity.get(urgency, urgency),
            "detected_at": _parse_time(incident.get("created_at"), f"{where}: created_at"),
            "resolved_at": resolved,
            "title": incident.get("title"),
        }

    def _client(self) -> PagerDutyClient:
        return PagerDutyClient(
            self.options.api_url,
            self.options.token.get_secret_value(),
            timeout=self.options.timeout,
            transport=self.transport,
        )

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise SourceError(f"{what}: missing or not an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SourceError(f"{what}: {value!r} is not an ISO-8601 time") from None
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@hookimpl
def register_sources(register):
    register("pagerduty", PagerDutySource)
