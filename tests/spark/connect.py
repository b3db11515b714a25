"""A real Spark Connect server for the tests, started from the pyspark wheel's own
``sbin/start-connect-server.sh --wait`` on a free loopback port, in its own process group
(stopped with the group at teardown)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 180.0  # seconds: a JVM on a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def connect_server(workdir: Path) -> Iterator[str]:
    """Yield ``sc://127.0.0.1:PORT`` of a running server; stop it afterwards."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(workdir / "logs"),
        "SPARK_PID_DIR": str(workdir),
        "SPARK_IDENT_STRING": f"mlreport-test-{port}",
    }
    log = open(workdir / "connect-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            "bash",
            str(home / "sbin" / "start-connect-server.sh"),
            "--wait",
            "--master",
            "local[2]",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.sql.session.timeZone=UTC",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=2",
            "--conf",
            f"spark.sql.warehouse.dir={workdir / 'spark-warehouse'}",
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if proc.poll() is not None:
                raise RuntimeError(
                    "the Spark Connect server exited: "
                    + (workdir / "connect-server.log").read_text()[-2000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError("the Spark Connect server did not start in time")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
