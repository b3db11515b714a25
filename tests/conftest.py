"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlreport.plugin_manager import reset_plugins

# Tests never depend on the developer's git identity or config.
os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
os.environ.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
os.environ.setdefault("GIT_AUTHOR_NAME", "Test Author")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "author@example.com")
os.environ.setdefault("GIT_COMMITTER_NAME", "Test Committer")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "committer@example.com")


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with freshly loaded plugins and no stray config from the env. No
    entry-point plugin of this machine loads unless a test installs one
    (:func:`tests.plugin_packages.install`)."""
    monkeypatch.delenv("MLREPORT_CONFIG", raising=False)
    monkeypatch.setenv("MLREPORT_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def write_config(tmp_path: Path):
    """Write an mlreport.toml into tmp_path and return its path."""

    def write(text: str, name: str = "mlreport.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
