"""A real ``mlflow server`` for tests: sqlite backend, a free loopback port, killed at teardown.

Other test folders can use it too::

    from tests.mlflow.server import mlflow_server  # noqa: F401  (a session fixture)

or ``with running_server(tmp_dir) as server: ...``. Starting takes a while (the server imports
a lot and migrates its database), so the fixture is session-scoped and shared.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlreport.sample_data.mlflow_store import free_port, stop_server, wait_healthy

START_TIMEOUT = 180.0  # seconds; a loaded CI machine can take a minute to import the server
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
# Leads the server's process group: if the test process dies without tearing down (SIGKILL,
# a crashed worker), the watchdog stops the whole group, so no server outlives its tests.
WATCHDOG = """
import os, signal, subprocess, sys, time
parent = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:])
while child.poll() is None:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        os.killpg(0, signal.SIGTERM)
    time.sleep(0.5)
sys.exit(child.returncode)
"""


@dataclass
class MlflowServer:
    url: str
    db: Path
    artifacts: Path
    log: Path

    def client(self):
        """A real mlflow client talking to this server (mlflow is a test dependency)."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


def spawn(workdir: Path) -> tuple[MlflowServer, subprocess.Popen]:
    """Start ``mlflow server`` in ``workdir`` without waiting for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = MlflowServer(
        url=f"http://127.0.0.1:{port}",
        db=workdir / "mlflow.db",
        artifacts=workdir / "artifacts",
        log=workdir / "server.log",
    )
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{server.db}",
        "--default-artifact-root", str(server.artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # no background job runner (huey consumers): the tests need only the REST API
    env = dict(os.environ, **QUIET_ENV, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with open(server.log, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(os.getpid()), *cmd],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    return server, proc


@contextlib.contextmanager
def running_server(workdir: Path) -> Iterator[MlflowServer]:
    """Start ``mlflow server`` in ``workdir``; wait for /health; stop it (and its workers)."""
    pytest.importorskip("mlflow", reason="mlflow (a test dependency) is not installed")
    server, proc = spawn(workdir)
    try:
        wait_healthy(proc, server.url, START_TIMEOUT, server.log)
        yield server
    finally:
        stop_server(proc)


_early: dict[str, object] = {}


def start_early() -> None:
    """Start the session's server during collection, so its slow start-up overlaps the tests
    that run before the first one needing it (see tests/mlflow/conftest.py)."""
    if _early or importlib.util.find_spec("mlflow") is None:
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker collects everything: start lazily
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    workdir = Path(tempfile.mkdtemp(prefix="mlreport-mlflow-"))
    _early["workdir"] = workdir
    _early["server"], _early["proc"] = spawn(workdir)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if not _early:
        with running_server(tmp_path_factory.mktemp("mlflow-server")) as server:
            yield server
        return
    early = dict(_early)  # claimed: a second user of this fixture starts its own server
    _early.clear()
    try:
        server = early["server"]
        wait_healthy(early["proc"], server.url, START_TIMEOUT, server.log)
        yield server
    finally:
        stop_server(early["proc"])
        shutil.rmtree(early["workdir"], ignore_errors=True)


def stop_early() -> None:
    """Stop an early-started server no test used."""
    if _early:
        stop_server(_early["proc"])
        shutil.rmtree(_early["workdir"], ignore_errors=True)
        _early.clear()
