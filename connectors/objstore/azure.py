"""``az://`` and ``abfs://`` objects (Azure Blob storage and ADLS Gen2, through the Blob API)
with azure-storage-blob. Credentials: azure-identity's DefaultAzureCredential (environment,
workload identity, managed identity, Azure CLI ...) unless the source gives a connection string
or SAS token, and those only as ``${VAR}``. ADLS Gen2 folders (blobs marked hdi_isfolder) are
not objects and are skipped."""

from __future__ import annotations

from typing import Any, BinaryIO

from mlreport.connectors.objstore.options import Settings
from mlreport.connectors.objstore.store import Remote
from mlreport.connectors.objstore.urls import Location

SCOPE = "https://storage.azure.com/.default"


def account_url(loc: Location, settings: Settings) -> str:
    """The account's blob endpoint: endpoint_url, or derived from an abfs host (sovereign
    clouds included: ``.dfs.core.chinacloudapi.cn`` → ``.blob.core.chinacloudapi.cn``)."""
    if settings.endpoint_url:
        return settings.endpoint_url.rstrip("/")
    if loc.host and ".dfs." in loc.host:
        return "https://" + loc.host.replace(".dfs.", ".blob.", 1)
    return f"https://{loc.account}.blob.core.windows.net"


class AzureStore:
    def __init__(self, loc: Location, settings: Settings) -> None:
        try:
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            raise ImportError(
                f"{loc.given}:// paths need azure-storage-blob and azure-identity: "
                "pip install 'mlreport[azure]'"
            ) from None
        self.container = loc.bucket
        self.account = loc.account
        if settings.azure_connection_string:
            service = BlobServiceClient.from_connection_string(settings.azure_connection_string)
        elif settings.azure_sas_token:
            service = BlobServiceClient(account_url(loc, settings), settings.azure_sas_token)
        else:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise ImportError(
                    "az:// paths without a connection string need azure-identity: "
                    "pip install 'mlreport[azure]'"
                ) from None
            self._credential = DefaultAzureCredential()
            service = BlobServiceClient(account_url(loc, settings), self._credential)
        self.client: Any = service.get_container_client(loc.bucket)

    _credential: Any = None

    def _token_first(self) -> None:
        """Ask the credential chain for a token before the first call: the storage client's
        retry policy would otherwise retry a missing credential with backoff for ~90 s. The
        credentials cache the token, so the calls that follow reuse it."""
        if self._credential is not None:
            self._credential.get_token(SCOPE)
            self._credential = None

    def list(self, prefix: str) -> list[Remote]:
        self._token_first()
        out = []
        for blob in self.client.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
            folder = (blob.metadata or {}).get("hdi_isfolder") == "true"
            if folder or blob.name.endswith("/"):
                continue
            out.append(Remote(blob.name, str(blob.etag).strip('"'), int(blob.size)))
        return out

    def download(self, obj: Remote, out: BinaryIO) -> None:
        from azure.core import MatchConditions

        stream = self.client.download_blob(
            obj.key, etag=f'"{obj.etag}"', match_condition=MatchConditions.IfNotModified
        )
        stream.readinto(out)

    def explain(self, exc: BaseException) -> str:
        name = type(exc).__name__
        code = str(getattr(exc, "error_code", "") or "")
        status = getattr(exc, "status_code", None)
        if name == "CredentialUnavailableError" or str(exc).startswith(
            "DefaultAzureCredential failed"
        ):
            return (
                "no Azure credentials found (set AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret, "
                "certificate or workload identity, run `az login`, use a managed identity, or "
                "give azure_connection_string / azure_sas_token as ${VAR})"
            )
        code = code.split(".")[-1].replace("_", "").lower()  # StorageErrorCode.X or "X"
        if code == "containernotfound":
            return (
                f"the container {self.container!r} does not exist in the account "
                f"{self.account!r} (check the names and endpoint_url)"
            )
        if code == "blobnotfound" or (status == 404 and name == "ResourceNotFoundError"):
            return "the object is gone (deleted while the sync ran); run the sync again"
        if code in ("authenticationfailed", "invalidauthenticationinfo", "authorizationfailure"):
            return (
                "the Azure credentials were refused (the signature, key or token is not "
                "valid); renew the key, SAS token or login"
            )
        if status in (401, 403) or code.startswith("authorization"):
            return (
                "access denied: the Azure credentials may not list or read these objects "
                "(grant Storage Blob Data Reader, or a SAS with read and list permissions)"
            )
        if status == 412 or code == "conditionnotmet" or name == "ResourceModifiedError":
            return "the object changed while it was read; run the sync again"
        if name == "ClientAuthenticationError":
            return "the Azure credentials were refused; renew them"
        if name in ("ServiceRequestError", "ServiceResponseError"):
            return "cannot reach the object store (check endpoint_url, the account and network)"
        return f"object storage request failed ({status or name})"
