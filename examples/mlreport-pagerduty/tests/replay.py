"""Replays recorded PagerDuty ``GET /incidents`` responses, keyed by the request's ``since``
and ``offset``, and checks each request the way the API would (API key, date range).

Used through ``httpx.MockTransport`` by this package's tests and behind a real local HTTP
server by mlreport's own CLI test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

RECORDED = Path(__file__).parent / "recorded"
TOKEN = "u+PDtestkey-9f3c1a"
START = "2026-01-01T00:00:00+00:00"
OPEN_SINCE = "2026-03-01T08:00:00+00:00"  # created_at of the incident still open
FIRST_SYNC = {(START, 0): "incidents-page1.json", (START, 2): "incidents-page2.json"}


@dataclass
class Replay:
    """Recorded pages by (since, offset); ``answers`` replaces some with (status, body)."""

    pages: dict[tuple[str, int], str]
    token: str = TOKEN
    answers: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]):
        """(status, body bytes, headers) for one request."""
        self.requests.append({"path": path, **query})
        if self.answers:
            status, body, extra = self.answers.pop(0)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            return status, raw, {"Content-Type": "application/json", **extra}
        if headers.get("authorization") != f"Token token={self.token}":
            return _json(401, {"error": {"message": "Unauthorized"}})
        if path != "/incidents":
            return _json(404, {"error": {"message": "Not Found"}})
        since = datetime.fromisoformat(query["since"])
        until = datetime.fromisoformat(query["until"])
        if not since < until or until - since > timedelta(days=180):
            errors = ["since must be before until, at most 6 months apart"]
            return _json(400, {"error": {"message": "Invalid Input Provided", "errors": errors}})
        offset = int(query.get("offset", 0))
        name = self.pages.get((since.isoformat(), offset))
        if name is not None:
            return _json(200, json.loads((RECORDED / name).read_text()))
        if since > datetime.fromisoformat(OPEN_SINCE):  # nothing was created after that
            return _json(200, {"incidents": [], "limit": 2, "offset": offset, "more": False})
        return _json(599, {"error": {"message": f"no recording for since={since} offset={offset}"}})

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            query = dict(request.url.params)
            status, body, headers = self.answer(request.url.path, query, dict(request.headers))
            return httpx.Response(status, content=body, headers=headers)

        return httpx.MockTransport(handle)


def _json(status: int, body: Any) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(body).encode(), {"Content-Type": "application/json"}
