"""The ``gitlab`` source: one project's deployments, merged merge requests, releases, tags
and incident issues through the GitLab REST API v4 (docs/sources-gitlab.md).

Deployments, merge requests and issues are asked ``updated_after`` the cursor, ordered by
``updated_at`` newest first; the query is fixed while the cursor stands and any change lands on
the first page, so the first page's ETag makes an unchanged listing a ``304``. Pages follow
the Link header (GitLab sends it for offset and keyset pagination), else ``x-next-page``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from mlreport.connectors.githosts.base import HostSource, Result, edge_cursor, on_edge, since_of
from mlreport.connectors.githosts.github import incident_row
from mlreport.connectors.githosts.options import GitLabOptions
from mlreport.connectors.githosts.paging import HostError, Listing
from mlreport.connectors.githosts.rows import Fields, earliest
from mlreport.times import iso

log = logging.getLogger("mlreport.githosts")

STATUS = {"success": "success", "failed": "failure"}  # others are not finished (or canceled)
APPROVED = ("approved this merge request",)


class GitLabSource(HostSource):
    """Reads ``project`` at ``url``; the token goes in the PRIVATE-TOKEN header."""

    Options = GitLabOptions
    options: GitLabOptions
    host = "GitLab"
    token_header = "PRIVATE-TOKEN"

    @property
    def api_root(self) -> str:
        return f"{self.options.url}/api/v4"

    @property
    def repo_name(self) -> str:
        return str(self.options.project).rsplit("/", 1)[-1]

    @property
    def base(self) -> str:
        return f"/projects/{quote(str(self.options.project), safe='')}"

    def describe(self, body: dict) -> str:
        return f"project {body.get('path_with_namespace', self.options.project)} readable"

    def not_found_hint(self) -> str:
        return (
            f"check project = {self.options.project!r} and url; GitLab answers 404 also when "
            "the token cannot read a private project"
        )

    def _since_params(self, cursor: dict) -> dict[str, Any]:
        params: dict[str, Any] = {
            "order_by": "updated_at",
            "sort": "desc",  # newest first: any change alters the first page and its ETag
            "per_page": self.options.per_page,
        }
        since = since_of(cursor)  # "updated on or after": the cursor's second is asked again
        if since is not None:
            params["updated_after"] = iso(since)
        return params

    # -- deployments ----------------------------------------------------------------------------

    def read_deployments(self, cursor: dict) -> Result:
        where = f"{self.base}/deployments"
        listing = Listing(etag=cursor.get("etag"))
        found, seen = [], []
        fresh, keyset = self._fresh(where, self._since_params(cursor), listing, cursor, "id")
        for f in fresh:
            seen.append(f)
            status = STATUS.get(f.text("status", required=True) or "")
            if status is None:  # created, running, blocked: read again when it updates
                continue
            row = {
                "deployment_id": str(f.integer("id", required=True)),
                "environment": f.text("environment.name", required=True),
                "version": f.text("ref"),
                "commit_sha": f.text("sha"),
                "started_at": f.time("deployable.started_at") or f.time("created_at"),
                "finished_at": f.time("deployable.finished_at") or f.time("updated_at"),
                "status": status,
                "kind": "planned",
                "trigger": None,
            }
            found += self.per_entity(row, "deployment_id")
        return found, self._cursor(cursor, seen, listing, "id", keyset)

    def _cursor(
        self, cursor: dict, seen: list[Fields], listing: Listing, key: str, keyset: bool
    ) -> dict:
        new = edge_cursor(cursor, seen, key)
        # The ETag belongs to the query with the old cursor; a moved cursor is a new query.
        etag = listing.etag if new["since"] == cursor.get("since") else None
        return {**new, "etag": etag, "keyset": keyset}

    # -- merge requests -----------------------------------------------------------------------

    def read_pull_requests(self, cursor: dict) -> Result:
        where = f"{self.base}/merge_requests"
        listing = Listing(etag=cursor.get("etag"))
        params = {**self._since_params(cursor), "state": "merged", "scope": "all"}
        found, seen = [], []
        fresh, keyset = self._fresh(where, params, listing, cursor, "iid")
        for f in fresh:
            seen.append(f)
            found.append(self._merge_request(f))
        return found, self._cursor(cursor, seen, listing, "iid", keyset)

    def _fresh(
        self, where: str, params: dict, listing: Listing, cursor: dict, key: str
    ) -> tuple[list[Fields], bool]:
        """The listing's items, less those already read at the cursor's second, and whether
        keyset pagination served them. Keyset is asked first (GitLab offers it on a growing
        set of endpoints, e.g. project issues since 18.x); an endpoint without it answers 405,
        which is remembered in the cursor so it costs one request once."""
        keyset = cursor.get("keyset", True) is not False
        items: list[dict] = []
        if keyset:
            try:
                items = list(self.pager.items(where, {**params, "pagination": "keyset"}, listing))
            except HostError as exc:
                if exc.status != 405:
                    raise
                log.info("%s: %s has no keyset pagination; using offset pages", self.name, where)
                keyset, listing.etag, listing.not_modified = False, None, False
        if not keyset:
            items = list(self.pager.items(where, params, listing))
        out = []
        for item in items:
            f = Fields(self.name, where, item)
            f.time("updated_at", required=True)
            f.integer(key, required=True)
            if not on_edge(f, cursor, key):
                out.append(f)
        return out, keyset

    def _merge_request(self, f: Fields) -> dict[str, Any]:
        iid = f.integer("iid", required=True)
        where = f"{self.base}/merge_requests/{iid}"
        author = f.text("author.username")
        commits = [
            Fields(self.name, f"{where}/commits", c)
            for c in self.pager.items(f"{where}/commits", {"per_page": 100})
        ]
        notes = [
            Fields(self.name, f"{where}/notes", n)
            for n in self.pager.items(
                f"{where}/notes", {"sort": "asc", "order_by": "created_at", "per_page": 100}
            )
        ]
        return {
            "repo": self.name,
            "number": iid,
            "title": f.text("title"),
            "author": author,
            "created_at": f.time("created_at", required=True),
            "updated_at": f.time("updated_at"),
            "merged_at": f.time("merged_at", required=True),
            "merge_sha": f.text("merge_commit_sha") or f.text("squash_commit_sha"),
            "head_sha": f.text("sha"),
            "base_ref": f.text("target_branch"),
            "first_commit_at": earliest([c.time("authored_date") for c in commits]),
            "first_review_at": earliest(
                [n.time("created_at") for n in notes if _review(n, author)]
            ),
            "additions": None,  # not in GitLab's merge request API (see docs)
            "deletions": None,
            "labels": f.labels(),
            "url": f.text("web_url"),
        }

    # -- incidents ----------------------------------------------------------------------------

    def read_incidents(self, cursor: dict) -> Result:
        where = f"{self.base}/issues"
        listing = Listing(etag=cursor.get("etag"))
        params = {**self._since_params(cursor), "labels": self.options.incident_label}
        params["scope"] = "all"
        found, seen = [], []
        fresh, keyset = self._fresh(where, params, listing, cursor, "iid")
        for f in fresh:
            seen.append(f)
            row = incident_row(f, self.options.incident_environment)
            found += self.per_entity(row, "incident_id")
        return found, self._cursor(cursor, seen, listing, "iid", keyset)

    # -- releases and tags ---------------------------------------------------------------------

    def read_releases(self, cursor: dict) -> Result:
        where = f"{self.base}/releases"
        listing = Listing(etag=cursor.get("etag"))
        found = []
        for item in self.pager.items(where, {"per_page": self.options.per_page}, listing):
            f = Fields(self.name, where, item)
            found.append(
                {
                    "kind": "release",
                    "tag": f.text("tag_name", required=True),
                    "repo": self.name,
                    "name": f.text("name"),
                    "sha": f.text("commit.id"),
                    "created_at": f.time("created_at"),
                    "published_at": f.time("released_at"),
                    "draft": False,
                    "prerelease": bool(f.get("upcoming_release")),
                    "url": f.text("_links.self"),
                }
            )
        return found, {"etag": listing.etag}

    def read_tags(self, cursor: dict) -> Result:
        where = f"{self.base}/repository/tags"
        listing = Listing(etag=cursor.get("etag"))
        found = []
        for item in self.pager.items(where, {"per_page": self.options.per_page}, listing):
            f = Fields(self.name, where, item)
            found.append(
                {
                    "kind": "tag",
                    "tag": f.text("name", required=True),
                    "repo": self.name,
                    "name": f.text("name"),
                    "sha": f.text("commit.id"),
                    "created_at": f.time("commit.created_at"),
                    "published_at": None,
                    "draft": None,
                    "prerelease": None,
                    "url": None,
                }
            )
        return found, {"etag": listing.etag}


def _review(note: Fields, author: str | None) -> bool:
    """A review: a person other than the author commented on, or approved, the request
    (system notes are GitLab's own events, except "approved this merge request")."""
    if note.text("author.username") == author:
        return False
    if not note.get("system"):
        return True
    body = (note.text("body") or "").strip().lower()
    return body.startswith(APPROVED)
