"""Real git repositories for the git source tests, made with the git CLI and fast-import.

Every identity and date is fixed, so commit shas are the same on every run. Nothing from the
user's git configuration is read.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlreport.config import parse_config
from mlreport.sources import Source, SyncStats, build_source, sync_source
from mlreport.warehouse import Warehouse

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.com",
        LC_ALL="C",
    )
    env.update(extra or {})
    return env


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None
) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(env), input=input, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout.decode("utf-8", "replace")


@dataclass
class Repo:
    """A repository under test with a clock that ticks one minute per commit."""

    path: Path
    tick: int = 0
    marks: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
        return git(self.path, *args, env=env, input=input)

    def next_date(self) -> str:
        self.tick += 1
        return (EPOCH + timedelta(minutes=self.tick)).isoformat()

    def commit(
        self,
        subject: str = "",
        *,
        author_date: str | None = None,
        committer_date: str | None = None,
        author: tuple[str, str] | None = None,
    ) -> str:
        """An empty commit on the current branch; returns its sha."""
        date = self.next_date()
        env = {
            "GIT_AUTHOR_DATE": author_date or date,
            "GIT_COMMITTER_DATE": committer_date or date,
        }
        if author:
            env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1])
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "--cleanup=verbatim",
            "-m",
            subject or f"commit {self.tick}",
            env=env,
        )
        return self.rev("HEAD")

    def commits(self, n: int, prefix: str = "change") -> list[str]:
        return [self.commit(f"{prefix} {i}") for i in range(n)]

    def merge(self, branch: str, subject: str | None = None) -> str:
        date = self.next_date()
        self.git(
            "merge",
            "-q",
            "--no-ff",
            "-m",
            subject or f"Merge {branch}",
            branch,
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return self.rev("HEAD")

    def checkout(self, ref: str, new: bool = False) -> None:
        self.git("checkout", "-q", *(["-b"] if new else []), ref)

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def parents(self, sha: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def raw_commit(self, body: bytes) -> str:
        """Write a commit object exactly as given (headers and all), for hostile input."""
        return self.git(
            "hash-object", "-t", "commit", "--literally", "-w", "--stdin", input=body
        ).strip()

    def empty_tree(self) -> str:
        return self.git("hash-object", "-t", "tree", "-w", "--stdin", input=b"").strip()

    def gc_everything(self) -> None:
        """Drop unreachable objects now (reflogs too), as after a force-push and gc."""
        self.git("reflog", "expire", "--expire=now", "--all")
        self.git("gc", "-q", "--prune=now")


def make_repo(path: Path, *, bare: bool = False, branch: str = "main") -> Repo:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch, *(["--bare"] if bare else []))
    return Repo(path)


def fast_import_dag(path: Path, n: int, seed: int, merge_p: float = 0.2, branches: int = 4) -> Repo:
    """A repository with ``n`` commits whose parents are picked at random (seeded).

    Several branches grow in parallel and merge each other (octopus merges included), some
    commits start new roots, and a few tags point into the middle of history.
    """
    rng = random.Random(seed)
    repo = make_repo(path)
    out: list[bytes] = []
    heads: dict[str, int | None] = {f"refs/heads/b{i}": None for i in range(branches)}
    made: list[int] = []
    for mark in range(1, n + 1):
        ref = rng.choice(list(heads))
        first = heads[ref]
        if first is None and made and rng.random() < 0.7:
            first = rng.choice(made)
        extra: list[int] = []
        if made and rng.random() < merge_p:
            extra = rng.sample(made, k=min(len(made), rng.choice((1, 1, 1, 2))))
            extra = [m for m in extra if m != first]
            if first is None and extra:
                first = extra.pop(0)
        when = 1_700_000_000 + mark * 60
        msg = f"commit {mark}".encode()
        out.append(
            f"commit {ref}\nmark :{mark}\n"
            f"author A{mark % 7} <a{mark % 7}@example.com> {when} +0100\n"
            f"committer C <c@example.com> {when} +0000\n"
            f"data {len(msg)}\n".encode()
            + msg
            + b"\n"
        )
        if first is not None:
            out.append(f"from :{first}\n".encode())
        for m in extra:
            out.append(f"merge :{m}\n".encode())
        out.append(b"\n")
        heads[ref] = mark
        made.append(mark)
        if rng.random() < 0.05:
            out.append(f"reset refs/tags/t{mark}\nfrom :{mark}\n\n".encode())
    repo.git("fast-import", "--quiet", input=b"".join(out))
    return repo


def reference_generations(path: Path, *refs: str) -> dict[str, int]:
    """Generation numbers computed the plain way from `git rev-list --parents`."""
    args = list(refs) or ["--all"]
    out = git(path, "rev-list", "--parents", *args)
    parents = {}
    for line in out.splitlines():
        sha, *ps = line.split()
        parents[sha] = ps
    gen: dict[str, int] = {}

    def visit(root: str) -> None:
        stack = [root]
        while stack:
            sha = stack[-1]
            if sha in gen:
                stack.pop()
                continue
            todo = [p for p in parents[sha] if p in parents and p not in gen]
            if todo:
                stack.extend(todo)
                continue
            gen[sha] = 1 + max((gen[p] for p in parents[sha] if p in parents), default=0)
            stack.pop()

    for sha in parents:
        visit(sha)
    return gen


@dataclass
class Harness:
    """Build git sources from config text and sync them into one warehouse file."""

    tmp: Path
    warehouse: Warehouse

    def source(self, name: str = "repo", **options: Any) -> Source:
        lines = [f'name = "{name}"', 'type = "git"']
        for key, value in options.items():
            lines.append(f"{key} = {_toml(value)}")
        config = parse_config("[[sources]]\n" + "\n".join(lines) + "\n", None, self.tmp)
        return build_source(config.sources[0], config, 0)

    def sync(self, source: Source, full: bool = False) -> SyncStats:
        return sync_source(self.warehouse, source, full=full)

    def commits(self, repo: str | None = None) -> dict[str, dict[str, Any]]:
        where = "WHERE repo = ?" if repo else ""
        frame = self.warehouse.query(
            f"SELECT * FROM commits {where} ORDER BY repo, sha", [repo] if repo else None
        )
        return {row["sha"]: row for row in frame.to_dicts()}


def _toml(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    yield Harness(tmp_path, wh)
    wh.close()


@pytest.fixture
def new_repo(tmp_path: Path) -> Callable[..., Repo]:
    def make(name: str = "repo", **kw: Any) -> Repo:
        return make_repo(tmp_path / name, **kw)

    return make
