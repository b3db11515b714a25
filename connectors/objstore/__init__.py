"""Object storage paths (``s3://``, ``gs://``, ``az://`` and ``abfs[s]://`` URLs, globs allowed)
for the file-reading sources.

A source's ``path`` may name objects in S3 (or an S3-compatible store), Google Cloud Storage or
Azure Blob storage / ADLS Gen2. Before a sync reads anything, :func:`localize` mirrors them
under the warehouse's ``<name>.objects/`` folder, downloading only objects whose version tag
(ETag, GCS generation) or size changed (mirror.py). One small module per cloud lists and
downloads (s3.py, gcs.py, azure.py); credentials come only from each cloud's standard chain,
or for Azure a connection string / SAS token given as ``${VAR}``; no message includes one.
See docs/sources-object-storage.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from mlreport.connectors.objstore.mirror import INDEX, Mirror, annotate, localize, mirror_root
from mlreport.connectors.objstore.options import Settings, StoreOptions, settings
from mlreport.connectors.objstore.store import Remote, Store
from mlreport.connectors.objstore.urls import SCHEMES, check_url, is_url, parse

__all__ = [
    "INDEX",
    "SCHEMES",
    "Mirror",
    "ObjectURL",
    "Remote",
    "Settings",
    "Store",
    "StoreOptions",
    "annotate",
    "check_urls",
    "is_url",
    "localize",
    "mirror_root",
    "parse",
    "settings",
]


def check_urls(value: Any) -> Any:
    """A ``before`` validator: a bad URL is refused by name (it would otherwise fall through to
    the local-path type and be reported as a missing file)."""
    for item in value if isinstance(value, list) else [value]:
        if is_url(item):
            check_url(item)
    return value


ObjectURL = Annotated[str, AfterValidator(check_url)]
"""A config value naming objects: ``s3://bucket/prefix``, ``gs://bucket/logs/**/*.parquet``,
``az://container/exports/``, ``abfss://container@account.dfs.core.windows.net/exports/``."""
