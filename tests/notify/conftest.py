"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP server, each on a
free loopback port, recording what arrives; and a small nightly world (an events source, a
delivery report, a change-failure-rate policy) driven through the real CLI."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from mlreport.cli import _load_command_plugins, cli

DEPLOY_HEADER = (
    "deployment_id,entity,environment,version,commit_sha,model_version,"
    "started_at,finished_at,status,kind,trigger"
)
INCIDENT_HEADER = (
    "incident_id,entity,environment,severity,detected_at,resolved_at,cause_deployment_id,title"
)
SMTP_USER, SMTP_PASSWORD = "mlreport", "smtp-Pa55word-never-shown"
HOOK_TOKEN = "hook-T0ken-never-shown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HttpReceiver:
    """Records each POST (path, JSON body); answers with ``status``."""

    port: int
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str = f"/hook/{HOOK_TOKEN}") -> str:
        return f"json://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.posts.append({"path": self.path, "body": json.loads(body)})
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def url(self, password: str = SMTP_PASSWORD) -> str:
        return (
            f"mailto://{SMTP_USER}:{password}@127.0.0.1:{self.port}"
            "?from=mlreport@example.com&to=ops@example.com&mode=insecure"
        )

    def bodies(self) -> list[str]:
        return [m.get_body(("plain",)).get_content() for m in self.messages]


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (data.login.decode(), data.password.decode())
        receiver.logins.append(login)
        return AuthResult(success=login == (SMTP_USER, SMTP_PASSWORD))

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=receiver.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield receiver
    controller.stop()


def deploy(i: int, day: int, status: str = "success") -> str:
    return (
        f"d{i},svc,production,1.{i},sha{i},,2026-03-{day:02d}T10:00:00Z,"
        f"2026-03-{day:02d}T10:05:00Z,{status},planned,automated"
    )


def incident(i: int, day: int, cause: str) -> str:
    return (
        f"i{i},svc,production,high,2026-03-{day:02d}T12:00:00Z,2026-03-{day:02d}T14:00:00Z,"
        f"{cause},checkout down"
    )


@dataclass
class Nightly:
    root: Path

    def config(self, notifiers: str, policies: str = "") -> None:
        text = f"""
[warehouse]
path = "wh.duckdb"

[output]
dir = "out"

[[sources]]
name = "log"
type = "events"
deployments = "deployments.csv"
incidents = "incidents.csv"

[policies]
"dora.change_failure_rate" = {{ max = 0.15 }}
{policies}

[[reports]]
type = "delivery"
formats = ["html", "json", "md"]

{notifiers}
"""
        (self.root / "mlreport.toml").write_text(text, encoding="utf-8")

    def write(self, name: str, header: str, *rows: str) -> None:
        (self.root / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    def append(self, name: str, *rows: str) -> None:
        with (self.root / name).open("a", encoding="utf-8") as fh:
            fh.write("\n".join(rows) + "\n")

    def invoke(self, *args: str):
        _load_command_plugins()
        return CliRunner().invoke(cli, ["--config", str(self.root / "mlreport.toml"), *args])

    def run(self, as_of: str, *args: str):
        return self.invoke(*args, "run", "--as-of", as_of)

    def report_json(self, day: str) -> dict[str, Any]:
        return json.loads((self.root / "out" / day / "delivery.json").read_text())

    def output_text(self) -> str:
        """Every file under out/ as text (what a secret must never appear in)."""
        out = self.root / "out"
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file()
        )


@pytest.fixture
def nightly(tmp_path: Path) -> Nightly:
    world = Nightly(tmp_path)
    world.write(
        "deployments.csv",
        DEPLOY_HEADER,
        deploy(1, 2),
        deploy(2, 3),
        deploy(3, 4),
        deploy(4, 5),
    )
    world.write("incidents.csv", INCIDENT_HEADER)
    return world
