"""One real ``mlflow server`` (sqlite backend) per test session, seeded with the real client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.mlflow_sqlite.seed import Seeded, seed
from tests.mlflow_sqlite.server import Server, start_server


@dataclass
class SeededServer:
    server: Server
    seeded: Seeded


@pytest.fixture(scope="session")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    pytest.importorskip("mlflow", reason="mlflow (a test dependency) is not installed")
    server = start_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield SeededServer(server, seed(server.url))
    finally:
        server.stop()
