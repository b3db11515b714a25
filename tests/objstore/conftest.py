"""A real S3-compatible server (moto in server mode, one per test session) and boto3 calls to
fill it; each test gets its own bucket and the AWS variables of the test only."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.objstore.clouds import (  # noqa: F401
    azure,
    azurite_endpoint,
    cloud,
    fake_google,
    gcs,
    gcs_endpoint,
)

moto_server = pytest.importorskip("moto.server")

KEY_ID = "AKIAOBJSTORETESTKEY1"
SECRET = "objstore-test-secret-Zq8/never-in-output"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A boto3 S3 client on the local server, with the environment a sync will see."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return boto3.session.Session().client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"mlreport-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def upload_tree(s3, bucket: str, folder: Path, prefix: str) -> list[str]:
    """Every file under ``folder`` as an object under ``prefix`` (keys use ``/``)."""
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys
