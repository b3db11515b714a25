"""The built-in ``predictions`` source: a prediction log exposed as a warehouse view.

This package is the plugin module (``DEFAULT_PLUGINS``); it only registers the source. The
work lives in ``source`` (the ``PredictionsSource``) and ``files`` (finding, fingerprinting
and naming the log's files to DuckDB).
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
