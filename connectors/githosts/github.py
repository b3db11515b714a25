"""The ``github`` source: one repository's deployments, merged pull requests, releases, tags
and incident issues through the GitHub REST API (docs/sources-github.md).

Listings are read newest first with fixed URLs, so the first page's ETag tells whether anything
changed: a ``304 Not Modified`` costs no rate limit and ends the stream's sync. Lists sorted by
``updated`` stop at the first item older than the cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from mlreport.connectors.githosts.base import HostSource, Result, edge_cursor, newest, since_of
from mlreport.connectors.githosts.options import GitHubOptions
from mlreport.connectors.githosts.paging import Listing
from mlreport.connectors.githosts.rows import Fields, earliest
from mlreport.times import iso

ABANDONED = timedelta(days=30)  # an unfinished deployment older than this is not watched
TERMINAL = {"success": "success", "failure": "failure", "error": "failure"}


class GitHubSource(HostSource):
    """Reads ``repo`` at ``api_url``."""

    Options = GitHubOptions
    options: GitHubOptions
    host = "GitHub"
    extra_headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

    @property
    def api_root(self) -> str:
        return self.options.api_url

    @property
    def repo_name(self) -> str:
        return self.options.repo.split("/", 1)[1]

    @property
    def base(self) -> str:
        return f"/repos/{self.options.repo}"

    def describe(self, body: dict) -> str:
        return f"repository {body.get('full_name', self.options.repo)} readable"

    def not_found_hint(self) -> str:
        return (
            f"check repo = {self.options.repo!r} and api_url; GitHub answers 404 also when "
            "the token cannot read a private repository"
        )

    # -- deployments ----------------------------------------------------------------------------

    def read_deployments(self, cursor: dict) -> Result:
        """New deployments (newest first, down to the horizon) and every watched one's
        statuses. A deployment is watched until it is terminal and older than the lookback,
        and each watch keeps its statuses' ETag, so an unchanged one costs a free 304."""
        watch: dict[str, dict] = dict(cursor.get("watch") or {})
        listing = Listing(etag=cursor.get("etag"))
        since = since_of(cursor)
        lookback = timedelta(days=self.options.deployment_lookback_days)
        horizon = since - lookback if since else None
        created: list[datetime | None] = []
        where = f"{self.base}/deployments"
        for item in self.pager.items(where, {"per_page": self.options.per_page}, listing):
            f = Fields(self.name, where, item)
            at = f.time("created_at", required=True)
            if horizon is not None and at < horizon:
                break
            ident = str(f.integer("id", required=True))
            created.append(at)
            old = watch.get(ident, {})
            watch[ident] = {
                "environment": f.text("environment", required=True),
                "sha": f.text("sha"),
                "ref": f.text("ref"),
                "created_at": iso(at),
                "etag": old.get("etag"),
                "done": old.get("done", False),
            }
        new_since = newest(cursor, created)
        found = []
        for ident, seen in sorted(watch.items()):
            row = self._statuses(ident, seen)
            if row is not None:
                found += self.per_entity(row, "deployment_id")
        return found, {
            "since": new_since,
            "etag": listing.etag,
            "watch": pruned(watch, new_since, lookback),
        }

    def _statuses(self, ident: str, seen: dict) -> dict[str, Any] | None:
        """The deployment's row when its statuses changed and one is terminal (the latest
        terminal status gives state and finish time); None when unchanged or still running."""
        where = f"{self.base}/deployments/{ident}/statuses"
        listing = Listing(etag=seen.get("etag"))
        statuses = [
            (f.time("created_at", required=True), f.text("state", required=True))
            for f in (
                Fields(self.name, where, s)
                for s in self.pager.items(where, {"per_page": self.options.per_page}, listing)
            )
        ]
        seen["etag"] = listing.etag
        if listing.not_modified:
            return None
        terminal = sorted((t, s) for t, s in statuses if s in TERMINAL)
        if not terminal:
            return None
        finished_at, state = terminal[-1]
        seen["done"] = True
        return {
            "deployment_id": ident,
            "environment": seen["environment"],
            "version": seen.get("ref"),
            "commit_sha": seen.get("sha"),
            "started_at": since_of({"since": seen["created_at"]}),
            "finished_at": finished_at,
            "status": TERMINAL[state],
            "kind": "planned",
            "trigger": None,
        }

    # -- pull requests ---------------------------------------------------------------------------

    def read_pull_requests(self, cursor: dict) -> Result:
        listing = Listing(etag=cursor.get("etag"))
        params = {
            "state": "closed",
            "sort": "updated",
            "direction": "desc",
            "per_page": self.options.per_page,
        }
        where = f"{self.base}/pulls"
        found, seen = [], []
        for f in self._updated_since(where, params, listing, cursor):
            seen.append(f)
            if f.get("merged_at") is not None:
                found.append(self._pull(f.integer("number", required=True)))
        return found, {**edge_cursor(cursor, seen), "etag": listing.etag}

    def _updated_since(
        self, where: str, params: dict, listing: Listing, cursor: dict
    ) -> Iterator[Fields]:
        """Items of a listing sorted by ``updated`` descending, down to the cursor. Items
        updated in the cursor's very second are re-read unless the cursor lists them as
        already seen (``edge``), so neither a boundary item is lost nor re-fetched."""
        since = since_of(cursor)
        edge = set(cursor.get("edge") or [])
        for item in self.pager.items(where, params, listing):
            f = Fields(self.name, where, item)
            at = f.time("updated_at", required=True)
            if since is not None and at < since:
                return
            if at == since and f.integer("number", required=True) in edge:
                continue
            yield f

    def _pull(self, number: int) -> dict[str, Any]:
        """One merged pull request with its size, first commit and first review."""
        where = f"{self.base}/pulls/{number}"
        f = Fields(self.name, where, self.pager.one(where))
        author = f.text("user.login")
        commits = [
            Fields(self.name, f"{where}/commits", c)
            for c in self.pager.items(f"{where}/commits", {"per_page": 100})
        ]
        reviews = [
            Fields(self.name, f"{where}/reviews", r)
            for r in self.pager.items(f"{where}/reviews", {"per_page": 100})
        ]
        return {
            "repo": self.name,
            "number": number,
            "title": f.text("title"),
            "author": author,
            "created_at": f.time("created_at", required=True),
            "updated_at": f.time("updated_at"),
            "merged_at": f.time("merged_at", required=True),
            "merge_sha": f.text("merge_commit_sha"),
            "head_sha": f.text("head.sha"),
            "base_ref": f.text("base.ref"),
            "first_commit_at": earliest([c.time("commit.author.date") for c in commits]),
            "first_review_at": earliest(
                [
                    r.time("submitted_at")
                    for r in reviews
                    if r.text("state") != "PENDING" and r.text("user.login") != author
                ]
            ),
            "additions": f.integer("additions"),
            "deletions": f.integer("deletions"),
            "labels": f.labels(),
            "url": f.text("html_url"),
        }

    # -- incidents -----------------------------------------------------------------------------

    def read_incidents(self, cursor: dict) -> Result:
        listing = Listing(etag=cursor.get("etag"))
        params = {
            "labels": self.options.incident_label,
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": self.options.per_page,
        }
        where = f"{self.base}/issues"
        found, seen = [], []
        for f in self._updated_since(where, params, listing, cursor):
            seen.append(f)
            if f.get("pull_request") is not None:  # the issues API lists PRs too
                continue
            row = incident_row(f, self.options.incident_environment)
            found += self.per_entity(row, "incident_id")
        return found, {**edge_cursor(cursor, seen), "etag": listing.etag}

    # -- releases and tags -------------------------------------------------------------------

    def read_releases(self, cursor: dict) -> Result:
        listing = Listing(etag=cursor.get("etag"))
        where = f"{self.base}/releases"
        found = []
        for item in self.pager.items(where, {"per_page": self.options.per_page}, listing):
            f = Fields(self.name, where, item)
            found.append(
                {
                    "kind": "release",
                    "tag": f.text("tag_name", required=True),
                    "repo": self.name,
                    "name": f.text("name"),
                    "sha": None,  # a release names a target branch or sha, not always a commit
                    "created_at": f.time("created_at"),
                    "published_at": f.time("published_at"),
                    "draft": bool(f.get("draft")),
                    "prerelease": bool(f.get("prerelease")),
                    "url": f.text("html_url"),
                }
            )
        return found, {"etag": listing.etag}

    def read_tags(self, cursor: dict) -> Result:
        """Every tag, every sync: the list is not ordered by time, so a new tag can land on
        any page and the first page's ETag cannot vouch for the rest (one request per 100).
        Only tags that are new or point elsewhere are written (the cursor keeps tag -> sha)."""
        where = f"{self.base}/tags"
        known: dict[str, str | None] = dict(cursor.get("tags") or {})
        now: dict[str, str | None] = {}
        found = []
        for item in self.pager.items(where, {"per_page": self.options.per_page}):
            f = Fields(self.name, where, item)
            tag, sha = f.text("name", required=True), f.text("commit.sha")
            now[tag] = sha
            if tag in known and known[tag] == sha:
                continue
            found.append(
                {
                    "kind": "tag",
                    "tag": tag,
                    "repo": self.name,
                    "name": tag,
                    "sha": sha,
                    "created_at": None,  # the tags API gives no date
                    "published_at": None,
                    "draft": None,
                    "prerelease": None,
                    "url": None,
                }
            )
        return found, {"tags": now}


def pruned(watch: dict[str, dict], newest_at: str | None, lookback: timedelta) -> dict:
    """The watches worth keeping: finished deployments inside the lookback (they are listed
    again), and unfinished ones younger than ``ABANDONED`` (older ones never finished, or
    their statuses expired: GitHub keeps statuses 90 days)."""
    if newest_at is None:
        return watch
    top = since_of({"since": newest_at})
    out = {}
    for ident, w in watch.items():
        created = since_of({"since": w["created_at"]})
        if created >= top - (ABANDONED if not w["done"] else lookback):
            out[ident] = w
    return out


def incident_row(f: Fields, environment: str | None) -> dict[str, Any]:
    """An incident issue: opened = detected, closed = resolved; ``severity`` from a
    ``severity:X`` (or ``severity/X``, ``severity::X``) label."""
    severity = None
    for label in f.labels():
        low = label.lower()
        for prefix in ("severity::", "severity:", "severity/"):
            if low.startswith(prefix):
                severity = label[len(prefix) :].strip() or None
                break
        if severity:
            break
    number = f.integer("number") if "number" in f.item else f.integer("iid", required=True)
    return {
        "incident_id": str(number),
        "environment": environment,
        "severity": severity,
        "detected_at": f.time("created_at", required=True),
        "resolved_at": f.time("closed_at"),
        "title": f.text("title"),
    }
