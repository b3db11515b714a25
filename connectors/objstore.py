"""Object storage paths (``s3://bucket/key``, globs allowed) for the file-reading sources.

A source's ``path`` may name objects in S3 (or an S3-compatible store). Before a sync reads
anything, :func:`localize` lists the objects the URL names and keeps a local mirror of them
under the warehouse's ``<name>.objects/`` folder: an object is downloaded only when its ETag
(or size) differs from the mirrored copy's, so a sync over unchanged objects reads no object
and DuckDB then scans local files at disk speed. A mirrored file is rewritten (new mtime) only
when its object changed, so the sources' own size-and-mtime fingerprints see exactly the
object changes (even a same-size replacement within one second: the ETag decides).

Credentials come only from boto3's standard chain (environment, shared profile, web identity,
instance metadata); no config key takes a secret, and no message includes one. ``gs://``,
``az://`` and ``abfs://`` are recognised and refused with a clear message: they are not built.
See docs/sources-object-storage.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from mlreport.atomic import write_atomically
from mlreport.connectors.globs import is_glob
from mlreport.sources import SourceError

SCHEMES = ("s3://",)
UNBUILT = ("gs://", "az://", "abfs://", "abfss://")
INDEX = "index.json"
CHUNK = 1 << 20


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(SCHEMES + UNBUILT)


def _check_url(value: str) -> str:
    low = value.lower()
    if low.startswith(UNBUILT):
        scheme = value.split("://", 1)[0]
        raise ValueError(
            f"{scheme}:// paths are not supported yet (only s3:// and S3-compatible stores); "
            "copy the files to S3 or to a local folder"
        )
    if not low.startswith(SCHEMES):
        raise ValueError("an object storage URL starts with s3://")
    bucket, _, key = value[5:].partition("/")
    if not bucket or is_glob(bucket):
        raise ValueError(f"{value}: name a bucket after s3:// (no wildcards in the bucket)")
    if "@" in bucket or ":" in bucket:
        shown = "s3://***@" + bucket.rsplit("@", 1)[-1] + "/" + key
        raise ValueError(
            f"{shown}: credentials never go in the URL; they come from the environment, "
            "the AWS profile or the workload identity"
        )
    return value


def check_urls(value: Any) -> Any:
    """A ``before`` validator: a bad or unsupported URL is refused by name (it would otherwise
    fall through to the local-path type and be reported as a missing file)."""
    for item in value if isinstance(value, list) else [value]:
        if is_url(item):
            _check_url(item)
    return value


ObjectURL = Annotated[str, AfterValidator(_check_url)]
"""A config value naming objects: ``s3://bucket/prefix``, ``s3://bucket/logs/**/*.parquet``."""


@dataclass(frozen=True)
class Remote:
    """One listed object."""

    key: str
    etag: str
    size: int


def split(url: str) -> tuple[str, str]:
    """``(bucket, key or pattern)`` of an ``s3://`` URL."""
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A key pattern as a regex: ``**`` any folders, ``*`` and ``?`` within one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def safe_key(key: str) -> bool:
    """Whether ``key`` maps to a path inside the mirror (no ``.``/``..`` segment, not absolute)."""
    return not key.startswith("/") and not any(p in (".", "..") for p in key.split("/"))


def literal_prefix(pattern: str) -> str:
    """The folders before the first wildcard segment (the S3 listing prefix)."""
    parts = pattern.split("/")
    first = next((i for i, p in enumerate(parts) if is_glob(p)), len(parts))
    return "/".join(parts[:first]) + ("/" if first < len(parts) else "")


class Mirror:
    """The local copies of objects under one folder, with the ETags they were copied at."""

    def __init__(self, root: Path, count: Callable[[str, int], None]) -> None:
        self.root = root
        self.count = count
        self._client: Any = None
        try:
            self.index: dict[str, dict[str, Any]] = json.loads((root / INDEX).read_text())
        except (OSError, ValueError):
            self.index = {}

    def local(self, bucket: str, key: str) -> Path:
        return self.root / "s3" / bucket / key

    def localize(self, url: str, key: str, keep: Callable[[str], bool] | None = None) -> Path:
        """The local path standing for ``url`` after its objects are mirrored (a glob stays a
        glob, over the mirror)."""
        bucket, pattern = split(url)
        if not safe_key(pattern):
            raise SourceError(f"{key}: {url}: `.` and `..` segments are not allowed in a key")
        objects = self._matching(url, key, bucket, pattern)
        for obj in objects:
            if not safe_key(obj.key):  # it would be written outside the mirror
                raise SourceError(
                    f"{key}: {url}: the key {obj.key!r} has `.` or `..` segments or a leading "
                    "`/` and cannot be mirrored; rename the object or narrow `path`"
                )
        if keep is not None:
            objects = [o for o in objects if keep(o.key)]
        if not objects:
            raise SourceError(f"{key}: no object matches {url} (check the bucket and prefix)")
        wanted = {o.key for o in objects}
        for obj in objects:
            self._fetch(url, key, bucket, obj)
        self._forget(bucket, pattern, wanted)
        write_atomically(self.root / INDEX, json.dumps(self.index, sort_keys=True).encode())
        return self.local(bucket, pattern.rstrip("/")) if pattern else self.root / "s3" / bucket

    # -- listing ---------------------------------------------------------------------------

    def _matching(self, url: str, key: str, bucket: str, pattern: str) -> list[Remote]:
        if is_glob(pattern):
            regex = pattern_regex(pattern)
            listed = self._list(url, key, bucket, literal_prefix(pattern))
            return [o for o in listed if regex.match(o.key)]
        exact = [o for o in self._list(url, key, bucket, pattern) if o.key == pattern]
        if exact:
            return exact
        folder = pattern.rstrip("/") + "/" if pattern else ""
        return [o for o in self._list(url, key, bucket, folder) if not o.key.endswith("/")]

    def _list(self, url: str, key: str, bucket: str, prefix: str) -> list[Remote]:
        client = self._s3(key)
        out = []
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    out.append(
                        Remote(
                            item["Key"],
                            str(item.get("ETag", "")).strip('"'),
                            int(item["Size"]),
                        )
                    )
        except Exception as exc:
            raise SourceError(f"{key}: {url}: {explain(exc, bucket)}") from None
        return out

    # -- copying ---------------------------------------------------------------------------

    def _fetch(self, url: str, key: str, bucket: str, obj: Remote) -> None:
        path = self.local(bucket, obj.key)
        name = f"s3://{bucket}/{obj.key}"
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
            body = self._s3(key).get_object(Bucket=bucket, Key=obj.key, IfMatch=f'"{obj.etag}"')
            with open(tmp, "wb") as out:
                for chunk in body["Body"].iter_chunks(CHUNK):
                    out.write(chunk)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise SourceError(f"{key}: {name}: {explain(exc, bucket)}") from None
        os.replace(tmp, path)  # a fresh mtime: the source's size-and-mtime check sees the change
        self.index[name] = {"etag": obj.etag, "size": obj.size}
        self.count("objects_downloaded", 1)
        self.count("object_bytes", obj.size)

    def _forget(self, bucket: str, pattern: str, wanted: set[str]) -> None:
        """Remove mirrored copies of objects under this URL that the store no longer has."""
        regex = pattern_regex(pattern) if is_glob(pattern) else None
        base = f"s3://{bucket}/"
        for name in list(self.index):
            if not name.startswith(base):
                continue
            obj = name[len(base) :]
            inside = (
                regex.match(obj)
                if regex
                else (
                    obj == pattern or obj.startswith(pattern.rstrip("/") + "/" if pattern else "")
                )
            )
            if inside and obj not in wanted:
                self.local(bucket, obj).unlink(missing_ok=True)
                del self.index[name]

    def _s3(self, key: str) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise SourceError(
                    f"{key}: s3:// paths need boto3: pip install 'mlreport[s3]'"
                ) from None
            self._client = boto3.session.Session().client("s3")
        return self._client


def explain(exc: BaseException, bucket: str) -> str:
    """A one-line reason for a failed S3 call, without anything from the credentials."""
    name = type(exc).__name__
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return f"the bucket {bucket!r} does not exist (check the name, region and endpoint)"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return (
            f"the AWS credentials were refused ({code}); renew them in the environment or profile"
        )
    if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
        return (
            "access denied: the credentials from the environment or AWS profile may not "
            "list or read these objects (check the IAM policy)"
        )
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return (
            f"the AWS credentials were refused ({code}); renew them in the environment or profile"
        )
    if code in ("PreconditionFailed", "412"):
        return "the object changed while it was read; run the sync again"
    if code in ("NoSuchKey", "404"):
        return "the object is gone (deleted while the sync ran); run the sync again"
    if name == "NoCredentialsError":
        return (
            "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
            "AWS_PROFILE, or run with a workload identity)"
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return "cannot reach the object store (check AWS_ENDPOINT_URL, the region and network)"
    return f"object storage request failed ({code or name})"


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
    local = {str(root / "s3" / name[5:]): (name, v.get("etag")) for name, v in index.items()}
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
) -> list[Path]:
    """``paths`` with every ``s3://`` URL replaced by its mirrored local path (or glob)."""
    if not any(is_url(p) for p in paths):
        return [Path(p) for p in paths]
    mirror = Mirror(root, count)
    return [mirror.localize(p, key, keep) if is_url(p) else Path(p) for p in paths]
