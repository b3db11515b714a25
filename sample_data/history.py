"""Turn simulated work (feature branches, direct commits) into a Git commit graph.

The plan is pure data: commits with marks, parents, identities, dates and file contents, in
an order where parents come first. ``gitrepo.py`` writes it with ``git fast-import``; the
deployment simulation asks which commit ``main`` pointed at at a given time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

from mlreport.sample_data.org import Person, Team

Snapshot = dict[str, tuple[str, ...]]  # path -> lines


@dataclass
class Feature:
    """A pull request: commits on a branch, then (maybe) a merge commit on main."""

    number: int
    slug: str
    title: str
    author: Person
    merger: Person
    commits: list[tuple[datetime, str, tuple[str, ...]]]  # (when, message, paths changed)
    merged_at: datetime | None  # None: still open at the end of the period


@dataclass
class DirectCommit:
    """A commit made straight on main (release bumps, hotfixes)."""

    at: datetime
    author: Person
    message: str
    paths: tuple[str, ...]
    key: str  # how the simulation refers to it (e.g. the deployment that ships it)
    tag: str | None = None


@dataclass
class Commit:
    mark: int
    parents: tuple[int, ...]
    author: Person
    committer: Person
    authored_at: datetime
    committed_at: datetime
    message: str
    changes: dict[str, tuple[str, ...]]  # path -> full new content (lines)


@dataclass
class RepoPlan:
    name: str
    commits: list[Commit] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)  # refname -> mark
    main_times: list[datetime] = field(default_factory=list)  # when main moved ...
    main_marks: list[int] = field(default_factory=list)  # ... and to which commit
    merge_marks: dict[int, int] = field(default_factory=dict)  # PR number -> merge mark
    direct_marks: dict[str, int] = field(default_factory=dict)  # DirectCommit key -> mark

    def main_at(self, t: datetime) -> int:
        """The commit ``main`` pointed at, at time ``t`` (inclusive)."""
        i = bisect.bisect_right(self.main_times, t)
        if i == 0:
            raise ValueError(f"{self.name}: main has no commit at {t.isoformat()}")
        return self.main_marks[i - 1]

    @property
    def head(self) -> int:
        return self.main_marks[-1]


def _code_line(path: str, n: int, message: str) -> tuple[str, ...]:
    """A few plausible lines a commit appends to a file (unique per commit)."""
    note = message.splitlines()[0].replace('"', "'")
    if path.endswith(".py"):
        return (f"def change_{n:04d}():", f'    """{note}"""', f"    return {n}", "")
    if path.endswith((".yaml", ".yml")):
        return (f"# {note}", f"change_{n:04d}: {n}")
    return (f"- {note} (#{n})",)


def _header(path: str) -> tuple[str, ...]:
    if path.endswith(".py"):
        return (f'"""{path}"""', "")
    if path.endswith((".yaml", ".yml")):
        return (f"# {path}",)
    return (f"# {path}", "")


class _Builder:
    def __init__(self, name: str) -> None:
        self.plan = RepoPlan(name)
        self.snapshots: dict[int, Snapshot] = {}
        self.counter = 0

    def commit(
        self,
        parents: tuple[int, ...],
        author: Person,
        authored_at: datetime,
        message: str,
        changes: dict[str, tuple[str, ...]],
        committer: Person | None = None,
        committed_at: datetime | None = None,
    ) -> int:
        mark = len(self.plan.commits) + 1
        base = dict(self.snapshots[parents[0]]) if parents else {}
        base.update(changes)
        self.snapshots[mark] = base
        self.plan.commits.append(
            Commit(
                mark,
                parents,
                author,
                committer or author,
                authored_at,
                committed_at or authored_at,
                message,
                changes,
            )
        )
        return mark

    def edit(self, parent: int | None, paths: tuple[str, ...], message: str) -> dict:
        """New contents of ``paths`` after a commit appends its lines."""
        snap = self.snapshots[parent] if parent else {}
        out = {}
        for path in paths:
            self.counter += 1
            out[path] = snap.get(path, _header(path)) + _code_line(path, self.counter, message)
        return out

    def move_main(self, t: datetime, mark: int) -> None:
        self.plan.main_times.append(t)
        self.plan.main_marks.append(mark)


def build_plan(
    team: Team,
    started_at: datetime,
    founder: Person,
    features: list[Feature],
    direct: list[DirectCommit],
) -> RepoPlan:
    """Lay out every commit in time order: branches start from main as it was then."""
    b = _Builder(team.repo)
    root_files = ("README.md",) + team.modules
    root = b.commit(
        (),
        founder,
        started_at,
        f"Initial import of {team.entity}\n",
        b.edit(None, root_files, f"Initial import of {team.entity}"),
    )
    b.move_main(started_at, root)

    events: list[tuple[datetime, int, int, object]] = []  # (time, order, step, item)
    for f in features:
        for step, commit in enumerate(f.commits):
            events.append((commit[0], len(events), step, f))
        if f.merged_at is not None:
            events.append((f.merged_at, len(events), -1, f))
    for d in direct:
        events.append((d.at, len(events), -2, d))
    events.sort(key=lambda e: (e[0], e[1]))

    tips: dict[int, tuple[int, int]] = {}  # PR number -> (base mark, tip mark)
    for t, _, step, item in events:
        main = b.plan.main_marks[-1]
        if isinstance(item, DirectCommit):
            msg = item.message + "\n"
            mark = b.commit((main,), item.author, t, msg, b.edit(main, item.paths, item.message))
            b.move_main(t, mark)
            b.plan.direct_marks[item.key] = mark
            if item.tag:
                b.plan.refs[f"refs/tags/{item.tag}"] = mark
        elif step >= 0:
            base, tip = tips.get(item.number, (main, main))
            when, message, paths = item.commits[step]
            mark = b.commit((tip,), item.author, when, message + "\n", b.edit(tip, paths, message))
            tips[item.number] = (base, mark)
        else:
            mark = _merge(b, item, main, *tips[item.number])
            b.move_main(t, mark)
            b.plan.merge_marks[item.number] = mark
    for f in features:
        if f.merged_at is None and f.number in tips:
            b.plan.refs[f"refs/heads/{f.slug}"] = tips[f.number][1]
    b.plan.refs["refs/heads/main"] = b.plan.head
    return b.plan


def _merge(b: _Builder, f: Feature, main: int, base: int, tip: int) -> int:
    """A merge commit: main's files plus what the branch appended since its base."""
    main_snap, base_snap, tip_snap = b.snapshots[main], b.snapshots[base], b.snapshots[tip]
    changes = {}
    for path, lines in tip_snap.items():
        if lines == base_snap.get(path):
            continue
        added = lines[len(base_snap.get(path, ())) :]
        changes[path] = main_snap.get(path, ()) + added
    branch = f.slug.rsplit("/", 1)[-1]
    message = (
        f"Merge pull request #{f.number} from {f.author.email.split('@')[0]}/{branch}\n\n"
        f"{f.title}\n"
    )
    return b.commit((main, tip), f.merger, f.merged_at, message, changes, committed_at=f.merged_at)
