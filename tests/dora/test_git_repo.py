"""Changes of deployments of a real git repository equal ``git rev-list D ^E1 ^E2 …`` over
every earlier deployment E: each commit once, at its first production deployment."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlreport.metrics import Window
from mlreport.warehouse import Warehouse

from .builder import Data, config, t
from .details import deployment_changes


def git(repo: Path, *args: str, when: int = 0) -> str:
    stamp = f"{1704067200 + when * 3600} +0000"  # 2024-01-01 + `when` hours
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@example.com",
        "GIT_COMMITTER_NAME": "C",
        "GIT_COMMITTER_EMAIL": "c@example.com",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """main: c0..c5 with a feature branch (f1, f2) merged, a second branch (g1) merged with
    --no-ff after main moved on, and a long-lived branch (old) forked at c1, merged last."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    hour = 0

    def commit(name: str) -> None:
        nonlocal hour
        hour += 1
        (r / name).write_text(name)
        git(r, "add", name, when=hour)
        git(r, "commit", "-q", "-m", name, when=hour)

    for name in ("c0", "c1"):
        commit(name)
    git(r, "branch", "old")
    git(r, "checkout", "-q", "-b", "feature")
    commit("f1")
    commit("f2")
    git(r, "checkout", "-q", "main")
    commit("c2")
    hour += 1
    git(r, "merge", "-q", "--no-ff", "-m", "merge feature", "feature", when=hour)
    git(r, "checkout", "-q", "-b", "g")
    commit("g1")
    git(r, "checkout", "-q", "main")
    commit("c3")
    hour += 1
    git(r, "merge", "-q", "--no-ff", "-m", "merge g", "g", when=hour)
    git(r, "checkout", "-q", "old")
    commit("o1")
    commit("o2")
    git(r, "checkout", "-q", "main")
    commit("c4")
    hour += 1
    git(r, "merge", "-q", "--no-ff", "-m", "merge old", "old", when=hour)
    commit("c5")
    return r


def load_commits(r: Path, data: Data) -> None:
    """Fill `commits` from `git log` (parents before children), generation computed here."""
    log = git(r, "log", "--all", "--topo-order", "--reverse", "--format=%H %aI %P")
    for line in log.splitlines():
        sha, when, *parents = line.split()
        data.commit(sha, tuple(parents), authored=datetime.fromisoformat(when), repo="repo")


def test_changes_equal_git_rev_list(tmp_path, repo):
    data = Data()
    load_commits(repo, data)
    data.map("repo", "svc")
    shas = {git(repo, "log", "-1", "--format=%s", c["sha"]): c["sha"] for c in data.commits}
    # deploy from main and from branches, forwards, backwards and sideways
    order = ["c0", "f1", "c2", "merge feature", "c1", "g1", "merge g", "o2", "c5", "c4"]
    for i, name in enumerate(order):
        data.deploy(f"d{i}", shas[name], t(days=10, hours=i))
    with Warehouse(tmp_path / "w.duckdb") as wh:
        changes = deployment_changes(data.write(wh), config(), Window(t(), t(days=30)))
    got = {
        d: sorted(changes.filter(changes["deployment_id"] == d)["sha"].to_list())
        for d in changes["deployment_id"].unique().to_list()
    }
    for i in range(1, len(order)):
        # each commit once, at its first production deployment: not reachable from ANY
        # earlier deployment (git takes several negative refs)
        earlier = [f"^{shas[name]}" for name in order[:i]]
        want = sorted(git(repo, "rev-list", shas[order[i]], *earlier).split())
        assert got.get(f"d{i}", []) == want, order[i]
    assert "d0" not in got  # the first deployment ships nothing
    assert len(got) >= 6
    # lead time of each change: deployment finished_at minus the commit's author date
    row = changes.row(0, named=True)
    expected = (row["finished_at"] - row["authored_at"]) / timedelta(hours=1)
    assert row["lead_time_hours"] == pytest.approx(expected, rel=1e-12)
