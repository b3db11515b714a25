"""The built-in ``git`` source: commits of a local repository, read with one ``git log``.

Each sync lists the ref tips (``git show-ref --head``), then streams
``git log -z --topo-order --reverse`` over the tips that are new since the last sync, with the
tips already stored excluded, so only commits not yet stored are read. When no tip moved no
``git log`` runs at all. Generation numbers are computed while streaming (parents come first).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from mlreport import hookimpl
from mlreport.config import ConfigPath
from mlreport.connectors import gitlog
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

log = logging.getLogger("mlreport.git")

BATCH = 25_000  # commits per frame handed to the kernel (about: whole chunks)
# Commands that list refs or check objects answer in well under a second; waiting longer than
# this means git is blocked (a FIFO or device file under .git, a hung network mount).
METADATA_TIMEOUT = 30.0
CURSOR_VERSION = 1
# Refs that are not history: notes and the stash hold commits nobody deployed; replace refs
# substitute objects rather than name a line of work.
SKIPPED_REF_PREFIXES = ("refs/notes/", "refs/replace/")
SKIPPED_REFS = ("refs/stash",)
# Variables that would point git at another repository than `path`.
_LOCATING_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_REPLACE_REF_BASE",
)


class GitOptions(SourceOptions):
    """Config keys of a ``type = "git"`` source."""

    path: ConfigPath = Field(description="The repository: its work tree or a bare repository.")
    entity: str | None = Field(default=None, description="The entity deployed from this repo.")
    entities: list[str] = Field(default_factory=list, description="Several such entities.")
    timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds to wait on git before stopping it: for the next output of "
        "`git log`, and (at most 30) for each short command that lists refs.",
    )

    @field_validator("entity")
    @classmethod
    def _entity_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("entities")
    @classmethod
    def _entities_not_blank(cls, value: list[str]) -> list[str]:
        if any(not v.strip() for v in value):
            raise ValueError("entity names must not be empty")
        return value


@dataclass(frozen=True)
class RepoState:
    """What a sync needs to know about the repository before reading commits."""

    git_dir: str
    shallow: str | None  # digest of the shallow file; a change means re-read everything
    tips: dict[str, str]  # ref name -> object name (tags may name tag objects)


class GitSource(Source):
    """Commits of one local repository into ``commits``; its entity mapping into
    ``repo_entities``."""

    Options = GitOptions
    entity_kind = "service"

    options: GitOptions

    def streams(self) -> list[Stream]:
        return [
            Stream("commits", "commits", ("repo", "sha")),
            Stream("repo_entities", "repo_entities", ("repo", "entity"), entity_column="entity"),
        ]

    def read(self, stream: Stream, cursor: Any) -> Iterator[Rows | Checkpoint]:
        if stream.name == "commits":
            yield from self._read_commits(cursor)
        elif stream.name == "repo_entities":
            yield from self._read_entities(cursor)
        else:
            raise SourceError(f"source {self.name!r}: no stream {stream.name!r}")

    def check(self) -> str:
        state = self.repo_state()
        if not state.tips:
            return f"{self.path}: readable, empty repository (no commits yet)"
        head = state.tips.get("HEAD")
        where = f", HEAD at {head[:12]}" if head else ""
        return f"{self.path}: readable, {len(state.tips)} refs{where}"

    # -- the entity mapping -----------------------------------------------------------------

    @property
    def mapped_entities(self) -> list[str]:
        names = ([self.options.entity] if self.options.entity else []) + self.options.entities
        return list(dict.fromkeys(names))

    def _read_entities(self, cursor: Any) -> Iterator[Rows | Checkpoint]:
        """The mapping is written when it changed (or on --full), so a sync with nothing new
        reports 0 rows."""
        names = self.mapped_entities
        if names and cursor != {"entities": names}:
            yield Rows(
                pl.DataFrame(
                    {"repo": [self.name] * len(names), "entity": names},
                    schema={"repo": pl.String, "entity": pl.String},
                )
            )
        yield Checkpoint({"entities": names})

    # -- commits --------------------------------------------------------------------------

    def _read_commits(self, cursor: Any) -> Iterator[Rows | Checkpoint]:
        state = self.repo_state()
        new_cursor = {"version": CURSOR_VERSION, "tips": state.tips, "shallow": state.shallow}
        if not state.tips:
            log.warning("source %r: %s has no commits yet; nothing to sync", self.name, self.path)
            yield Checkpoint(new_cursor)
            return
        old = self._previous_tips(cursor, state)
        current = set(state.tips.values())
        if old is None:
            batches = self._log(sorted(current), [], incremental=False)
        elif current - set(old):
            # Old tips that are still tips surely exist; a moved ref's old tip may be gone.
            kept = current & set(old)
            gone = self._existing(sorted(set(old) - kept))
            batches = self._log(sorted(current - set(old)), sorted(kept) + gone, True)
        else:
            batches = iter(())
        for rows in batches:
            yield rows
            # Commit each batch under the *previous* cursor: after a crash the next sync reads
            # from the old tips again (upserts make the overlap harmless). Small commits also
            # keep the warehouse's work on the last batch, after git has finished, short.
            yield Checkpoint(cursor)
        yield Checkpoint(new_cursor)

    def _previous_tips(self, cursor: Any, state: RepoState) -> list[str] | None:
        """Tips stored by the last sync, or None when everything must be read."""
        if cursor is None:
            return None
        valid = (
            isinstance(cursor, dict)
            and cursor.get("version") == CURSOR_VERSION
            and isinstance(cursor.get("tips"), dict)
            and all(isinstance(v, str) for v in cursor["tips"].values())
        )
        if not valid:
            log.info("source %r: cursor from another version; reading all commits", self.name)
            return None
        if cursor.get("shallow") != state.shallow:
            # A deepened or re-shallowed clone: older commits appeared behind stored tips and
            # stored generation numbers may have changed, so read everything again.
            log.info("source %r: shallow boundary changed; reading all commits", self.name)
            return None
        return list(cursor["tips"].values())

    def log_command(
        self, include: list[str], exclude: list[str]
    ) -> tuple[list[str], bytes, dict[str, str]]:
        """The exact ``git log`` a sync runs: argv, stdin (the revisions) and environment.

        Public so the benchmark can time git alone with the very same flags and input.
        """
        revs = "".join(f"{r}\n" for r in include) + "".join(f"^{r}\n" for r in exclude)
        return self._argv(gitlog.LOG_ARGS), revs.encode(), self._env()

    def _log(self, include: list[str], exclude: list[str], incremental: bool) -> Iterator[Rows]:
        generations = gitlog.Generations(self._stored_generations if incremental else None)
        proc = self._popen(*self.log_command(include, exclude))
        # Reading and parsing run on a thread, a batch ahead of the warehouse storing the
        # previous one; generation numbers are assigned here, where the warehouse may be read.
        batches = gitlog.in_background(
            gitlog.parse_batches(proc.stdout, self.name, BATCH, self.options.timeout),
            name="git-log-parser",
        )
        try:
            for batch in batches:
                gens = generations.assign(batch.shas, batch.parents)
                self._warn_odd_dates(batch.odd_dates)
                self.count("commits", len(gens))
                yield Rows(gitlog.with_generations(batch.frame, gens))
            proc.finish()
        except gitlog.LogFormatError as exc:
            proc.finish()  # git's own error, if it failed, says more
            raise self._error(f"unexpected `git log` output: {exc}") from None
        except gitlog.GitTimeout:
            raise self._timeout_error("log", "wrote nothing for", self.options.timeout) from None
        finally:
            proc.stop()  # kill git if it still runs: the reader thread then sees the end
            batches.close()
            proc.close()

    def _warn_odd_dates(self, shas: list[str]) -> None:
        if shas:
            log.warning(
                "source %r: %d commit(s) have a date git cannot read or outside years "
                "1-9999 (stored as NULL), e.g. %s",
                self.name,
                len(shas),
                ", ".join(shas[:3]),
            )

    def _stored_generations(self, shas: list[str]) -> dict[str, int]:
        """Generations of parents stored by earlier syncs (only those asked for)."""
        if self.warehouse is None or not shas:
            return {}
        rows = self.warehouse.con.execute(
            "SELECT sha, generation FROM commits WHERE repo = ? AND sha IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [self.name, shas],
        ).fetchall()
        unknown = [sha for sha, gen in rows if gen is None]
        if unknown:
            raise self._error(
                f"stored commit {unknown[0]} has no generation number; "
                f"run `mlreport sync {self.name} --full` once to recompute them"
            )
        return {sha: int(gen) for sha, gen in rows}

    # -- talking to git ---------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self.options.path)

    def repo_state(self) -> RepoState:
        """Check the path is a readable repository; its git dir, shallow digest and tips."""
        path = self.path
        if not path.exists():
            raise self._error(
                "the repository path does not exist; set `path` to a git repository "
                "(a work tree or a bare repository)"
            )
        if not path.is_dir():
            raise self._error(
                "the repository path is a file, not a folder; set `path` to a git repository"
            )
        out = self._run(["rev-parse", "--absolute-git-dir", "--is-shallow-repository"])
        lines = out.decode("utf-8", "replace").splitlines()
        if len(lines) != 2:
            raise self._error(f"unexpected `git rev-parse` output {out[:200]!r}")
        git_dir, shallow = lines
        return RepoState(git_dir, self._shallow_digest(git_dir, shallow == "true"), self._tips())

    def _shallow_digest(self, git_dir: str, shallow: bool) -> str | None:
        if not shallow:
            return None
        shallow_file = Path(git_dir, "shallow")
        try:
            if not stat.S_ISREG(shallow_file.stat().st_mode):  # a FIFO would block the read
                raise self._error(f"{shallow_file} is not a regular file; remove it")
            data = shallow_file.read_bytes()
        except OSError as exc:
            raise self._error(f"cannot read the shallow file of the clone: {exc}") from None
        return hashlib.sha256(data).hexdigest()

    def _tips(self) -> dict[str, str]:
        """Every ref the history lives on: HEAD, branches, tags, remotes (not notes/stash)."""
        out = self._run(["show-ref", "--head"], ok_codes=(0, 1))
        tips = {}
        for line in out.decode("utf-8", "replace").splitlines():
            sha, _, ref = line.partition(" ")
            if ref in SKIPPED_REFS or ref.startswith(SKIPPED_REF_PREFIXES):
                continue
            tips[ref] = sha
        return tips

    def _existing(self, shas: list[str]) -> list[str]:
        """The objects among ``shas`` that still exist (a rewritten ref's old tip may not)."""
        if not shas:
            return []
        out = self._run(
            ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            stdin="".join(f"{s}\n" for s in shas),
        )
        found = []
        for line in out.decode("ascii", "replace").splitlines():
            sha, _, kind = line.partition(" ")
            if kind and kind != "missing":
                found.append(sha)
        return found

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _LOCATING_VARS}
        # Never look above `path` for a repository: a plain folder inside some other work
        # tree must be an error, not silently that other repository.
        env["GIT_CEILING_DIRECTORIES"] = str(self.path.resolve().parent)
        # GIT_FLUSH=0: buffered output into the pipe, not one write per commit.
        env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_FLUSH="0")
        return env

    def _argv(self, args: tuple[str, ...] | list[str]) -> list[str]:
        return ["git", "-C", str(self.path), *args]

    def _run(
        self, args: list[str], stdin: str | None = None, ok_codes: tuple[int, ...] = (0,)
    ) -> bytes:
        self.count("git_commands")
        timeout = min(self.options.timeout, METADATA_TIMEOUT)
        try:
            done = subprocess.run(
                self._argv(args),
                input=stdin.encode() if stdin is not None else None,
                capture_output=True,
                env=self._env(),
                check=False,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise self._error("the `git` program was not found; install git") from None
        except subprocess.TimeoutExpired:  # run() has killed and reaped git
            raise self._timeout_error(" ".join(args), "did not finish within", timeout) from None
        if done.returncode not in ok_codes or (done.returncode != 0 and done.stderr.strip()):
            raise self._git_error(args[0], done.returncode, done.stderr)
        return done.stdout

    def _popen(self, argv: list[str], stdin: bytes, env: dict[str, str]) -> _GitLog:
        self.count("git_commands")
        return _GitLog(self, argv, stdin, env, self.options.timeout)

    def _git_error(self, command: str, code: int, stderr: bytes) -> SourceError:
        text = stderr.decode("utf-8", "replace").strip()
        lowered = text.lower()
        if "not a git repository" in lowered:
            return self._error(
                "not a git repository; set `path` to the repository's top folder "
                "(the one holding .git) or to a bare repository"
            )
        if "dubious ownership" in lowered:
            return self._error(
                "git refuses to read a repository owned by another user; run "
                f"`git config --global --add safe.directory {self.path}` to trust it"
            )
        detail = text.splitlines()[-1] if text else "no error message"
        return self._error(f"`git {command}` failed (exit {code}): {detail}")

    def _timeout_error(self, command: str, what: str, seconds: float) -> SourceError:
        return self._error(
            f"`git {command}` {what} {seconds:g} s and was stopped; something under the "
            "repository blocks git (a FIFO or device file under .git, e.g. in .git/refs, a hung "
            "network mount, a stuck filesystem): fix the repository, or raise `timeout` on "
            "this source if git is just slow"
        )

    def _error(self, message: str) -> SourceError:
        return SourceError(f"source {self.name!r} (git, path {self.path}): {message}")


class _GitLog:
    """A running ``git log``: feeds stdin, collects stderr in a file, always reaps the child."""

    def __init__(
        self, source: GitSource, argv: list[str], stdin: bytes, env: dict, timeout: float
    ) -> None:
        self.source = source
        self.timeout = timeout
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        with tempfile.TemporaryFile() as revs:
            revs.write(stdin)
            revs.seek(0)
            try:
                self.proc = subprocess.Popen(
                    argv,
                    stdin=revs,
                    stdout=subprocess.PIPE,
                    stderr=self.stderr,
                    env=env,
                    bufsize=0,
                )
            except FileNotFoundError:
                self.stderr.close()
                raise source._error("the `git` program was not found; install git") from None
        self.stdout = self.proc.stdout

    def finish(self) -> None:
        """Wait for git and raise if it failed (after its output was fully read)."""
        try:
            code = self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:  # output closed but git does not exit
            raise self.source._timeout_error("log", "did not exit within", self.timeout) from None
        if code != 0:
            self.stderr.seek(0)
            raise self.source._git_error("log", code, self.stderr.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.proc.stdout.close()
        self.stderr.close()


@hookimpl
def register_sources(register) -> None:
    register("git", GitSource)
