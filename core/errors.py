"""The errors a user can fix: each carries a message naming the file, key or source and what
to do, so the CLI prints it as one line (exit 2) and a nightly run records it as it is."""

from __future__ import annotations

from mlreport.config import ConfigError
from mlreport.lock import LockHeld
from mlreport.plugin_manager import PluginError
from mlreport.reporting import ReportError
from mlreport.sources import SourceError
from mlreport.warehouse import WarehouseError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    SourceError,
    PluginError,
    WarehouseError,
    ReportError,
    LockHeld,
    ValueError,
)
