"""The built-in ``focus`` source: FinOps FOCUS 1.0-1.2 cost exports (CSV, gzip CSV, Parquet;
AWS Data Exports and Azure export layouts, or plain files) as a warehouse view.

This package is the plugin module (``DEFAULT_PLUGINS``); it only registers the source. Modules:
``options`` (config keys), ``layout`` (which files are current: manifests and re-deliveries),
``checks`` (validating a file, naming its line and column), ``views`` (the SQL of the view and
of ``cost_rows``), ``source`` (``FocusSource``: fingerprints, cursor, the ``cost_exports`` row).
"""

from __future__ import annotations

from collections.abc import Callable

from mlreport import hookimpl
from mlreport.connectors.focus.source import FocusSource
from mlreport.sources import Source

__all__ = ["FocusSource", "register_sources"]


@hookimpl
def register_sources(register: Callable[[str, type[Source]], None]) -> None:
    register("focus", FocusSource)
