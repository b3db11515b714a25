"""The built-in ``apprise`` notifier: one URL reaches Slack, Microsoft Teams, email (SMTP),
generic JSON webhooks and a hundred other services (https://github.com/caronc/apprise).

Why apprise rather than a client per service: one maintained library, one config key (a URL)
for every service, and retries, TLS and authentication written once by people who test them
against those services. The kernel decides when to send and retries
(:mod:`mlreport.notifications`); this plugin sends one message.

The URL usually holds a credential (a webhook token, an SMTP password), so it is read as a
secret: it may come from ``${VAR}``, and neither it nor any part of it reaches a log line or
an error. apprise's own log lines (which show URLs) are captured, never passed on, and only
its warnings, redacted, become the delivery error.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mlreport import hookimpl
from mlreport.config import Config
from mlreport.notifications import message

log = logging.getLogger("mlreport.notify")

QUIET_LOGGERS = ("apprise", "urllib3")  # they log URLs (with their tokens) at debug level


class AppriseOptions(BaseModel):
    """The apprise notifier's keys in a ``[[notifiers]]`` table."""

    model_config = ConfigDict(extra="forbid")
    url: SecretStr
    title: str | None = Field(default=None, max_length=200)
    # Where the output folder is served (https://reports.example.com/mlreport): the message
    # links each report under it instead of giving its path on this machine.
    report_url: str | None = None

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: SecretStr) -> SecretStr:
        if "://" not in value.get_secret_value():
            raise ValueError(
                "expected an apprise URL such as json://host/path, mailto://user:pass@host or "
                "slack://…; see https://github.com/caronc/apprise/wiki"
            )
        return value


class AppriseNotifier:
    """Sends the run's message to one apprise URL."""

    Options = AppriseOptions

    def __init__(self, options: AppriseOptions, config: Config) -> None:
        import apprise

        self.options = options
        self.config = config
        self.last_error: str | None = None
        self._url = options.url.get_secret_value()
        self._apprise = apprise.Apprise()
        with _captured():
            added = self._apprise.add(self._url)
        if not added:
            scheme = self._url.split("://", 1)[0]
            raise ValueError(
                f"url: the {scheme!r} URL is not one apprise knows, or it is incomplete; see "
                "https://github.com/caronc/apprise/wiki for the URL of each service"
            )

    def notify(self, outcome: Any) -> bool:
        title, body = message(outcome, self.options.title, self.options.report_url)
        title, body = self.config.redact(title), self.config.redact(body)  # errors quote text
        with _captured() as captured:
            sent = bool(self._apprise.notify(body=body, title=title, body_format="text"))
        text = redact(captured.getvalue(), self._url)
        log.debug("apprise said:\n%s", text)
        if not sent:
            said = [ln.split(" - ", 2) for ln in text.splitlines()]
            warnings = [p[2] for p in said if len(p) == 3 and p[1] in ("WARNING", "ERROR")]
            self.last_error = "; ".join(warnings) or "apprise could not deliver the message"
        return sent


class _captured:
    """apprise's log lines go to a buffer only (not to mlreport's log, where ``-vv`` would
    show the URL); urllib3's debug lines (which name the URL's path) are held back too."""

    def __enter__(self):
        import apprise

        self._saved = [(n, logging.getLogger(n).propagate) for n in QUIET_LOGGERS]
        for name in QUIET_LOGGERS:
            logging.getLogger(name).propagate = False
        self._capture = apprise.LogCapture(level=logging.DEBUG)
        return self._capture.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._capture.__exit__(*exc)
        for name, propagate in self._saved:
            logging.getLogger(name).propagate = propagate


def redact(text: str, url: str) -> str:
    """``text`` without the URL or any part of it (user, password, host, port, path segments,
    query values): a Slack or Teams webhook carries its token in the path."""
    parts = {url, unquote(url)}
    split = urlsplit("x://" + url.split("://", 1)[-1])
    port = str(split.port) if _has_port(split) else None
    pieces = [split.username, split.password, split.hostname, split.netloc, port]
    pieces += split.path.split("/") + [v for _, v in parse_qsl(split.query)]
    for piece in pieces:
        for token in (piece or "", unquote(piece or "")):
            if len(token) >= 3:
                parts.add(token)
    for part in sorted(parts, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])", "***", text)
    return text


def _has_port(split: Any) -> bool:
    try:
        return split.port is not None
    except ValueError:  # not a number: it stays part of the netloc, which is redacted
        return False


@hookimpl
def register_notifiers(register):
    register("apprise", AppriseNotifier)
