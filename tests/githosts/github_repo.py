"""A small recorded GitHub repository ``octo/app`` on a FakeHost."""

from __future__ import annotations

from tests.githosts.fakehost import FakeHost, fixture

BASE = "/repos/octo/app"


def ts(day: int, hour: int = 0) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


def github_host(api: str = "https://api.github.com") -> FakeHost:
    host = FakeHost(api, "github")
    host.routes[BASE] = fixture("github", "repo", full_name="octo/app", name="app")
    host.routes[f"{BASE}/pulls"] = []
    host.routes[f"{BASE}/deployments"] = []
    host.routes[f"{BASE}/issues"] = []
    host.routes[f"{BASE}/releases"] = []
    host.routes[f"{BASE}/tags"] = []
    return host


def add_pull(
    host: FakeHost,
    number: int,
    opened: int,
    merged: int | None,
    updated: int,
    commits: list[int],
    reviews: list[tuple[str, int, str]],
) -> None:
    """A closed pull request (merged unless ``merged`` is None) opened/merged/updated on those
    March days, with commits authored on ``commits`` days and (login, day, state) reviews."""
    pull = fixture(
        "github",
        "pull",
        number=number,
        title=f"Change {number}",
        html_url=f"https://github.com/octo/app/pull/{number}",
        created_at=ts(opened),
        updated_at=ts(updated),
        closed_at=ts(merged or updated),
        merged_at=ts(merged) if merged else None,
        merge_commit_sha=f"{number:040x}",
        additions=10 * number,
        deletions=number,
        labels=[{"id": 1, "name": "feature"}],
    )
    listing = [p for p in host.routes[f"{BASE}/pulls"] if p["number"] != number] + [pull]
    listing.sort(key=lambda p: p["updated_at"], reverse=True)
    host.routes[f"{BASE}/pulls"] = listing
    host.routes[f"{BASE}/pulls/{number}"] = pull
    host.routes[f"{BASE}/pulls/{number}/commits"] = [
        fixture("github", "pull_commit", sha=f"{number:020x}{i:020x}", commit__author__date=ts(d))
        for i, d in enumerate(commits)
    ]
    host.routes[f"{BASE}/pulls/{number}/reviews"] = [
        fixture("github", "review", id=i, user={"login": who}, submitted_at=ts(d), state=state)
        for i, (who, d, state) in enumerate(reviews)
    ]


def add_deployment(
    host: FakeHost, ident: int, created: int, env: str, states: list[tuple[str, int]]
) -> None:
    """A deployment created on a March day with (state, day) statuses, newest listed first."""
    dep = fixture(
        "github",
        "deployment",
        id=ident,
        sha=f"{ident:040x}",
        ref=f"v1.{ident}",
        environment=env,
        created_at=ts(created),
        updated_at=ts(max([created] + [d for _, d in states])),
    )
    listing = [d for d in host.routes[f"{BASE}/deployments"] if d["id"] != ident] + [dep]
    listing.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
    host.routes[f"{BASE}/deployments"] = listing
    host.routes[f"{BASE}/deployments/{ident}/statuses"] = [
        fixture("github", "deployment_status", id=i, state=s, created_at=ts(d, 1 + i))
        for i, (s, d) in reversed(list(enumerate(states)))
    ]


def add_issue(
    host: FakeHost,
    number: int,
    opened: int,
    closed: int | None,
    updated: int,
    labels: tuple[str, ...] = ("incident",),
    pull: bool = False,
) -> None:
    issue = fixture(
        "github",
        "issue",
        number=number,
        title=f"Outage {number}",
        created_at=ts(opened),
        closed_at=ts(closed) if closed else None,
        state="closed" if closed else "open",
        updated_at=ts(updated),
        labels=[{"id": i, "name": n} for i, n in enumerate(labels)],
    )
    if pull:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/octo/app/pulls/{number}"}
    listing = [i for i in host.routes[f"{BASE}/issues"] if i["number"] != number] + [issue]
    listing.sort(key=lambda i: i["updated_at"], reverse=True)
    host.routes[f"{BASE}/issues"] = listing


def populate(host: FakeHost) -> None:
    """Five pull requests (one closed unmerged), four deployments, three issues, releases."""
    add_pull(host, 1, 1, 3, 3, [1, 2], [("hubot", 2, "APPROVED")])
    add_pull(host, 2, 2, 5, 5, [1], [("octocat", 3, "COMMENTED"), ("mona", 4, "APPROVED")])
    add_pull(host, 3, 4, None, 6, [4], [])
    add_pull(host, 4, 5, 7, 7, [5], [("hubot", 6, "PENDING"), ("mona", 7, "CHANGES_REQUESTED")])
    add_pull(host, 5, 6, 8, 8, [], [])
    add_deployment(host, 11, 4, "production", [("in_progress", 4), ("success", 4)])
    add_deployment(host, 12, 6, "production", [("pending", 6), ("failure", 6)])
    add_deployment(host, 13, 8, "production", [("success", 8), ("inactive", 9)])
    add_deployment(host, 14, 9, "staging", [("queued", 9)])
    add_issue(host, 21, 6, 7, 7, ("incident", "severity:high"))
    add_issue(host, 22, 9, None, 9)
    add_issue(host, 23, 9, None, 9, pull=True)
    host.routes[f"{BASE}/releases"] = [
        fixture(
            "github",
            "release",
            id=2,
            tag_name="v1.13",
            name="v1.13",
            created_at=ts(8),
            published_at=ts(8),
            html_url="https://github.com/octo/app/releases/v1.13",
        ),
        fixture(
            "github",
            "release",
            id=1,
            tag_name="v1.11",
            name="v1.11",
            created_at=ts(4),
            published_at=ts(4),
            prerelease=True,
        ),
    ]
    host.routes[f"{BASE}/tags"] = [
        fixture("github", "tag", name="v1.13", commit={"sha": f"{13:040x}"}),
        fixture("github", "tag", name="v1.11", commit={"sha": f"{11:040x}"}),
        fixture("github", "tag", name="v1.0", commit={"sha": f"{1:040x}"}),
    ]
