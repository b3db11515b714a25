"""What the ``github`` and ``gitlab`` sources share: streams, cursors, the entity mapping.

Each stream reads its whole increment before yielding its rows and the new cursor, so an error
anywhere (a rate limit that will not lift, a malformed page) leaves the stream's cursor and
rows as they were: the kernel commits rows and cursor together at the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from mlreport.connectors.githosts import rows as R
from mlreport.connectors.githosts.options import HostOptions
from mlreport.connectors.githosts.paging import Pager
from mlreport.sources import Checkpoint, Rows, Source, SourceError, Stream
from mlreport.times import iso, parse_time

CURSOR_VERSION = 1
Result = tuple[list[dict[str, Any]], dict[str, Any]]  # rows, the stream's new cursor


class HostSource(Source):
    """Base of the Git-host sources; subclasses read each stream's increment."""

    options: HostOptions
    host: ClassVar[str] = ""
    token_header: ClassVar[str | None] = None  # None: "Authorization: Bearer"
    extra_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._transport: Any = None  # tests: an httpx transport replaying responses
        self._sleep: Callable[[float], None] | None = None
        self._clock: Callable[[], float] | None = None
        self._pager: Pager | None = None

    # -- what subclasses say ------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        raise NotImplementedError

    @property
    def repo_name(self) -> str:
        """The repository's own name: the entity when none is configured."""
        raise NotImplementedError

    def read_deployments(self, cursor: dict) -> Result:
        raise NotImplementedError

    def read_pull_requests(self, cursor: dict) -> Result:
        raise NotImplementedError

    def read_incidents(self, cursor: dict) -> Result:
        raise NotImplementedError

    def read_releases(self, cursor: dict) -> Result:
        raise NotImplementedError

    def read_tags(self, cursor: dict) -> Result:
        raise NotImplementedError

    # -- the source contract --------------------------------------------------------------------

    def streams(self) -> list[Stream]:
        return [
            Stream("repo_entities", "repo_entities", ("repo", "entity"), entity_column="entity"),
            Stream("deployments", "deployments", ("source", "deployment_id"), "entity"),
            Stream("pull_requests", "pull_requests", ("repo", "number")),
            Stream("incidents", "incidents", ("source", "incident_id"), "entity"),
            Stream("releases", "releases", ("source", "kind", "tag")),
            Stream("tags", "releases", ("source", "kind", "tag")),
        ]

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        if stream.name == "repo_entities":
            yield from self._read_entities(cursor)
            return
        readers = {
            "deployments": (self.read_deployments, R.DEPLOYMENT_SCHEMA),
            "pull_requests": (self.read_pull_requests, R.PULL_SCHEMA),
            "incidents": (self.read_incidents, R.INCIDENT_SCHEMA),
            "releases": (self.read_releases, R.RELEASE_SCHEMA),
            "tags": (self.read_tags, R.RELEASE_SCHEMA),
        }
        if stream.name not in readers:
            raise SourceError(f"no stream {stream.name!r}")
        reader, schema = readers[stream.name]
        state = cursor if isinstance(cursor, dict) and cursor.get("v") == CURSOR_VERSION else {}
        found, new = reader(dict(state))
        if found:
            yield Rows(R.frame(found, schema))
        yield Checkpoint({**new, "v": CURSOR_VERSION})

    def check(self) -> str:
        reply = self.pager.get(self.base)
        if reply.status >= 300 or not isinstance(reply.body, dict):
            raise SourceError(f"{self.base}: unexpected answer")
        return f"{self.api_root}: {self.describe(reply.body)}"

    @property
    def base(self) -> str:
        """The repository's or project's API path: what ``check`` reads, every listing's root."""
        raise NotImplementedError

    def describe(self, body: dict) -> str:
        return "reachable"

    # -- helpers for subclasses -----------------------------------------------------------------

    @property
    def entities(self) -> list[str]:
        return self.options.mapped_entities(self.repo_name)

    @property
    def pager(self) -> Pager:
        if self._pager is None:
            from mlreport.http import http_client

            kwargs: dict[str, Any] = {}
            if self._sleep is not None:
                kwargs["sleep"] = self._sleep
            token = self.options.token.get_secret_value() if self.options.token else None
            client = http_client(
                self.api_root,
                token=token or None,
                auth_header=self.token_header,
                headers=self.extra_headers,
                timeout=self.options.timeout,
                retries=self.options.retries,
                transport=self._transport,
                credential_key=self._credential_key(),
                **kwargs,
            )
            extra = {"clock": self._clock} if self._clock is not None else {}
            self._pager = Pager(
                client, self.name, self.host, self.options.max_wait, self.count, **extra
            )
            self._pager.not_found_hint = self.not_found_hint()
        return self._pager

    def not_found_hint(self) -> str:
        return "check the repository name and that the token can read it"

    def per_entity(self, row: dict[str, Any], id_key: str) -> list[dict[str, Any]]:
        """One row per mapped entity (a repo deploying several services deploys each); ids
        get the entity appended when there are several, so keys stay unique."""
        names = self.entities
        if len(names) == 1:
            return [dict(row, entity=names[0])]
        return [dict(row, entity=n, **{id_key: f"{row[id_key]}:{n}"}) for n in names]

    def _credential_key(self) -> str:
        index = next((i for i, s in enumerate(self.config.sources) if s.name == self.name), None)
        return f"sources[{index}].token" if index is not None else f"{self.name}.token"

    def _read_entities(self, cursor: Any) -> Iterator[Rows | Checkpoint]:
        names = self.entities
        if cursor != {"entities": names}:
            rows = [{"repo": self.name, "entity": n} for n in names]
            yield Rows(R.frame(rows, R.REPO_ENTITY_SCHEMA))
        yield Checkpoint({"entities": names})


def since_of(cursor: dict) -> datetime | None:
    value = cursor.get("since")
    return parse_time(value) if value else None


def newest(cursor: dict, times: list[datetime | None]) -> str | None:
    """The new high-water mark: the latest ``updated_at`` seen, never earlier than before."""
    known = [t for t in times if t is not None]
    old = since_of(cursor)
    if old is not None:
        known.append(old)
    return iso(max(known)) if known else None


def edge_cursor(cursor: dict, seen: list[Any], key: str = "number") -> dict[str, Any]:
    """The new high-water mark (latest ``updated_at`` of the ``seen`` items' Fields) and the
    ``key`` of the items updated exactly then: the next sync re-asks from that second and
    skips those, so an item updated later within the same second is not lost."""
    if not seen:
        return {"since": cursor.get("since"), "edge": cursor.get("edge") or []}
    times = [f.time("updated_at") for f in seen]
    top = max(times)
    edge = sorted(f.integer(key) for f, at in zip(seen, times, strict=True) if at == top)
    if iso(top) == cursor.get("since"):
        edge = sorted(set(edge) | set(cursor.get("edge") or []))
    return {"since": iso(top), "edge": edge}


def on_edge(f: Any, cursor: dict, key: str = "number") -> bool:
    """Whether an item was already read at the cursor's second (see :func:`edge_cursor`)."""
    since = since_of(cursor)
    return f.time("updated_at") == since and f.integer(key) in set(cursor.get("edge") or [])
