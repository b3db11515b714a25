"""A missing bucket, denied access, absent or refused credentials, and unsupported schemes give
one-line errors naming the URL; nothing stored changes; no credential appears anywhere."""

from __future__ import annotations

import logging

import pytest

from mlreport.config import ConfigError
from mlreport.sources import SourceError
from tests.objstore.conftest import KEY_ID, SECRET, upload_tree
from tests.predictions.conftest import World, log_frame


@pytest.fixture
def synced(tmp_path, s3, bucket) -> World:
    """A log synced from S3 once, so that a failing sync has something to leave alone."""
    src = World(tmp_path / "src")
    src.parquet("logs/a.parquet", log_frame(12))
    upload_tree(s3, bucket, src.root / "logs", "logs")
    world = World(tmp_path / "w")
    world.root.mkdir()
    world.sync(path=f"s3://{bucket}/logs/*.parquet")
    return world


def _fails(world: World, url: str, caplog, capsys) -> str:
    before = world.snapshot()
    mirror = world.root / "mlreport.duckdb.objects"
    files = sorted((p, p.read_bytes()) for p in mirror.rglob("*") if p.is_file())
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        world.sync(path=url)
    message = str(err.value)
    assert "\n" not in message and url in message
    assert world.snapshot() == before
    assert sorted((p, p.read_bytes()) for p in mirror.rglob("*") if p.is_file()) == files
    out = capsys.readouterr()
    for text in (message, caplog.text, out.out, out.err):
        assert SECRET not in text
    return message


def test_a_missing_bucket(synced, caplog, capsys):
    url = "s3://no-such-bucket-mlreport/logs/*.parquet"
    message = _fails(synced, url, caplog, capsys)
    assert "the bucket 'no-such-bucket-mlreport' does not exist" in message
    assert message.startswith("source 'credit-predictions': path: s3://no-such-bucket")


def test_a_prefix_with_no_object(synced, bucket, caplog, capsys):
    url = f"s3://{bucket}/nothing-here/*.parquet"
    assert "no object matches" in _fails(synced, url, caplog, capsys)


def test_a_key_that_would_leave_the_mirror(synced, s3, bucket, caplog, capsys):
    s3.put_object(Bucket=bucket, Key="logs/../../escape.parquet", Body=b"PAR1")
    url = f"s3://{bucket}/logs/**"
    message = _fails(synced, url, caplog, capsys)
    assert "the key 'logs/../../escape.parquet' has `.` or `..` segments" in message
    assert not (synced.root / "mlreport.duckdb.objects" / "escape.parquet").exists()


def test_access_denied(synced, bucket, s3_endpoint, monkeypatch, caplog, capsys):
    import boto3
    import moto.settings

    iam = boto3.session.Session().client("iam")
    iam.create_user(UserName="reader-without-policy")
    key = iam.create_access_key(UserName="reader-without-policy")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    caplog.clear()  # the test's own IAM call above may be logged (botocore DEBUG): not the sync's
    message = _fails(synced, f"s3://{bucket}/logs/*.parquet", caplog, capsys)
    assert "access denied" in message
    assert key["SecretAccessKey"] not in message + caplog.text


def test_refused_credentials(synced, bucket, monkeypatch, caplog, capsys):
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    message = _fails(synced, f"s3://{bucket}/logs/*.parquet", caplog, capsys)
    assert "credentials were refused (InvalidAccessKeyId)" in message
    assert KEY_ID not in message


def test_no_credentials(synced, bucket, monkeypatch, caplog, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    message = _fails(synced, f"s3://{bucket}/logs/*.parquet", caplog, capsys)
    assert "no AWS credentials found" in message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://key:secret@bucket/logs/x.parquet", "credentials never go in the URL"),
        ("gs://key:secret@bucket/logs/x.parquet", "credentials never go in the URL"),
        ("az://secret@container/logs/x.parquet", "credentials never go in the URL"),
        ("abfss://c:secret@acct.dfs.core.windows.net/x", "credentials never go in the URL"),
        ("s3:///logs/x.parquet", "name a bucket after s3://"),
        ("gs://*/logs/x.parquet", "name a bucket after gs://"),
        ("az:///logs/x.parquet", "name a container after az://"),
        ("abfs://@acct.dfs.core.windows.net/x", "abfs://<container>@<account>"),
    ],
)
def test_config_refuses_unsupported_urls(tmp_path, url, says):
    world = World(tmp_path)
    with pytest.raises(ConfigError) as err:
        world.sync(path=url)
    assert says in str(err.value)
    assert "secret" not in str(err.value)
