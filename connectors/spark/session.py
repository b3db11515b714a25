"""Getting a Spark session from a log's ``[sources.spark]`` settings, with errors a user can act
on: pyspark missing, Java missing, a master or Spark Connect server that does not answer.

Sessions are kept per settings for the life of the process (Spark allows one classic session
per process anyway, and starting one costs seconds). Every session reads and writes times in
UTC (``spark.sql.session.timeZone``), as the warehouse does.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any
from urllib.parse import urlparse

from mlreport.connectors.predictions.options import SparkOptions
from mlreport.engines import EngineError

log = logging.getLogger("mlreport.spark")

INSTALL_HINT = "pip install 'mlreport[spark]'"
FIXED_CONF = {"spark.sql.session.timeZone": "UTC"}
LOCAL_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}

_sessions: dict[tuple, Any] = {}
_lock = threading.Lock()


def settings_key(opts: SparkOptions) -> tuple:
    return (opts.master, opts.remote, tuple(sorted((k, str(v)) for k, v in opts.conf.items())))


def describe(opts: SparkOptions) -> str:
    """How messages name the connection (a Spark Connect URL's token is never shown)."""
    if opts.remote is not None:
        url = urlparse(opts.remote)
        return f"Spark Connect {url.scheme}://{url.hostname}:{url.port or 15002}"
    return f"Spark master {opts.master or 'local[*]'}"


def get_session(opts: SparkOptions, key: str) -> Any:
    """The session for ``opts`` (started once); ``key`` names the config key in errors."""
    ident = settings_key(opts)
    with _lock:
        session = _sessions.get(ident)
        if session is None:
            session = _start(opts, key)
            _sessions[ident] = session
        return session


def _start(opts: SparkOptions, key: str) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            f'{key}: engine "spark" needs pyspark, which is not installed; run {INSTALL_HINT}'
        ) from None
    _check_reachable(opts, key)
    builder = SparkSession.builder
    if opts.remote is not None:
        builder = builder.remote(opts.remote)
    else:
        builder = builder.master(opts.master or "local[*]")
        for name, value in LOCAL_CONF.items():
            if name not in opts.conf:
                builder = builder.config(name, value)
    for name, value in {**opts.conf, **FIXED_CONF}.items():
        builder = builder.config(name, str(value).lower() if isinstance(value, bool) else value)
    try:
        session = builder.getOrCreate() if opts.remote is None else builder.create()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        session.sql("SELECT 1").collect()
    except Exception as exc:  # pyspark raises many kinds; the message is what helps
        raise EngineError(
            f"{key}: cannot start {describe(opts)}: {first_line(exc)}{_hint(exc)}"
        ) from None
    log.info("%s: started %s (Spark %s)", key, describe(opts), session.version)
    return session


def _check_reachable(opts: SparkOptions, key: str) -> None:
    """Fail fast on a host:port that does not answer (Spark's own clients retry for minutes)."""
    target = opts.remote or opts.master or ""
    url = urlparse(target)
    if url.scheme not in ("sc", "spark") or not url.hostname:
        return
    port = url.port or (15002 if url.scheme == "sc" else 7077)
    try:
        with socket.create_connection((url.hostname, port), timeout=opts.connect_timeout):
            pass
    except OSError as exc:
        raise EngineError(
            f"{key}: {describe(opts)} does not answer at {url.hostname}:{port} "
            f"({exc.strerror or exc}); start it or fix `{_option(opts)}`"
        ) from None


def _option(opts: SparkOptions) -> str:
    return "spark.remote" if opts.remote is not None else "spark.master"


def _hint(exc: BaseException) -> str:
    text = str(exc)
    if "JAVA_HOME" in text or "Java gateway" in text or "java" in text.lower().split():
        return " (Spark needs Java 17 or later: install it, e.g. default-jre-headless)"
    return ""


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a Spark error (they carry JVM stack traces)."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            return line[:500]
    return type(exc).__name__


def stop(opts: SparkOptions) -> None:
    """Stop the session of ``opts`` if one was started (before its Connect server goes away:
    a Connect client stopping against a dead server retries for minutes)."""
    with _lock:
        session = _sessions.pop(settings_key(opts), None)
    if session is not None:
        with contextlib.suppress(Exception):  # stopping is best effort
            session.stop()


def stop_all() -> None:
    """Stop every session started here (tests and the benchmark call it at exit)."""
    with _lock:
        for session in _sessions.values():
            with contextlib.suppress(Exception):  # stopping is best effort
                session.stop()
        _sessions.clear()
