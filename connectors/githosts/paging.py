"""Paged, conditional, rate-limit-aware reading of a Git host's REST API.

Shared by the ``github`` and ``gitlab`` sources. Why here and not in ``mlreport.http``: the
shared client knows retries and credentials; what a *listing* is (Link headers, GitLab's
``x-next-page``), what an ETag saves and how a host announces its rate limit are the hosts'.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from mlreport.http import HttpClient, HttpError, Reply
from mlreport.sources import SourceError
from mlreport.times import iso

log = logging.getLogger("mlreport.githosts")

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
MAX_PAGES = 100_000  # a server that pages forever is an error, not a loop


class HostError(SourceError):
    """The host answered with an error; ``status`` is its HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(SourceError):
    """The host's rate limit resets later than the source may wait."""


@dataclass
class Listing:
    """What reading a listing found out: its first page's ETag and whether it was unchanged."""

    etag: str | None = None
    not_modified: bool = False


class Pager:
    """Reads one host's API for one source; every error names the source."""

    def __init__(
        self,
        client: HttpClient,
        source: str,
        host: str,
        max_wait: float,
        count: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.source = source
        self.host = host
        self.max_wait = max_wait
        self._count = count
        self._clock = clock
        self.not_found_hint = "check the configured repository"

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: Any = None, etag: str | None = None) -> Reply:
        """One GET; ``304`` (the stored ETag still matches) comes back with body None."""
        headers = {"If-None-Match": etag} if etag else None
        try:
            reply = self.client.get_reply(path, params, headers, rate_limit=self._rate_limit)
        except RateLimited:
            raise
        except HttpError as exc:
            raise self._error(exc) from None
        self._count("not_modified" if reply.status == 304 else "requests")
        if 300 <= reply.status < 400 and reply.status != 304:
            moved = reply.headers.get("location", "")
            raise HostError(
                f"{path.split('?')[0]}: {self.host} answered HTTP "
                f"{reply.status} (moved) to {moved[:200] or 'an unnamed place'}; a renamed or "
                "transferred repository is not followed: set its new name in the config",
                reply.status,
            )
        return reply

    def items(
        self, path: str, params: dict[str, Any] | None = None, listing: Listing | None = None
    ) -> Iterator[dict]:
        """Every item of a listing, page after page (Link ``rel="next"``, else GitLab's
        ``x-next-page``). With ``listing.etag`` set the first page is asked conditionally; a
        ``304`` yields nothing and sets ``listing.not_modified``."""
        listing = listing if listing is not None else Listing()
        reply = self.get(path, params, listing.etag)
        if reply.status == 304:
            listing.not_modified = True
            return
        listing.etag = reply.headers.get("etag")
        seen: set[str] = set()
        where = path
        for _ in range(MAX_PAGES):
            yield from self._page_items(reply, where)
            nxt = next_page(reply.headers, path, params)
            if nxt is None:
                return
            if nxt in seen:
                raise SourceError(
                    f"{self.host} pointed back to a page already read "
                    f"({path}); stopping instead of looping"
                )
            seen.add(nxt)
            where = nxt
            reply = self.get(nxt)
        raise SourceError(f"{path}: more than {MAX_PAGES} pages")

    def one(self, path: str, params: dict[str, Any] | None = None) -> dict:
        """A single object (one pull request)."""
        reply = self.get(path, params)
        if not isinstance(reply.body, dict):
            raise self._shape(path, "a JSON object", reply.body)
        return reply.body

    # -- internals ---------------------------------------------------------------------------

    def _page_items(self, reply: Reply, where: str) -> Iterator[dict]:
        if not isinstance(reply.body, list):
            raise self._shape(where, "a JSON array", reply.body)
        for i, item in enumerate(reply.body):
            if not isinstance(item, dict):
                raise SourceError(
                    f"{where.split('?')[0]}: item {i} is "
                    f"{type(item).__name__}, not an object; is this a {self.host} API?"
                )
            yield item

    def _shape(self, where: str, expected: str, body: Any) -> SourceError:
        return SourceError(
            f"{where.split('?')[0]}: expected {expected}, got "
            f"{type(body).__name__}; is the API URL that of {self.host}?"
        )

    def _error(self, exc: HttpError) -> HostError:
        text = str(exc)
        if exc.status == 404:
            text += f" — not found: {self.not_found_hint}"
        elif exc.status in (401, 403):
            text += " — check the token and its scopes (read access to the repository)"
        return HostError(text, exc.status)

    def _rate_limit(self, response: httpx.Response) -> float | None:
        """Seconds to wait for the reset, None when the 403/429 is not a rate limit; raises
        :class:`RateLimited` when the reset is further away than ``max_wait``."""
        h = response.headers
        remaining = h.get("x-ratelimit-remaining", h.get("ratelimit-remaining"))
        reset = _number(h.get("x-ratelimit-reset", h.get("ratelimit-reset")))
        now = self._clock()
        wait = _retry_after(h.get("retry-after"), now)
        if wait is None and remaining is not None and remaining.strip() == "0" and reset:
            wait = max(0.0, reset - now) + 1.0  # the reset second itself may still be limited
        if wait is None:
            return None  # a 403 without rate-limit headers is a permission problem
        self._count("rate_limited")
        if wait <= self.max_wait:
            return wait
        until = datetime.fromtimestamp(now + wait, UTC)
        raise RateLimited(
            f"the {self.host} API rate limit is used up until "
            f"{iso(until)} (in {wait / 60:.0f} min, longer than max_wait = {self.max_wait:g} s); "
            "run the sync again after that time. Rows committed so far are kept and this "
            "stream's cursor did not move."
        )


def next_page(headers: httpx.Headers, path: str, params: dict[str, Any] | None) -> str | None:
    """The next page's URL: the Link header's ``rel="next"``, else GitLab's ``x-next-page``."""
    for url, rel in parse_links(headers.get("link", "")):
        if "next" in rel.split():
            return url
    page = (headers.get("x-next-page") or "").strip()
    if page.isdigit():
        query = dict(params or {}, page=page)
        return str(httpx.URL(path, params=query))
    return None


def parse_links(value: str) -> list[tuple[str, str]]:
    """``<url>; rel="next", <url>; rel="last"`` as (url, rel) pairs (RFC 8288, simply)."""
    out = []
    for url, attrs in _LINK.findall(value):
        rel = re.search(r'rel\s*=\s*"?([^";]+)"?', attrs)
        out.append((url.strip(), rel.group(1).strip() if rel else ""))
    return out


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    seconds = _number(value.strip())
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
