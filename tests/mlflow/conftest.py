"""Start the real mlflow server as soon as a collected test needs it (it takes a while)."""

from __future__ import annotations

import pytest

from tests.mlflow.server import mlflow_server, start_early, stop_early  # noqa: F401


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("mlflow_server" in getattr(item, "fixturenames", ()) for item in session.items):
        start_early()


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_early()
