"""A recorded GitHub or GitLab API replayed through ``httpx.MockTransport``.

Items are copies of the JSON fixtures (field names and shapes from the hosts' REST docs) with a
few fields changed per item. The fake behaves as the hosts document: pages of ``per_page`` with
a Link header (or GitLab's ``x-next-page``), an ETag per response and ``304 Not Modified`` for a
matching ``If-None-Match`` (which does not count against the rate limit), rate-limit headers,
and a 403 with ``x-ratelimit-remaining: 0`` once the limit is used up.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(host: str, fixture_name: str, /, **changes: Any) -> dict:
    """A fixture object with top-level fields replaced (``a__b`` sets nested ``a.b``)."""
    item = json.loads((FIXTURES / host / f"{fixture_name}.json").read_text(encoding="utf-8"))
    item = copy.deepcopy(item)
    for key, value in changes.items():
        target = item
        parts = key.split("__")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return item


class FakeHost:
    """Routes: path -> a list (paged) or an object; ``filters`` narrow a list by the query."""

    def __init__(self, base: str, style: str = "github", limit: int = 5000) -> None:
        self.base = httpx.URL(base)
        self.style = style  # "github": Link; "gitlab": Link and x-next-page; "gitlab-offset"
        self.routes: dict[str, Any] = {}
        self.filters: dict[str, Callable[[list, dict], list]] = {}
        self.queued: dict[str, list[httpx.Response]] = {}
        self.requests: list[httpx.Request] = []
        self.limit = limit
        self.remaining = limit
        self.reset = int(time.time()) + 3600
        self.counted = 0  # responses that cost rate limit
        self.not_modified = 0
        # GitLab: paths serving pagination=keyset (next page by an opaque cursor); other paths
        # asked for it answer 405, as GitLab does
        self.keyset: set[str] = set()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def queue(self, path: str, response: httpx.Response) -> None:
        """Answer the next request for ``path`` with ``response`` (errors, rate limits)."""
        self.queued.setdefault(path, []).append(response)

    def paths(self) -> list[str]:
        return [self._path(r) for r in self.requests]

    def _path(self, request: httpx.Request) -> str:
        prefix = self.base.raw_path.decode().rstrip("/")
        raw = request.url.raw_path.decode().split("?", 1)[0]
        return raw[len(prefix) :] if raw.startswith(prefix) else raw

    def _limit_headers(self) -> dict[str, str]:
        if self.style == "github":
            return {
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-reset": str(self.reset),
                "x-ratelimit-used": str(self.limit - self.remaining),
            }
        return {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.reset),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = self._path(request)
        if self.queued.get(path):
            return self.queued[path].pop(0)
        if self.remaining <= 0:
            body = (
                fixture("github", "rate_limited")
                if self.style == "github"
                else {"message": "429 Too Many Requests"}
            )
            status = 403 if self.style == "github" else 429
            return httpx.Response(status, json=body, headers=self._limit_headers())
        if path not in self.routes:
            name = "not_found"
            self.remaining -= 1
            return httpx.Response(
                404, json=fixture(self.style.split("-")[0], name), headers=self._limit_headers()
            )
        data = self.routes[path]
        params = dict(request.url.params)
        headers = self._limit_headers()
        keyset = params.get("pagination") == "keyset"
        if keyset and path not in self.keyset:
            self.remaining -= 1
            body = {"error": "Keyset pagination is not yet available for this type of request"}
            return httpx.Response(405, json=body, headers=headers)
        if isinstance(data, list) and keyset:
            items = self.filters.get(path, lambda items, params: items)(data, params)
            start = int(base64.b64decode(params.get("cursor", "MA==")).decode())
            per = int(params.get("per_page", 20))
            data = items[start : start + per]
            if start + per < len(items):
                token = base64.b64encode(str(start + per).encode()).decode()
                nxt = request.url.copy_merge_params({"cursor": token})
                headers["link"] = f'<{nxt}>; rel="next"'
        elif isinstance(data, list):
            items = self.filters.get(path, lambda items, params: items)(data, params)
            page = int(params.get("page", 1))
            per = int(params.get("per_page", 20 if self.style != "github" else 30))
            data = items[(page - 1) * per : page * per]
            if page * per < len(items):
                nxt = request.url.copy_merge_params({"page": str(page + 1)})
                if self.style in ("github", "gitlab"):
                    headers["link"] = f'<{nxt}>; rel="next", <{request.url}>; rel="first"'
                if self.style.startswith("gitlab"):
                    headers["x-next-page"] = str(page + 1)
            elif self.style.startswith("gitlab"):
                headers["x-next-page"] = ""
        body = json.dumps(data).encode()
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if self.style != "github":
            etag = "W/" + etag
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1  # documented: a 304 does not count against the limit
            return httpx.Response(304, headers={"etag": etag, **self._limit_headers()})
        self.remaining -= 1
        self.counted += 1
        headers.update({"etag": etag, "content-type": "application/json; charset=utf-8"})
        return httpx.Response(200, content=body, headers=headers)
