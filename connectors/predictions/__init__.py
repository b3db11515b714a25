"""The built-in ``predictions`` source: a prediction log exposed as a warehouse view, not copied.

This package is the plugin module (``DEFAULT_PLUGINS``); it only registers the source. The
work is split by job, each module importing only those before it:

- ``files``: finding the log's files, fingerprinting them (sha256) and naming them to DuckDB;
- ``options``: the option models and their validators;
- ``views``: the SQL of the log's view, its reference view and the canonical ``predictions``
  view, bound and checked on a scratch connection;
- ``source``: the ``PredictionsSource``, its stream, inputs and ``prediction_logs`` row.
"""

from __future__ import annotations

from collections.abc import Callable

from mlreport import hookimpl
from mlreport.connectors.predictions.source import PredictionsSource
from mlreport.sources import Source

__all__ = ["PredictionsSource", "register_sources"]


@hookimpl
def register_sources(register: Callable[[str, type[Source]], None]) -> None:
    register("predictions", PredictionsSource)
