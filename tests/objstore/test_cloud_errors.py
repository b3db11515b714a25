"""gs:// and az:// failures give one line naming the config key and the URL, change nothing
stored, and never show a credential: missing bucket or container, no matching object, hostile
object names, absent, refused and insufficient credentials, a secret written into the config."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest

from mlreport.config import ConfigError
from mlreport.sources import SourceError
from tests.objstore.clouds import AZURITE_ACCOUNT, AZURITE_KEY, CONN_VAR, Cloud, free_port
from tests.predictions.conftest import World, log_frame

PREFIX = "source 'credit-predictions': path: "


def _synced(tmp_path, cloud: Cloud) -> World:
    src = World(tmp_path / "src")
    src.parquet("logs/a.parquet", log_frame(12))
    cloud.upload_tree(src.root / "logs", "logs")
    world = World(tmp_path / "w")
    world.root.mkdir()
    world.sync(path=cloud.url("logs/*.parquet"), **cloud.options)
    return world


def _fails(world: World, options: dict, caplog, capsys, secrets: tuple[str, ...] = ()) -> str:
    before = world.snapshot()
    mirror = world.root / "mlreport.duckdb.objects"
    files = sorted((p, p.read_bytes()) for p in mirror.rglob("*") if p.is_file())
    caplog.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        world.sync(**options)
    message = str(err.value)
    assert "\n" not in message and message.startswith(PREFIX), message
    assert options["path"] in message
    assert world.snapshot() == before
    assert sorted((p, p.read_bytes()) for p in mirror.rglob("*") if p.is_file()) == files
    out = capsys.readouterr()
    for text in (message, caplog.text, out.out, out.err):
        for secret in (AZURITE_KEY, *secrets):
            assert secret not in text
    return message


def test_a_missing_bucket_or_container(tmp_path, cloud, caplog, capsys):
    world = _synced(tmp_path, cloud)
    url = f"{cloud.scheme}://no-such-bucket-mlreport/logs/*.parquet"
    message = _fails(world, {"path": url, **cloud.options}, caplog, capsys)
    assert "'no-such-bucket-mlreport'" in message and "does not exist" in message


def test_a_prefix_with_no_object(tmp_path, cloud, caplog, capsys):
    world = _synced(tmp_path, cloud)
    url = cloud.url("nothing-here/*.parquet")
    assert "no object matches" in _fails(world, {"path": url, **cloud.options}, caplog, capsys)


@pytest.mark.parametrize(
    "hostile", ["/abs.parquet", "logs/../../escape.parquet", "logs\\..\\..\\escape.parquet"]
)
def test_hostile_object_names_are_refused(tmp_path, cloud, hostile, caplog, capsys):
    world = _synced(tmp_path, cloud)
    try:
        cloud.put(hostile, b"PAR1")
    except Exception:  # the GCS emulator and Azurite refuse `/../` themselves
        pytest.skip(f"{cloud.name} emulator does not store the name {hostile!r}")
    listed = _names(cloud)
    (stored,) = [n for n in listed if n.endswith(("abs.parquet", "escape.parquet"))]
    message = _fails(world, {"path": cloud.url("**"), **cloud.options}, caplog, capsys)
    assert f"the key {stored!r} has `.` or `..` segments" in message
    escaped = [p for p in world.root.parent.rglob("*.parquet") if "escape" in p.name]
    assert escaped == [] and not any(p.name == "abs.parquet" for p in world.root.rglob("*"))


def _names(cloud: Cloud) -> list[str]:
    if cloud.name == "gcs":
        return [b.name for b in cloud.client.list_blobs(cloud.bucket)]
    return [b.name for b in cloud.client.list_blobs()]


# -- Google credentials ------------------------------------------------------------------------


def test_gcs_application_default_credentials_are_used(
    tmp_path, gcs, gcs_endpoint, fake_google, monkeypatch, caplog, capsys
):
    """Without the emulator switch the client takes ADC (here a gcloud-style file whose token
    endpoint is local) and sends its token; nothing of the file reaches output or logs."""
    src = World(tmp_path / "src")
    src.parquet("logs/a.parquet", log_frame(12))
    gcs.upload_tree(src.root / "logs", "logs")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    adc, secret = fake_google.adc_file(tmp_path / "gcloud")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    world = World(tmp_path / "w")
    world.root.mkdir()
    with caplog.at_level(logging.DEBUG):
        stats = world.sync(path=gcs.url("logs/*.parquet"), endpoint_url=gcs_endpoint)
    assert stats.reads["objects_downloaded"] == 1
    assert world.query("SELECT count(*) FROM predictions") == [(12,)]
    assert {r for r in fake_google.requests} == {("POST", "/token")}
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert secret not in text and "local-test-token" not in text


def test_gcs_no_credentials(tmp_path, gcs, gcs_endpoint, monkeypatch, caplog, capsys):
    world = _synced(tmp_path, gcs)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    options = {"path": gcs.url("logs/*.parquet"), "endpoint_url": gcs_endpoint}
    assert "no Google credentials found" in _fails(world, options, caplog, capsys)


def test_gcs_refused_credentials(tmp_path, gcs, gcs_endpoint, fake_google, monkeypatch, caplog,
                                 capsys):  # fmt: skip
    world = _synced(tmp_path, gcs)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    adc, secret = fake_google.adc_file(tmp_path / "g")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    fake_google.token_status = 400
    options = {"path": gcs.url("logs/*.parquet"), "endpoint_url": gcs_endpoint}
    message = _fails(world, options, caplog, capsys, (secret,))
    assert "the Google credentials were refused" in message


def test_gcs_access_denied(tmp_path, gcs, fake_google, monkeypatch, caplog, capsys):
    """The emulator has no IAM: the JSON API's documented 403 comes from a local server."""
    world = _synced(tmp_path, gcs)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    adc, secret = fake_google.adc_file(tmp_path / "g")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    options = {"path": gcs.url("logs/*.parquet"), "endpoint_url": fake_google.url}
    message = _fails(world, options, caplog, capsys, (secret, "local-test-token"))
    assert "access denied" in message and "storage.objectViewer" in message
    assert ("POST", "/token") in fake_google.requests


# -- Azure credentials -------------------------------------------------------------------------


def _sas(permission, key: str = AZURITE_KEY, container: str = "") -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=key,
        permission=ContainerSasPermissions(**permission),
        expiry=expiry,
    )


def _sas_options(azure: Cloud, endpoint: str, url: str) -> dict:
    return {
        "path": url,
        "endpoint_url": endpoint,
        "azure_account": AZURITE_ACCOUNT,
        "azure_sas_token": "${MLREPORT_TEST_SAS}",
    }


def test_azure_sas_token_and_abfs_url(tmp_path, azure, azurite_endpoint, monkeypatch):
    world = _synced(tmp_path, azure)
    sas = _sas({"read": True, "list": True}, container=azure.bucket)
    monkeypatch.setenv("MLREPORT_TEST_SAS", sas)
    monkeypatch.delenv(CONN_VAR)
    url = f"abfss://{azure.bucket}@{AZURITE_ACCOUNT}.dfs.core.windows.net/logs/*.parquet"
    fresh = World(tmp_path / "abfs")
    fresh.root.mkdir()
    stats = fresh.sync(**_sas_options(azure, azurite_endpoint, url))
    assert stats.reads["objects_downloaded"] == 1
    assert fresh.query(world_rows := "SELECT count(*), sum(score) FROM predictions") == (
        world.query(world_rows)
    )
    files = fresh.log_row()["files"]
    assert f"abfss://{azure.bucket}@{AZURITE_ACCOUNT}.dfs.core.windows.net/logs/a.parquet" in files
    assert sas not in files and "sig=" not in files


def test_azure_access_denied(tmp_path, azure, azurite_endpoint, monkeypatch, caplog, capsys):
    world = _synced(tmp_path, azure)
    sas = _sas({"read": True}, container=azure.bucket)  # may read, may not list
    monkeypatch.setenv("MLREPORT_TEST_SAS", sas)
    options = _sas_options(azure, azurite_endpoint, azure.url("logs/*.parquet"))
    message = _fails(world, options, caplog, capsys, (sas.split("sig=")[-1],))
    assert "access denied" in message


def test_azure_refused_credentials(tmp_path, azure, azurite_endpoint, monkeypatch, caplog,
                                   capsys):  # fmt: skip
    world = _synced(tmp_path, azure)
    sas = _sas({"read": True, "list": True}, key="A" * 86 + "==", container=azure.bucket)
    monkeypatch.setenv("MLREPORT_TEST_SAS", sas)
    options = _sas_options(azure, azurite_endpoint, azure.url("logs/*.parquet"))
    message = _fails(world, options, caplog, capsys, (sas.split("sig=")[-1],))
    assert "the Azure credentials were refused" in message


def test_azure_no_credentials(tmp_path, azure, monkeypatch, caplog, capsys):
    """DefaultAzureCredential finds nothing (no variables, no CLI login, no managed identity):
    one line at once, not the SDK's retries and its many-line report."""
    world = _synced(tmp_path, azure)
    options = {
        "path": azure.url("logs/*.parquet"),
        "endpoint_url": f"https://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}",
        "azure_account": AZURITE_ACCOUNT,
    }
    assert "no Azure credentials found" in _fails(world, options, caplog, capsys)
    assert "DefaultAzureCredential" not in caplog.text + capsys.readouterr().err


def test_azure_object_changed_while_read(azure):
    """The download is conditional on the listed ETag (Azurite enforces If-Match)."""
    from mlreport.connectors.objstore import Settings, parse
    from mlreport.connectors.objstore.azure import AzureStore

    azure.put("x.csv", b"a,b\n1,2\n")
    loc = parse(azure.url("x.csv")).with_account(AZURITE_ACCOUNT)
    import os

    store = AzureStore(loc, Settings(azure_connection_string=os.environ[CONN_VAR]))
    (listed,) = store.list("x.csv")
    azure.put("x.csv", b"a,b\n3,4\n")
    with pytest.raises(Exception) as err:
        store.download(listed, io.BytesIO())
    assert store.explain(err.value) == "the object changed while it was read; run the sync again"


def test_an_azure_url_without_an_account(tmp_path, azure, monkeypatch, caplog, capsys):
    world = _synced(tmp_path, azure)
    options = {"path": azure.url("logs/*.parquet")}  # no connection string, no account
    message = _fails(world, options, caplog, capsys)
    assert "which storage account? Set `azure_account`" in message


def test_a_connection_string_written_in_the_config_is_refused(tmp_path, azure, monkeypatch):
    import os

    world = World(tmp_path / "w")
    world.root.mkdir()
    text = os.environ[CONN_VAR]
    with pytest.raises((SourceError, ConfigError)) as err:
        world.sync(path=azure.url("logs/*.parquet"), azure_connection_string=text)
    message = str(err.value)
    assert "azure_connection_string: give it as ${VAR}" in message
    assert AZURITE_KEY not in message and "AccountKey" not in message
