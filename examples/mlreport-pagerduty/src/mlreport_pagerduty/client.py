"""A small PagerDuty REST API v2 client: offset pagination, retries, clear errors.

The API key travels only in the ``Authorization: Token token=...`` header; no message this
module raises contains it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from mlreport import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIES = 4
MAX_WAIT = 60.0


class PagerDutyClient:
    """``GET /incidents`` pages; counts the requests it sends."""

    def __init__(
        self,
        api_url: str,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep=time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.requests = 0
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={
                "Accept": "application/vnd.pagerduty+json;version=2",
                "Authorization": f"Token token={token}",
                "User-Agent": "mlreport-pagerduty",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> PagerDutyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def incidents(self, since: datetime, until: datetime, limit: int) -> Iterator[dict[str, Any]]:
        """Every incident created in ``[since, until)``, page by page until ``more`` is false."""
        offset = 0
        while True:
            body = self.page(since, until, offset, limit)
            incidents = body.get("incidents")
            if not isinstance(incidents, list):
                raise SourceError(
                    f"{self.api_url}/incidents: the response has no incidents list; "
                    "is api_url the PagerDuty REST API?"
                )
            yield from incidents
            if not body.get("more") or not incidents:
                return
            offset += len(incidents)

    def page(self, since: datetime, until: datetime, offset: int, limit: int) -> dict[str, Any]:
        params = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "offset": offset,
            "limit": limit,
            "sort_by": "created_at:asc",
            "time_zone": "UTC",
        }
        return self._get("/incidents", params)

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.api_url}{path}"
        for attempt in range(RETRIES + 1):
            self.requests += 1
            try:
                response = self._http.get(path, params=params)
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise SourceError(f"{where}: {type(exc).__name__}: {exc}") from None
                self._sleep(min(MAX_WAIT, 2**attempt))
                continue
            if response.status_code in RETRY_STATUSES and attempt < RETRIES:
                self._sleep(_wait(response, attempt))
                continue
            return _parse(response, where)
        raise AssertionError("unreachable")


def _wait(response: httpx.Response, attempt: int) -> float:
    try:
        return min(MAX_WAIT, max(0.0, float(response.headers.get("Retry-After", ""))))
    except ValueError:
        return min(MAX_WAIT, 2.0**attempt)


def _parse(response: httpx.Response, where: str) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        raise SourceError(
            f"{where}: HTTP {status}: the API key in token was refused; use a REST API key "
            "with read access (PagerDuty: Integrations > API Access Keys)"
        )
    if status >= 400:
        raise SourceError(f"{where}: HTTP {status}: {_error_message(response)}")
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}: the response is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise SourceError(f"{where}: expected a JSON object, got {type(body).__name__}")
    return body


def _error_message(response: httpx.Response) -> str:
    """PagerDuty's ``{"error": {"message", "errors"}}``, shortened; never an HTML page."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError, UnicodeDecodeError):
        return "(not a PagerDuty API answer; check api_url)"
    if not isinstance(error, dict):
        return str(error)[:200]
    details = "; ".join(str(e) for e in error.get("errors") or [])
    message = str(error.get("message") or "no message")[:200]
    return message + (f" ({details[:200]})" if details else "")
