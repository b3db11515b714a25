"""Installing a plugin package with pip into a temporary folder, and running pytest and the
``mlreport`` CLI in a child process that sees it, so nothing leaks into this environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def pip_install(package: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --target`` a copy of ``package`` (the build
    writes into the source folder, which must stay clean when it is part of this repo)."""
    source = target.parent / f"{package.name}-src"
    shutil.copytree(package, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip install {package} failed:\n{result.stderr}"


def child_env(site: Path) -> dict[str, str]:
    """This environment with ``site`` on the path and every entry-point plugin allowed (the
    suite's own MLREPORT_LOAD_PLUGINS="" would hide the installed one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "MLREPORT_")) and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = str(site)
    return env


def mlreport(site: Path, *args: str, cwd: Path | None = None, env: dict | None = None):
    """Run the ``mlreport`` command line in a child process that sees ``site``."""
    return subprocess.run(
        [sys.executable, "-c", "from mlreport.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**child_env(site), **(env or {})},
        timeout=300,
    )


def run_pytest(site: Path, folder: Path) -> subprocess.CompletedProcess:
    """Run pytest on ``folder`` in a child process (mlreport.testing loads by itself)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=child_env(site),
        timeout=600,
    )
