"""Object storage URLs: which store, bucket (or Azure account and container) and key pattern a
``path`` names, and the key-pattern helpers every store shares."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mlreport.connectors.globs import is_glob

SCHEMES = ("s3://", "gs://", "az://", "abfs://", "abfss://")
AZURE_ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT_NAME"


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(SCHEMES)


@dataclass(frozen=True)
class Location:
    """Where a URL points. ``bucket`` is the S3/GCS bucket or the Azure container; ``account``
    the Azure storage account (None until known: ``az://`` URLs take it from the source's
    options or the environment); ``host`` the ``abfs://`` URL's endpoint host."""

    scheme: str  # "s3", "gs" or "az" (abfs/abfss are az)
    bucket: str
    pattern: str
    account: str | None = None
    host: str | None = None
    given: str = ""  # the scheme as written (abfss, abfs, az, s3, gs)

    def name(self, key: str) -> str:
        """The object's name in the mirror index (and its folder under the mirror root)."""
        if self.scheme == "az":
            return f"az://{self.account}/{self.bucket}/{key}"
        return f"{self.scheme}://{self.bucket}/{key}"

    def url(self, key: str) -> str:
        """The object's URL in the form the config wrote it."""
        if self.host:
            return f"{self.given}://{self.bucket}@{self.host}/{key}"
        return f"{self.given}://{self.bucket}/{key}"

    def with_account(self, account: str) -> Location:
        return Location(self.scheme, self.bucket, self.pattern, account, self.host, self.given)


def parse(url: str) -> Location:
    """A URL's location, or ValueError saying what is wrong with it (never echoing a
    credential someone put in it)."""
    given, _, rest = url.partition("://")
    given = given.lower()
    if given not in ("s3", "gs", "az", "abfs", "abfss"):
        raise ValueError("an object storage URL starts with s3://, gs://, az:// or abfs://")
    authority, _, pattern = rest.partition("/")
    what = "container" if given in ("az", "abfs", "abfss") else "bucket"
    user, at, host = authority.rpartition("@")
    if at and (given in ("s3", "gs", "az") or ":" in user):
        raise ValueError(
            f"{given}://***@{host}/{pattern}: credentials never go in the URL; they come from "
            "the environment, the cloud's profile or login, or the workload identity"
        )
    if given in ("abfs", "abfss") and at:
        account = host.split(".", 1)[0]
        if not user or not account or is_glob(user):
            raise ValueError(f"{url}: write abfs://<container>@<account>.dfs.core.windows.net/")
        return Location("az", user, pattern, account, host, given)
    if not authority or is_glob(authority) or ":" in authority:
        raise ValueError(f"{url}: name a {what} after {given}:// (no wildcards in the {what})")
    scheme = "az" if given in ("abfs", "abfss") else given
    return Location(scheme, authority, pattern, None, None, given)


def check_url(value: str) -> str:
    parse(value)
    return value


def azure_account(loc: Location, option: str | None, connection: str | None) -> str | None:
    """The storage account of an Azure URL: from an abfs host, the source's ``azure_account``,
    the connection string's AccountName, or AZURE_STORAGE_ACCOUNT_NAME."""
    if loc.account:
        return loc.account
    if option:
        return option
    if connection:
        found = re.search(r"(?:^|;)\s*AccountName=([^;]+)", connection)
        if found:
            return found.group(1).strip()
    return os.environ.get(AZURE_ACCOUNT_ENV) or None


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
    """Whether ``key`` maps to a path inside the mirror (no ``.``/``..`` segment, not absolute,
    no backslash or NUL that a file system could read as a separator or end)."""
    if key.startswith("/") or "\\" in key or "\0" in key:
        return False
    return not any(p in (".", "..") for p in key.split("/"))


def literal_prefix(pattern: str) -> str:
    """The folders before the first wildcard segment (the listing prefix)."""
    parts = pattern.split("/")
    first = next((i for i, p in enumerate(parts) if is_glob(p)), len(parts))
    return "/".join(parts[:first]) + ("/" if 0 < first < len(parts) else "")
