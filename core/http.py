"""The one HTTP client every HTTP source uses: timeouts, retries with backoff, clear errors.

Why one client: retries, ``Retry-After``, TLS and credential handling are easy to get subtly
wrong, and a secret must never reach a log line or an error message. Sources call
``get_json`` / ``post_json`` and get parsed JSON or a :class:`HttpError` whose message names the
endpoint and, for 401/403, the *config key* that holds the credential — never its value.
"""

from __future__ import annotations

import email.utils
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mlreport.sources import SourceError

log = logging.getLogger("mlreport.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Before a server has answered once, a refused connection or an unknown host is most likely a
# wrong URL or a server that is down: retry this many times only, so the error comes in seconds.
FIRST_CONTACT_RETRIES = 1
MAX_RETRY_AFTER = 60.0  # seconds; a server asking for longer is not waited for blindly
MAX_BACKOFF = 30.0
MAX_RATE_LIMIT_WAITS = 3  # per request: a limit that does not lift after this is an error


class HttpError(SourceError):
    """An HTTP request failed for good; ``status`` is None for transport failures."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Reply:
    """A response of :meth:`HttpClient.get_reply`: status, headers and parsed JSON (None for
    ``304 Not Modified``), for APIs whose paging, ETags and rate limits live in headers."""

    status: int
    headers: httpx.Headers
    body: Any


# Called with a 403/429 response: seconds to wait before asking again, None when it is not a
# rate limit (then the usual error), or it raises to stop (a reset too far away).
RateLimit = Callable[[httpx.Response], float | None]


class HttpClient:
    """JSON over HTTP with retries; counts every request it sends in ``requests``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool | str | Path = True,
        timeout: float = 30.0,
        retries: int = 5,
        transport: httpx.BaseTransport | None = None,
        credential_key: str = "token",
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        auth_header: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if httpx.URL(base_url).userinfo:
            raise SourceError(
                f"{_strip_userinfo(base_url)}: credentials in the URL are not supported; "
                "use the token or username/password keys"
            )
        default_headers = {"Accept": "application/json", "User-Agent": "mlreport"}
        default_headers.update(headers or {})
        headers = default_headers
        auth: httpx.Auth | None = None
        if token and auth_header:  # e.g. GitLab's PRIVATE-TOKEN
            headers[auth_header] = token
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        elif username is not None or password is not None:
            auth = httpx.BasicAuth(username or "", password or "")
        self._secrets = tuple(s for s in (token, password) if s)
        self._has_auth = bool(token) or auth is not None
        self.base_url = base_url.rstrip("/")
        self.credential_key = credential_key
        self.retries = max(0, retries)
        self.backoff = backoff
        self._sleep = sleep
        self.requests = 0
        self.retried = 0
        self.answered = False  # a response (any status) has come back
        self._lock = threading.Lock()  # counters are shared by threads using this client
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            verify=_verify(verify),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    # -- public ------------------------------------------------------------------------------

    def get_json(self, path: str, params: Any = None) -> Any:
        return self._request("GET", path, params=params)

    def get_reply(
        self,
        path: str,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
    ) -> Reply:
        """GET with the response's status and headers: ``304`` (send ``If-None-Match`` in
        ``headers``) and redirects come back with body None, not followed; an absolute
        ``path`` (a Link header's next page) must be on this client's host, so a credential
        is never sent elsewhere."""
        if path.startswith(("http://", "https://")):
            self._same_origin(path)
        return self._request(
            "GET",
            path,
            params=params,
            headers=dict(headers or {}),
            reply=True,
            rate_limit=rate_limit,
        )

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body. Only for read-only queries (search endpoints): it is retried."""
        return self._request("POST", path, json=body)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _same_origin(self, url: str) -> None:
        want, got = httpx.URL(self.base_url), httpx.URL(url)
        if (got.scheme, got.host, got.port) != (want.scheme, want.host, want.port):
            raise HttpError(
                f"{self.base_url}: the server pointed to {_strip_userinfo(url)[:200]}, another "
                "host; not followed (the credential is only sent to the configured URL)"
            )

    def _request(
        self,
        method: str,
        path: str,
        reply: bool = False,
        rate_limit: RateLimit | None = None,
        **kwargs: Any,
    ) -> Any:
        where = f"{method} {_strip_query(path)}"
        attempt = waits = 0
        while True:
            with self._lock:
                self.requests += 1
            try:
                response, body = self._send(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                reason = _transport_reason(exc)
                unreachable = isinstance(exc, httpx.ConnectError) and not self.answered
                limit = min(self.retries, FIRST_CONTACT_RETRIES) if unreachable else self.retries
                if attempt >= limit:
                    raise HttpError(
                        self._redact(
                            f"{self.base_url}: {where}: {reason} "
                            f"(gave up after {attempt + 1} attempts)"
                        )
                    ) from None
                delay = self._backoff(attempt)
                log.debug("%s: %s; retrying in %.1fs", where, reason, delay)
            else:
                self.answered = True
                if reply and 300 <= response.status_code < 400:  # 304, or a redirect to name
                    return Reply(response.status_code, response.headers, None)
                if response.status_code < 400:
                    parsed = self._parse(response, body, where)
                    return (
                        Reply(response.status_code, response.headers, parsed) if reply else parsed
                    )
                wait = None
                if rate_limit and response.status_code in (403, 429):
                    wait = rate_limit(response)
                if wait is not None and waits >= MAX_RATE_LIMIT_WAITS:
                    raise HttpError(
                        f"{self.base_url}: {where}: still rate limited after waiting for the "
                        f"reset {waits} times; try again later",
                        status=response.status_code,
                    )
                if wait is not None:  # a reset that is near
                    waits += 1
                    log.info("%s: rate limited; waiting %.0fs for the reset", where, wait)
                    self._sleep(wait)
                    continue
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    raise self._status_error(response, body, where, attempt)
                delay = _retry_after(response)
                if delay is None:
                    delay = self._backoff(attempt)
                log.debug("%s: HTTP %s; retrying in %.1fs", where, response.status_code, delay)
            attempt += 1
            with self._lock:
                self.retried += 1
            self._sleep(delay)

    def _send(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """The response and its body, which is not kept on the response: httpx responses sit
        in reference cycles, so a kept body (megabytes for a page of runs) would live until the
        cyclic garbage collector ran, and a sync's memory would grow with its pages."""
        with self._client.stream(method, path, **kwargs) as response:
            body = b"".join(response.iter_bytes())
        return response, body

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF, self.backoff * (2**attempt))

    def _parse(self, response: httpx.Response, body: bytes, where: str) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(
                f"{self.base_url}: {where}: the response is not valid JSON "
                f"(truncated or malformed: {exc})",
                status=response.status_code,
            ) from None

    def _status_error(
        self, response: httpx.Response, body: bytes, where: str, attempt: int
    ) -> HttpError:
        status = response.status_code
        code, message = _error_body(body, response.headers.get("content-type", ""))
        if status in (401, 403):
            label = "forbidden" if status == 403 else "unauthorized"
            if self._has_auth:
                what = f"the credential in {self.credential_key} was rejected"
            else:
                what = f"the server wants a credential; set {self.credential_key}"
            text = f"{self.base_url}: {where}: HTTP {status} ({label}): {what}"
        else:
            text = f"{self.base_url}: {where}: HTTP {status}"
            if attempt:
                text += f" after {attempt + 1} attempts"
        if code or message:
            text += f": {code or ''}{' ' if code and message else ''}{message or ''}"
        return HttpError(self._redact(text), status=status, code=code)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def http_client(base_url: str, **kwargs: Any) -> HttpClient:
    """Build the shared client (see :class:`HttpClient` for the keyword arguments)."""
    return HttpClient(base_url, **kwargs)


def _strip_query(path: str) -> str:
    """A path for messages: a next-page URL's query may be long; the path says enough."""
    return path.split("?", 1)[0]


def _verify(verify: bool | str | Path) -> bool | ssl.SSLContext:
    """``True`` (system CAs), ``False``, or a CA bundle file turned into an SSL context."""
    if isinstance(verify, Path | str) and not isinstance(verify, bool):
        path = Path(verify)
        if not path.is_file():
            raise SourceError(f"{path}: CA bundle not found")
        try:
            return ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, OSError) as exc:
            raise SourceError(f"{path}: not a usable CA bundle (PEM): {exc}") from None
    return bool(verify)


def _strip_userinfo(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None))


def _transport_reason(exc: Exception) -> str:
    """What went wrong, in words: the OS's reason (refused, unknown host) when there is one."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause = str(exc).strip()
    for marker in ("] ", ": "):  # "[Errno 111] Connection refused" -> "Connection refused"
        if marker in cause:
            cause = cause.rsplit(marker, 1)[-1]
    return f"connection failed: {cause or type(exc).__name__}"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (delta-seconds or an HTTP date), capped."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _error_body(raw: bytes, content_type: str = "") -> tuple[str | None, str | None]:
    """MLflow-style ``{"error_code", "message"}``, Prometheus-style ``{"errorType", "error"}``
    (or a short text body), length-capped. An
    HTML error page (a proxy's, a wrong URL's) is not pasted into the message."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace").strip()
        if "html" in content_type.lower() or text[:1] == "<":
            return None, "(an HTML page, not an API answer: check the URL)"
        return None, (text[:200] or None)
    if isinstance(body, dict):
        code = body.get("error_code") or body.get("errorType")  # MLflow; Prometheus
        message = body.get("message") or body.get("error")
        return (
            str(code) if code else None,
            str(message)[:300] if message else None,
        )
    return None, None
