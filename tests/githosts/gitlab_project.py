"""A small recorded GitLab project ``my-group/my-project`` on a FakeHost."""

from __future__ import annotations

from tests.githosts.fakehost import FakeHost, fixture

BASE = "/projects/my-group%2Fmy-project"


def ts(day: int, hour: int = 0) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00.000Z"


def updated_after(items: list, params: dict) -> list:
    """What GitLab does with updated_after ("on or after"), order_by=updated_at and sort."""
    after = params.get("updated_after")
    out = [i for i in items if after is None or i["updated_at"][:19] >= after[:19]]
    if "labels" in params:
        out = [i for i in out if params["labels"] in i.get("labels", [])]
    desc = params.get("sort", "desc") == "desc"  # GitLab's default order is descending
    return sorted(out, key=lambda i: (i["updated_at"], i["id"]), reverse=desc)


def gitlab_host(style: str = "gitlab") -> FakeHost:
    host = FakeHost("https://gitlab.example.com/api/v4", style)
    host.routes[BASE] = fixture("gitlab", "project")
    for what in ("deployments", "merge_requests", "issues", "releases", "repository/tags"):
        host.routes[f"{BASE}/{what}"] = []
    for what in ("deployments", "merge_requests", "issues"):
        host.filters[f"{BASE}/{what}"] = updated_after
    host.keyset = {f"{BASE}/issues"}  # GitLab 18.x: project issues have keyset pagination
    return host


def add_deployment(
    host: FakeHost, ident: int, day: int, status: str, env: str = "production", updated: int = 0
):
    dep = fixture(
        "gitlab",
        "deployment",
        id=ident,
        iid=ident,
        status=status,
        sha=f"{ident:040x}",
        ref="main",
        created_at=ts(day),
        updated_at=ts(updated or day, 3),
        environment={"id": 9, "name": env, "external_url": "https://example.com"},
    )
    dep["deployable"].update(started_at=ts(day, 1), finished_at=ts(day, 2), status=status)
    host.routes[f"{BASE}/deployments"] = [
        d for d in host.routes[f"{BASE}/deployments"] if d["id"] != ident
    ] + [dep]


def add_merge_request(
    host: FakeHost,
    iid: int,
    opened: int,
    merged: int,
    updated: int,
    commits: list[int],
    notes: list[tuple[str, int, bool, str]],
) -> None:
    """Notes are (username, day, system, body)."""
    mr = fixture(
        "gitlab",
        "merge_request",
        id=100 + iid,
        iid=iid,
        title=f"MR {iid}",
        created_at=ts(opened),
        merged_at=ts(merged),
        updated_at=ts(updated),
        merge_commit_sha=f"{iid:040x}",
        web_url=f"https://gitlab.example.com/my-group/my-project/-/merge_requests/{iid}",
    )
    host.routes[f"{BASE}/merge_requests"] = [
        m for m in host.routes[f"{BASE}/merge_requests"] if m["iid"] != iid
    ] + [mr]
    host.routes[f"{BASE}/merge_requests/{iid}/commits"] = [
        fixture("gitlab", "mr_commit", id=f"{iid:020x}{i:020x}", authored_date=ts(d))
        for i, d in enumerate(commits)
    ]
    host.routes[f"{BASE}/merge_requests/{iid}/notes"] = [
        fixture(
            "gitlab",
            "note",
            id=i,
            author={"id": i, "username": who},
            created_at=ts(d),
            system=system,
            body=body,
        )
        for i, (who, d, system, body) in enumerate(notes)
    ]


def populate(host: FakeHost) -> None:
    add_deployment(host, 41, 4, "success")
    add_deployment(host, 42, 5, "failed")
    add_deployment(host, 43, 6, "running")
    add_deployment(host, 44, 7, "canceled")
    add_merge_request(
        host,
        1,
        1,
        3,
        3,
        [2, 1],
        [
            ("admin", 1, False, "ready"),
            ("bot", 1, True, "added 1 commit"),
            ("rev", 2, True, "approved this merge request"),
        ],
    )
    add_merge_request(host, 2, 2, 4, 4, [2], [("rev", 3, False, "looks good")])
    add_merge_request(host, 3, 3, 5, 5, [], [])
    host.routes[f"{BASE}/issues"] = [
        fixture(
            "gitlab",
            "issue",
            id=76,
            iid=6,
            created_at=ts(5),
            closed_at=ts(6),
            updated_at=ts(6),
            labels=["incident", "severity::high"],
        ),
        fixture(
            "gitlab",
            "issue",
            id=77,
            iid=7,
            created_at=ts(6),
            closed_at=None,
            updated_at=ts(7),
            labels=["bug"],
        ),
    ]
    host.routes[f"{BASE}/releases"] = [fixture("gitlab", "release")]
    host.routes[f"{BASE}/repository/tags"] = [fixture("gitlab", "tag")]
