"""Real local emulators for gs:// and az:// paths, one per test session: the GCS JSON API of
``gcp-storage-emulator`` (PyPI) and Azurite's Blob service (npm). Each test gets its own bucket
or container and a :class:`Cloud` that fills it through the cloud's own SDK."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret of anyone's)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONN_VAR = "MLREPORT_TEST_AZURE_CONNECTION"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


@dataclass
class Cloud:
    """One bucket or container in an emulator, the SDK client that fills it, and the source
    options and environment a sync needs to read it."""

    name: str
    scheme: str
    bucket: str
    client: Any
    options: dict[str, Any] = field(default_factory=dict)

    def url(self, pattern: str) -> str:
        return f"{self.scheme}://{self.bucket}/{pattern}"

    def put(self, key: str, data: bytes) -> None:
        if self.name == "gcs":  # no retries: the emulator's refusal of a name is final
            self.client.bucket(self.bucket).blob(key).upload_from_string(data, retry=None)
        else:
            self.client.upload_blob(key, data, overwrite=True)

    def delete(self, key: str) -> None:
        if self.name == "gcs":
            self.client.bucket(self.bucket).blob(key).delete()
        else:
            self.client.delete_blob(key)

    def version(self, key: str) -> str:
        """The version tag the mirror records: the GCS generation, the Azure ETag."""
        if self.name == "gcs":
            return str(self.client.bucket(self.bucket).get_blob(key).generation)
        return self.client.get_blob_client(key).get_blob_properties().etag.strip('"')

    def upload_tree(self, folder: Path, prefix: str) -> list[str]:
        keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            self.put(key, path.read_bytes())
            keys.append(key)
        return keys


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    server_mod = pytest.importorskip("gcp_storage_emulator.server")
    port = free_port()
    server = server_mod.create_server("127.0.0.1", port, in_memory=True)
    server.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("azurite-blob")
    if binary is None:
        pytest.skip("azurite-blob is not on PATH: npm install -g azurite (.ci/run installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder)]
        + ["--silent", "--skipApiVersionCheck"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def isolate_google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Application Default Credentials of this machine: no key file, an empty gcloud
    folder, and a metadata server address where nothing listens."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    dead = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("GCE_METADATA_HOST", dead)
    monkeypatch.setenv("GCE_METADATA_IP", dead)


def isolate_azure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Azure identity of this machine: no service principal variables, no CLI login, and
    the managed-identity endpoint where nothing listens."""
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                "AZURE_FEDERATED_TOKEN_FILE", "AZURE_STORAGE_ACCOUNT_NAME",
                "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-azure-cli"))
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{free_port()}")


def gcs_cloud(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cloud:
    from google.cloud import storage

    isolate_google(monkeypatch, tmp_path)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)  # the SDK's own emulator switch
    client = storage.Client(project="mlreport-test")
    name = f"mlreport-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return Cloud("gcs", "gs", name, client)


def azure_cloud(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cloud:
    from azure.storage.blob import BlobServiceClient

    isolate_azure(monkeypatch, tmp_path)
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    monkeypatch.setenv(CONN_VAR, conn)
    name = f"mlreport-{uuid.uuid4().hex[:12]}"
    container = BlobServiceClient.from_connection_string(conn).create_container(name)
    options = {"azure_connection_string": "${" + CONN_VAR + "}"}
    return Cloud("azure", "az", name, container, options)


@pytest.fixture(params=["gcs", "azure"])
def cloud(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Cloud:
    """A fresh bucket (gs://) or container (az://) in a running emulator."""
    if request.param == "gcs":
        return gcs_cloud(request.getfixturevalue("gcs_endpoint"), monkeypatch, tmp_path)
    return azure_cloud(request.getfixturevalue("azurite_endpoint"), monkeypatch, tmp_path)


@pytest.fixture
def gcs(gcs_endpoint, monkeypatch, tmp_path) -> Cloud:
    return gcs_cloud(gcs_endpoint, monkeypatch, tmp_path)


@pytest.fixture
def azure(azurite_endpoint, monkeypatch, tmp_path) -> Cloud:
    return azure_cloud(azurite_endpoint, monkeypatch, tmp_path)


class FakeGoogle:
    """A local HTTP server answering as Google's OAuth token endpoint and, for the one case the
    GCS emulator cannot produce (IAM denial), as the JSON API with its documented 403 body."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.token_status = 200
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(("POST", self.path))
                if outer.token_status == 200:
                    token = {"access_token": "ya29.local-test-token", "expires_in": 3600}
                    self._answer(200, {**token, "token_type": "Bearer"})
                else:
                    error = "Token has been expired or revoked."
                    self._answer(400, {"error": "invalid_grant", "error_description": error})

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(("GET", self.path))
                message = (
                    "reader@example.iam.gserviceaccount.com does not have storage.objects.list "
                    "access to the Google Cloud Storage bucket. Permission 'storage.objects.list'"
                    " denied on resource (or it may not exist)."
                )
                error = {"domain": "global", "reason": "forbidden", "message": message}
                self._answer(403, {"error": {"code": 403, "message": message, "errors": [error]}})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def adc_file(self, folder: Path) -> tuple[Path, str]:
        """A service-account key file (a fresh RSA key) whose token endpoint is this server,
        and a line of its private key that must never be shown."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "mlreport-test",
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": "reader@mlreport-test.iam.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "token_uri": f"{self.url}/token",
        }
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "key.json"
        path.write_text(json.dumps(info))
        return path, pem.splitlines()[5]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    server = FakeGoogle()
    yield server
    server.close()
