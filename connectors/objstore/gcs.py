"""``gs://`` objects through google-cloud-storage (the JSON API). Credentials come from
Application Default Credentials, which the client resolves itself: GOOGLE_APPLICATION_CREDENTIALS,
the gcloud ADC file, or the metadata server (GCE, GKE workload identity, Cloud Run). With
STORAGE_EMULATOR_HOST set the client talks to that emulator anonymously, as Google documents.
An object's version tag is its *generation*, which changes with every new upload."""

from __future__ import annotations

from typing import Any, BinaryIO

from mlreport.connectors.objstore.options import Settings
from mlreport.connectors.objstore.store import Remote

FIELDS = "items(name,size,generation),nextPageToken"  # the listing carries only these


class GcsStore:
    def __init__(self, bucket: str, settings: Settings) -> None:
        try:
            from google.cloud import storage
        except ImportError:
            raise ImportError(
                "gs:// paths need google-cloud-storage: pip install 'mlreport[gcs]'"
            ) from None
        self.bucket = bucket
        options = {"api_endpoint": settings.endpoint_url} if settings.endpoint_url else None
        self._storage = storage
        self._client: Any = None
        self._options = options

    @property
    def client(self) -> Any:
        """Made on first use, so that missing credentials fail inside a listing and get the
        same one-line error as any other failed call."""
        if self._client is None:
            self._client = self._storage.Client(project=None, client_options=self._options)
        return self._client

    def list(self, prefix: str) -> list[Remote]:
        blobs = self.client.list_blobs(self.bucket, prefix=prefix or None, fields=FIELDS)
        return [
            Remote(b.name, str(b.generation), int(b.size or 0))
            for b in blobs
            if not b.name.endswith("/")
        ]

    def download(self, obj: Remote, out: BinaryIO) -> None:
        blob = self.client.bucket(self.bucket).blob(obj.key)
        blob.download_to_file(out, if_generation_match=int(obj.etag))

    def explain(self, exc: BaseException) -> str:
        name = type(exc).__name__
        code = getattr(exc, "code", None)
        if name == "DefaultCredentialsError":
            return (
                "no Google credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud "
                "auth application-default login`, or run with a workload identity)"
            )
        if name == "RefreshError":
            return (
                "the Google credentials were refused (the token could not be refreshed); "
                "renew them with gcloud or in GOOGLE_APPLICATION_CREDENTIALS"
            )
        if (code == 404 or name == "NotFound") and "bucket" in str(exc).lower():
            return f"the bucket {self.bucket!r} does not exist (check the name and endpoint_url)"
        if code == 404 or name == "NotFound":
            return "the object is gone (deleted while the sync ran); run the sync again"
        if code == 401 or name == "Unauthorized":
            return "the Google credentials were refused (401); renew them"
        if code == 403 or name == "Forbidden":
            return (
                "access denied: the Google credentials may not list or read these objects "
                "(grant roles/storage.objectViewer on the bucket)"
            )
        if code == 412 or name == "PreconditionFailed":
            return "the object changed while it was read; run the sync again"
        if name in ("TransportError", "ConnectionError", "ConnectTimeout", "ReadTimeout"):
            return "cannot reach the object store (check endpoint_url and the network)"
        return f"object storage request failed ({code or name})"
