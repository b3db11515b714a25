"""What a stream's cursor holds: a format version and short digests of what was written.

An item is written again only when its digest changes; a cursor of another version is read
as no cursor (everything is read again)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

log = logging.getLogger("mlreport.mlflow")

CURSOR_VERSION = 1
CHECKPOINT_SECONDS = 5.0  # a cursor holds a digest per run: writing it after every batch
# made a sync quadratic in the number of runs (~4 s of JSON at 10,000 runs), so it is written
# at most this often, and at the end.


class Pacer:
    """True at most once per ``seconds``: when the next checkpoint is due."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def read_cursor(cursor: Any, stream: str) -> dict:
    if cursor is None:
        return {}
    if not isinstance(cursor, dict) or cursor.get("v") != CURSOR_VERSION:
        log.warning("mlflow %s: cursor of an older format; reading everything again", stream)
        return {}
    return cursor
