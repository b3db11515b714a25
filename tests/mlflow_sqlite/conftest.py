"""One real ``mlflow server`` (sqlite backend) per test session, seeded with the real client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlreport.sample_data.mlflow_store import mlflow_server
from tests.mlflow_sqlite.seed import Seeded, seed


@dataclass
class Server:
    url: str
    db: Path


@dataclass
class SeededServer:
    server: Server
    seeded: Seeded


@pytest.fixture(scope="session")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    pytest.importorskip("mlflow", reason="mlflow (a test dependency) is not installed")
    db = tmp_path_factory.mktemp("mlflow-server") / "mlflow.db"
    with mlflow_server(db) as url:
        yield SeededServer(Server(url, db), seed(url))
