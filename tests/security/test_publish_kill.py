"""A run publishes its outputs as one set: killed at any moment, the archive holds the complete
previous run or the complete new one, every manifest's sha256s match, and the next run removes
what the killed one left."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlreport.config import parse_config
from mlreport.pipeline import write_index

pytestmark = pytest.mark.slow

ROWS = 400
CONFIG = """
[[sources]]
name = "log"
type = "events"
deployments = "d.csv"

[[reports]]
type = "delivery"
formats = ["html", "pdf", "json", "md"]
"""


def _deployments() -> str:
    lines = ["deployment_id,entity,environment,finished_at,status"]
    for i in range(ROWS):
        day = 1 + i % 28
        lines.append(f"d{i},svc-{i % 7},production,2026-03-{day:02d}T{i % 24:02d}:00:00Z,success")
    return "\n".join(lines) + "\n"


def _run(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from mlreport.cli import main; main()",
            "--config",
            str(root / "mlreport.toml"),
            "run",
            "--as-of",
            "2026-04-01",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _complete(day: Path) -> str | None:
    """The run id of a complete published day, checking every manifest against its files."""
    manifests = sorted(day.glob("*.manifest.json"))
    assert [m.name for m in manifests] == ["delivery.manifest.json"]
    data = json.loads(manifests[0].read_text())
    for output in data["outputs"].values():
        digest = hashlib.sha256((day / output["file"]).read_bytes()).hexdigest()
        assert digest == output["sha256"], output["file"]
    assert (day / "check.json").exists()
    return data["run_id"]


def test_a_run_killed_at_any_moment_leaves_a_complete_run(tmp_path):
    (tmp_path / "d.csv").write_text(_deployments())
    (tmp_path / "mlreport.toml").write_text(CONFIG)
    day = tmp_path / "out" / "2026-04-01"
    started = time.monotonic()
    assert _run(tmp_path).wait() in (0, 1)
    clean = time.monotonic() - started
    previous = _complete(day)
    for fraction in (0.6, 0.85, 0.95):
        proc = _run(tmp_path)
        time.sleep(clean * fraction)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now = _complete(day)  # the previous run, or the new one: never a mix
        assert now is not None
        if now != previous:
            previous = now
    assert _run(tmp_path).wait() in (0, 1)
    _complete(day)
    leftovers = [p for p in (tmp_path / "out" / ".runs").iterdir()]
    assert day.resolve() in leftovers
    for run in leftovers:  # killed runs' partial folders are gone; complete runs are archived
        _complete(run)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".link")]


def test_the_index_skips_and_names_an_unreadable_manifest(tmp_path, caplog):
    out = tmp_path / "out"
    good, bad = out / "2026-04-02", out / "2026-04-01"
    good.mkdir(parents=True)
    bad.mkdir()
    (good / "delivery.manifest.json").write_text(json.dumps({"outputs": {}, "as_of": None}))
    (bad / "delivery.manifest.json").write_text('{"outputs": {"html": {"fi')  # truncated
    config = parse_config("", tmp_path / "mlreport.toml", tmp_path)
    with caplog.at_level("WARNING", logger="mlreport"):
        html = write_index(out, config).read_text()
    assert "2026-04-02" in html and "2026-04-01" in html
    assert f"{bad / 'delivery.manifest.json'}" in caplog.text
