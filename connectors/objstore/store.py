"""What every object store module provides: a listing by prefix, a conditional download and a
one-line reason for a failed call. The mirror (mirror.py) knows nothing else about a cloud."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """One listed object: its key, its version tag (S3/Azure ETag, GCS generation) and size."""

    key: str
    etag: str
    size: int


class Store(Protocol):
    def list(self, prefix: str) -> list[Remote]:
        """Every object whose key starts with ``prefix`` (folder markers left out)."""

    def download(self, obj: Remote, out: BinaryIO) -> None:
        """Write the object's bytes, only if it still has the listed version (else raise)."""

    def explain(self, exc: BaseException) -> str:
        """Why a call failed, in one line, with nothing from the credentials."""
