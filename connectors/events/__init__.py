"""The built-in ``events`` source: deployments and incidents from CSV, JSON lines or CDEvents.

This package is the plugin module (``DEFAULT_PLUGINS``); it only registers the source. The
work is split by job, each module importing only those before it:

- ``canonical``: the deployments/incidents columns and the validation of rows against them;
- ``files``: finding files and reading CSV / JSON lines into text frames, naming bad lines;
- ``cdevents``: mapping CDEvents to canonical rows (rollbacks, incident resolutions);
- ``source``: the ``EventsSource``, its options, streams and per-file cursor.
"""

from __future__ import annotations

from collections.abc import Callable

from mlreport import hookimpl
from mlreport.connectors.events.source import EventsSource
from mlreport.sources import Source


@hookimpl
def register_sources(register: Callable[[str, type[Source]], None]) -> None:
    register("events", EventsSource)
