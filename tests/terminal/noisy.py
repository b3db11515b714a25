"""A third-party-style source that behaves like a chatty library: it emits a Python warning and
a warning on its own logger, or fails the way a bug does. Registered by the tests' subprocesses."""

from __future__ import annotations

import logging
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Literal

import polars as pl

from mlreport import hookimpl
from mlreport.sources import Checkpoint, Rows, Source, SourceError, SourceOptions, Stream

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class NoisyOptions(SourceOptions):
    mode: Literal["quiet", "warn", "bug", "multiline"] = "quiet"
    rows: int = 30


class NoisySource(Source):
    Options = NoisyOptions

    def streams(self):
        return [Stream("deploys", "deployments", ("source", "deployment_id"), "entity")]

    def read(self, stream, cursor):
        if self.options.mode == "warn":
            warnings.warn("noisylib: glyph table pruned while subsetting", stacklevel=1)
            logging.getLogger("noisylib.subset").warning("noisylib: 3 glyphs dropped")
        if self.options.mode == "multiline":
            raise SourceError("noisy: the feed said\n\n  line one\n  line two")
        if self.options.mode == "bug":
            raise RuntimeError("noisy source tripped over its own feet")
        for i in range(self.options.rows):
            time.sleep(0.02)  # long enough for a progress display to draw
            frame = {
                "deployment_id": [f"n{i}"],
                "entity": ["noisy-svc"],
                "environment": ["production"],
                "finished_at": [T0 + timedelta(hours=i)],
                "status": ["success"],
            }
            yield Rows(pl.DataFrame(frame))
        yield Checkpoint(self.options.rows)

    def check(self):
        return "ok"


@hookimpl
def register_sources(register):
    register("noisy", NoisySource)
