"""Write a :class:`RepoPlan` as a real Git repository with ``git fast-import``.

One fast-import process per repository is much faster than a git command per commit, and
because every identity, date and file is fixed, the commit shas are the same on every machine.
Nothing from the user's Git configuration is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mlreport.sample_data.history import Commit, RepoPlan


class SampleRepoError(RuntimeError):
    """A sample repository could not be built or does not match the packaged events."""


def git_env() -> dict[str, str]:
    """An environment that ignores the user's and the system's Git configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, env=git_env()
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise SampleRepoError(f"{repo}: git {args[0]} failed: {err}")
    return proc.stdout.decode()


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _ident(kind: str, person, when) -> bytes:
    return f"{kind} {person.name} <{person.email}> {int(when.timestamp())} {person.tz}\n".encode()


def _commit(c: Commit) -> bytes:
    out = [
        b"commit refs/heads/main\n",
        b"mark :%d\n" % c.mark,
        _ident("author", c.author, c.authored_at),
        _ident("committer", c.committer, c.committed_at),
        _data(c.message),
    ]
    if c.parents:
        out.append(b"from :%d\n" % c.parents[0])
    out += [b"merge :%d\n" % p for p in c.parents[1:]]
    for path in sorted(c.changes):
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(_data("\n".join(c.changes[path]) + "\n"))
    out.append(b"\n")
    return b"".join(out)


def fast_import_stream(plan: RepoPlan) -> bytes:
    """The whole history; every commit names its parents, refs are set at the end."""
    parts = [_commit(c) for c in plan.commits]
    for ref in sorted(plan.refs):
        parts.append(f"reset {ref}\nfrom :{plan.refs[ref]}\n\n".encode())
    parts.append(b"done\n")
    return b"".join(parts)


def read_marks(path: Path) -> dict[int, str]:
    marks = {}
    for line in path.read_text().splitlines():
        mark, sha = line.split()
        marks[int(mark.lstrip(":"))] = sha
    return marks


def head_of(repo: Path) -> str | None:
    """The sha ``main`` points at, or None if ``repo`` is not a usable repository."""
    if not (repo / ".git").is_dir():
        return None
    try:
        return git(repo, "rev-parse", "--verify", "-q", "refs/heads/main^{commit}").strip()
    except SampleRepoError:
        return None


def build_repo(plan: RepoPlan, repo: Path, marker: str | None = None) -> dict[int, str]:
    """(Re)create ``repo`` from ``plan`` and return each commit mark's sha.

    ``marker`` names a file written into ``.git`` first, so even a half-built repository is
    recognisable as one that may be deleted and rebuilt.
    """
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "--initial-branch=main", "--object-format=sha1")
    if marker:
        (repo / ".git" / marker).write_text("built by mlreport.sample_data\n")
    marks = repo / ".git" / "sample-marks"
    git(
        repo,
        "fast-import",
        "--quiet",
        "--done",
        f"--export-marks={marks}",
        stdin=fast_import_stream(plan),
    )
    git(repo, "checkout", "-q", "-f", "main")
    result = read_marks(marks)
    marks.unlink()
    return result
