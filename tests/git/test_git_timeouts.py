"""A git blocked on something under the repository fails the sync instead of hanging it.

A FIFO under .git/refs made `git show-ref` wait forever, and the sync with it.
"""

from __future__ import annotations

import os
import time

import pytest

from mlreport.config import ConfigError
from mlreport.connectors.git import GitSource
from mlreport.sources import SourceError


def test_a_fifo_under_refs_fails_with_the_repository_and_command(harness, new_repo):
    repo = new_repo()
    repo.commits(2)
    harness.sync(harness.source("svc", path=repo.path))
    stored = harness.commits()
    os.mkfifo(repo.path / ".git" / "refs" / "heads" / "stuck")
    repo_cursor = harness.warehouse.get_cursor("svc", "commits")

    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        harness.sync(harness.source("svc", path=repo.path, timeout=1))
    assert time.monotonic() - started < 20
    message = str(err.value)
    assert "'svc'" in message and str(repo.path) in message
    assert "`git show-ref --head` did not finish within 1 s and was stopped" in message
    assert "raise `timeout`" in message
    assert harness.commits() == stored
    assert harness.warehouse.get_cursor("svc", "commits") == repo_cursor


def test_a_git_log_that_writes_nothing_is_stopped(harness, new_repo, monkeypatch):
    repo = new_repo()
    repo.commits(2)
    source = harness.source("svc", path=repo.path, timeout=1)
    # The same pipes and reader as `git log`, but a child that never writes or exits.
    monkeypatch.setattr(
        GitSource, "log_command", lambda self, inc, exc: (["sleep", "60"], b"", self._env())
    )
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"`git log` wrote nothing for 1 s and was stopped"):
        harness.sync(source)
    assert time.monotonic() - started < 20
    assert harness.commits() == {}


def test_timeout_option(harness, new_repo, tmp_path):
    repo = new_repo()
    assert harness.source(path=repo.path).options.timeout == 300
    assert harness.source(path=repo.path, timeout=2.5).options.timeout == 2.5
    with pytest.raises(ConfigError, match=r"timeout"):
        harness.source(path=repo.path, timeout=0)
