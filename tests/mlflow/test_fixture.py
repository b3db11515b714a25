"""The test server's watchdog: a server never outlives the process that started it."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.mlflow.server import WATCHDOG


def test_the_watchdog_stops_its_group_when_the_parent_dies() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    guard = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(parent.pid), sys.executable, "-c",
         "import time; time.sleep(60)"],
        start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        assert guard.poll() is None
        parent.kill()
        parent.wait()
        assert guard.wait(timeout=20) != 0  # ended by the group-wide SIGTERM
    finally:
        for proc in (parent, guard):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
