"""The example plugin package examples/mlreport-pagerduty, installed with pip and used through
the `mlreport` CLI against a real local HTTP server replaying recorded PagerDuty responses."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.pluginkit.packages import mlreport, pip_install, run_pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "mlreport-pagerduty"


def _replay_module():
    spec = importlib.util.spec_from_file_location("pd_replay", EXAMPLE / "tests" / "replay.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


replay = _replay_module()


@pytest.fixture
def pagerduty() -> Iterator[tuple[str, object]]:
    """A local HTTP server answering like the PagerDuty API from the recorded responses."""
    recorded = replay.Replay({**replay.FIRST_SYNC, (replay.OPEN_SINCE, 0): "incidents-open.json"})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = recorded.answer(url.path, dict(parse_qsl(url.query)), headers)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", recorded
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("pagerduty") / "site"
    pip_install(EXAMPLE, target)
    return target


def test_the_example_is_listed_and_syncs_through_the_cli(site, pagerduty, tmp_path):
    url, recorded = pagerduty
    (tmp_path / "mlreport.toml").write_text(
        "[[sources]]\n"
        'name = "pagerduty"\n'
        'type = "pagerduty"\n'
        'token = "${PAGERDUTY_TOKEN}"\n'
        f'api_url = "{url}"\n'
        'start = "2026-01-01T00:00:00Z"\n'
        "page_size = 2\n"
        'services = { PSVC001 = "checkout", PSVC002 = "search" }\n'
    )
    env = {"PAGERDUTY_TOKEN": replay.TOKEN}

    listed = mlreport(site, "plugins", "--format", "json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["mlreport-pagerduty"]["hooks"] == ["register_sources"]
    assert rows["mlreport-pagerduty"]["version"] == "0.1.0"

    for _ in range(2):  # the second sync re-reads only the incident still open
        synced = mlreport(site, "sync", cwd=tmp_path, env=env)
        assert synced.returncode == 0, synced.stderr
    sinces = [r["since"] for r in recorded.requests]
    assert sinces[:2] == [replay.START, replay.START]
    assert replay.OPEN_SINCE in sinces[2:]

    shown = mlreport(
        site,
        "sql",
        "SELECT incident_id, entity, severity, strftime(detected_at, '%Y-%m-%dT%H:%M') AS at, "
        "resolved_at IS NULL AS open FROM incidents ORDER BY incident_id",
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == [
        {
            "incident_id": "Q1ABC01",
            "entity": "checkout",
            "severity": "high",
            "at": "2026-02-03T09:15",
            "open": False,
        },
        {
            "incident_id": "Q1ABC02",
            "entity": "search",
            "severity": "low",
            "at": "2026-02-10T14:00",
            "open": False,
        },
        {
            "incident_id": "Q1ABC03",
            "entity": "checkout",
            "severity": "high",
            "at": "2026-03-01T08:00",
            "open": True,
        },
    ]
    doctor = mlreport(site, "doctor", cwd=tmp_path, env=env)
    assert "source pagerduty: " + url in doctor.stdout, doctor.stdout + doctor.stderr
    for result in (listed, synced, shown, doctor):
        assert replay.TOKEN not in result.stdout + result.stderr


def test_a_refused_key_fails_the_sync_clearly_and_secretly(site, pagerduty, tmp_path):
    url, _ = pagerduty
    (tmp_path / "mlreport.toml").write_text(
        '[[sources]]\nname = "pagerduty"\ntype = "pagerduty"\ntoken = "${PAGERDUTY_TOKEN}"\n'
        f'api_url = "{url}"\n'
    )
    synced = mlreport(site, "sync", cwd=tmp_path, env={"PAGERDUTY_TOKEN": "wrong-key-123"})
    assert synced.returncode == 2
    assert "HTTP 401: the API key in token was refused" in synced.stderr
    assert "wrong-key-123" not in synced.stdout + synced.stderr


def test_the_example_passes_its_own_tests(site):
    tests = run_pytest(site, EXAMPLE)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "9 passed" in tests.stdout
