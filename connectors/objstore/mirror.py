"""The local mirror of a source's objects, kept by version tag (ETag or generation) and size.

Before a sync reads anything, :func:`localize` lists the objects a URL names and keeps a copy
of each under the warehouse's ``<name>.objects/`` folder: an object is downloaded only when its
version tag or size differs from the mirrored copy's, so a sync over unchanged objects reads no
object and DuckDB then scans local files at disk speed. A mirrored file is rewritten (new
mtime) only when its object changed, so the sources' own size-and-mtime fingerprints see exactly
the object changes. The stores themselves (s3.py, gcs.py, azure.py) only list and download.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlreport.atomic import write_atomically
from mlreport.connectors.globs import is_glob
from mlreport.connectors.objstore import urls
from mlreport.connectors.objstore.options import Settings
from mlreport.connectors.objstore.store import Remote, Store
from mlreport.sources import SourceError
from mlreport.terminal import CREDENTIAL_LOGGERS

INDEX = "index.json"


@contextmanager
def quiet_credentials() -> Iterator[None]:
    """The cloud SDKs' loggers at WARNING or above while they run, whoever configured logging:
    their debug records carry SAS signatures in URLs, tokens and key ids."""
    loggers = [logging.getLogger(name) for name in (*CREDENTIAL_LOGGERS, "azure.identity")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    # its many-line WARNING on an empty chain repeats what the one-line error says
    loggers[-1].setLevel(max(loggers[-1].getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def open_store(loc: urls.Location, settings: Settings) -> Store:
    """The store module for a location (imported only when a URL of its scheme is used)."""
    if loc.scheme == "s3":
        from mlreport.connectors.objstore.s3 import S3Store

        return S3Store(loc.bucket, settings)
    if loc.scheme == "gs":
        from mlreport.connectors.objstore.gcs import GcsStore

        return GcsStore(loc.bucket, settings)
    from mlreport.connectors.objstore.azure import AzureStore

    return AzureStore(loc, settings)


class Mirror:
    """The local copies of objects under one folder, with the version tags they were copied at."""

    def __init__(self, root: Path, count: Callable[[str, int], None], settings: Settings) -> None:
        self.root = root
        self.count = count
        self.settings = settings
        self._stores: dict[tuple, Store] = {}
        try:
            self.index: dict[str, dict[str, Any]] = json.loads((root / INDEX).read_text())
        except (OSError, ValueError):
            self.index = {}

    def local(self, name: str) -> Path:
        """The mirror path of an index name (``s3://b/k`` → ``<root>/s3/b/k``)."""
        return self.root / name.replace("://", "/", 1)

    def localize(self, url: str, key: str, keep: Callable[[str], bool] | None = None) -> Path:
        """The local path standing for ``url`` after its objects are mirrored (a glob stays a
        glob, over the mirror)."""
        loc = self._located(url, key)
        pattern = loc.pattern
        if not urls.safe_key(pattern):
            raise SourceError(f"{key}: {url}: `.` and `..` segments are not allowed in a key")
        store = self._store(loc, url, key)
        objects = self._matching(store, url, key, pattern)
        for obj in objects:
            if not urls.safe_key(obj.key):  # it would be written outside the mirror
                raise SourceError(
                    f"{key}: {url}: the key {obj.key!r} has `.` or `..` segments, a backslash "
                    "or a leading `/` and cannot be mirrored; rename the object or narrow `path`"
                )
        if keep is not None:
            objects = [o for o in objects if keep(o.key)]
        if not objects:
            raise SourceError(f"{key}: no object matches {url} (check the bucket and prefix)")
        for obj in objects:
            self._fetch(store, loc, key, obj)
        self._forget(loc, {o.key for o in objects})
        write_atomically(self.root / INDEX, json.dumps(self.index, sort_keys=True).encode())
        return self.local(loc.name(pattern.rstrip("/")))

    def _located(self, url: str, key: str) -> urls.Location:
        loc = urls.parse(url)
        if loc.scheme != "az" or loc.account:
            return loc
        account = urls.azure_account(
            loc, self.settings.azure_account, self.settings.azure_connection_string
        )
        if not account:
            raise SourceError(
                f"{key}: {url}: which storage account? Set `azure_account` on the source or "
                f"{urls.AZURE_ACCOUNT_ENV}, or write abfs://<container>@<account>.dfs.core."
                "windows.net/"
            )
        return loc.with_account(account)

    def _store(self, loc: urls.Location, url: str, key: str) -> Store:
        ident = (loc.scheme, loc.account, loc.host, loc.bucket)
        if ident not in self._stores:
            try:
                self._stores[ident] = open_store(loc, self.settings)
            except ImportError as exc:
                raise SourceError(f"{key}: {str(exc)}") from None
            except Exception as exc:  # a malformed endpoint or connection string
                raise SourceError(
                    f"{key}: {url}: cannot set up the client ({type(exc).__name__}); check "
                    "endpoint_url and the credentials' format"
                ) from None
        return self._stores[ident]

    # -- listing ---------------------------------------------------------------------------

    def _matching(self, store: Store, url: str, key: str, pattern: str) -> list[Remote]:
        if is_glob(pattern):
            regex = urls.pattern_regex(pattern)
            listed = self._list(store, url, key, urls.literal_prefix(pattern))
            return [o for o in listed if regex.match(o.key)]
        exact = [o for o in self._list(store, url, key, pattern) if o.key == pattern]
        if exact:
            return exact
        folder = pattern.rstrip("/") + "/" if pattern else ""
        return self._list(store, url, key, folder)

    def _list(self, store: Store, url: str, key: str, prefix: str) -> list[Remote]:
        try:
            return store.list(prefix)
        except Exception as exc:
            raise SourceError(f"{key}: {url}: {store.explain(exc)}") from None

    # -- copying ---------------------------------------------------------------------------

    def _fetch(self, store: Store, loc: urls.Location, key: str, obj: Remote) -> None:
        name = loc.name(obj.key)
        path = self.local(name)
        known = self.index.get(name)
        if (
            known
            and known.get("etag") == obj.etag
            and known.get("size") == obj.size
            and path.is_file()
            and path.stat().st_size == obj.size
        ):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        try:
            with open(tmp, "wb") as out:
                store.download(obj, out)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise SourceError(f"{key}: {loc.url(obj.key)}: {store.explain(exc)}") from None
        os.replace(tmp, path)  # a fresh mtime: the source's size-and-mtime check sees the change
        self.index[name] = {"etag": obj.etag, "size": obj.size, "url": loc.url(obj.key)}
        self.count("objects_downloaded", 1)
        self.count("object_bytes", obj.size)

    def _forget(self, loc: urls.Location, wanted: set[str]) -> None:
        """Remove mirrored copies of objects under this URL that the store no longer has."""
        pattern = loc.pattern
        regex = urls.pattern_regex(pattern) if is_glob(pattern) else None
        base = loc.name("")
        folder = pattern.rstrip("/") + "/" if pattern else ""
        for name in list(self.index):
            if not name.startswith(base):
                continue
            obj = name[len(base) :]
            inside = regex.match(obj) if regex else (obj == pattern or obj.startswith(folder))
            if inside and obj not in wanted:
                self.local(name).unlink(missing_ok=True)
                del self.index[name]


def mirror_root(warehouse_path: Path) -> Path:
    """Where a warehouse's mirrored objects live: ``<warehouse>.objects/`` beside it."""
    return warehouse_path.with_name(warehouse_path.name + ".objects")


def annotate(entries: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    """Manifest entries (``{path, ...}``) with ``url`` and ``etag`` added for mirrored files,
    so the stored manifest names the object each file was copied from."""
    mirrored = [e for e in entries if Path(e["path"]).is_relative_to(root)]
    if not mirrored:
        return entries
    try:
        index = json.loads((root / INDEX).read_text())
    except (OSError, ValueError):
        return entries
    local = {
        str(root / name.replace("://", "/", 1)): (v.get("url", name), v.get("etag"))
        for name, v in index.items()
    }
    out = []
    for entry in entries:
        found = local.get(str(entry["path"]))
        out.append({**entry, "url": found[0], "etag": found[1]} if found else entry)
    return out


def localize(
    paths: list[Any],
    root: Path,
    key: str,
    count: Callable[[str, int], None],
    keep: Callable[[str], bool] | None = None,
    settings: Settings | None = None,
) -> list[Path]:
    """``paths`` with every object storage URL replaced by its mirrored local path (or glob)."""
    if not any(urls.is_url(p) for p in paths):
        return [Path(p) for p in paths]
    mirror = Mirror(root, count, settings or Settings())
    with quiet_credentials():
        return [mirror.localize(p, key, keep) if urls.is_url(p) else Path(p) for p in paths]
