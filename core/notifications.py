"""Telling people how ``mlreport run`` went: which ``[[notifiers]]`` to call, the message,
retries.

The kernel owns what is common to every notifier: ``on`` (when to send), the short message
(outcome, policy failures new and resolved since the previous run, the reports), and
delivery with retries and backoff. A notifier plugin only delivers a title and body. A
delivery that fails for good is logged, without the notifier's settings (they are secrets),
and never fails the reports or changes the run's exit code: the reports are the product, the
message is a courtesy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlreport import CONFIG_NAME
from mlreport.config import Config, ConfigError, NotifierConfig, validate_options
from mlreport.times import iso

if TYPE_CHECKING:
    from mlreport.pipeline import RunOutcome

log = logging.getLogger("mlreport.notify")

LISTED = 10  # failures listed in a message before "and N more"


@dataclass
class Notifier:
    """One configured notifier: where it is in the config, its common settings, the plugin's
    instance."""

    index: int
    config: NotifierConfig
    instance: Any

    @property
    def label(self) -> str:
        return f"notifiers[{self.index}] ({self.config.type})"


def build_notifiers(config: Config) -> list[Notifier]:
    """Every ``[[notifiers]]`` entry, validated before the run does any work: an unknown type
    or a bad key fails with its ``notifiers[N].key``. A notifier class with an ``Options``
    model gets its options validated (``${VAR}`` only in its ``SecretStr`` keys)."""
    from mlreport.plugin_manager import PluginError, get_plugins

    built = []
    for index, nc in enumerate(config.notifiers):
        where = f"{config.file or CONFIG_NAME}: notifiers[{index}]"
        try:
            cls = get_plugins().notifiers().get(nc.type)
        except PluginError as exc:
            raise ConfigError(f"{where}.type: {exc}") from None
        options: Any = dict(nc.model_extra or {})
        model = getattr(cls, "Options", None)
        if model is not None:
            options = validate_options(model, options, config, ("notifiers", index))
        try:
            instance = cls(options, config)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: {config.redact(str(exc))}") from None
        built.append(Notifier(index, nc, instance))
    return built


def should_send(on: str, outcome: RunOutcome) -> bool:
    """``always``; ``failure``: a policy failed or something went wrong; ``change``: a
    policy outcome changed since the previous run (a first run counts), or errors."""
    if on == "always":
        return True
    if on == "failure":
        return outcome.failed or bool(outcome.errors)
    changes = outcome.changes
    return bool(outcome.errors) or changes is None or changes.changed


def notify_all(
    notifiers: list[Notifier],
    outcome: RunOutcome,
    config: Config,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Send to each notifier whose ``on`` matches; return what happened per notifier
    ("sent", "skipped", or the last error), for the log and the tests."""
    results = {}
    for n in notifiers:
        if should_send(n.config.on, outcome):
            results[n.label] = deliver(n, outcome, config, sleep)
        else:
            results[n.label] = "skipped"
            log.info("%s: nothing to send (on = %r)", n.label, n.config.on)
    return results


def deliver(
    n: Notifier, outcome: RunOutcome, config: Config, sleep: Callable[[float], None]
) -> str:
    """Try ``attempts`` times, waiting ``backoff`` seconds before the second, doubling. A
    notifier fails by returning False (its ``last_error`` says why) or raising."""
    error = "not sent"
    for attempt in range(1, n.config.attempts + 1):
        try:
            sent = n.instance.notify(outcome)
            if sent is not False:
                log.info("%s: message sent", n.label)
                return "sent"
            error = getattr(n.instance, "last_error", None) or "the service refused the message"
        except Exception as exc:  # a notifier must never cost the reports
            error = f"{type(exc).__name__}: {exc}"
        error = config.redact(str(error))
        if attempt < n.config.attempts:
            wait = n.config.backoff * 2 ** (attempt - 1)
            log.warning(
                "%s: delivery failed (attempt %d of %d), retrying in %gs: %s",
                n.label,
                attempt,
                n.config.attempts,
                wait,
                error,
            )
            sleep(wait)
    log.warning(
        "%s: delivery failed after %d attempts; the reports are written and the exit code is "
        "unchanged: %s",
        n.label,
        n.config.attempts,
        error,
    )
    return error


def status_word(outcome: RunOutcome) -> str:
    if outcome.errors:
        return "errors"
    return "policy failure" if outcome.failed else "ok"


def message(
    outcome: RunOutcome, title: str | None = None, base_url: str | None = None
) -> tuple[str, str]:
    """The title and the short plain-text body a notifier sends: the outcome, the policy
    failures new and resolved since the previous run, errors, and where the reports are."""
    status = status_word(outcome)
    title = title or f"mlreport: {status}"
    lines = [f"mlreport run as of {iso(outcome.as_of)}: {status}"]
    failing = [p for p in outcome.policies if not p.passed]
    lines.append(f"Policies: {len(outcome.policies) - len(failing)} pass, {len(failing)} fail")
    changes = outcome.changes
    if changes is None or changes.before is None:
        lines.append("First run: nothing to compare with yet.")
    else:
        prev = changes.before.scope.as_of if changes.before.scope else None
        lines.append(f"Since the previous run (as of {iso(prev)}):")
        lines += _failures("New failures", changes.new_failures, "failing_value", "other_value")
        lines += _failures(
            "Resolved failures", changes.resolved_failures, "other_value", "failing_value"
        )
        if not changes.new_failures and not changes.resolved_failures:
            lines.append("- no policy outcome changed")
    if outcome.errors:
        lines.append("Errors:")
        lines += [f"- {e}" for e in outcome.errors[:LISTED]]
        lines += _more(len(outcome.errors))
    reports = [p for outputs in outcome.outputs.values() for p in outputs.values()]
    if reports:
        lines.append("Reports:")
        lines += [f"- {link(p, outcome, base_url)}" for p in sorted(reports)]
    return title, "\n".join(lines) + "\n"


def _failures(heading: str, items: list[dict[str, Any]], now: str, then: str) -> list[str]:
    if not items:
        return []
    lines = [f"{heading}:"]
    for f in items[:LISTED]:
        dims = "".join(f", {k}={v}" for k, v in sorted(f["dimensions"].items()))
        lines.append(f"- {f['metric']} ({f['entity']}{dims}): {_num(f[now])} (was {_num(f[then])})")
    return lines + _more(len(items))


def _more(count: int) -> list[str]:
    return [f"- and {count - LISTED} more"] if count > LISTED else []


def _num(value: float | None) -> str:
    return "no value" if value is None else f"{value:.4g}"


def link(path: Path, outcome: RunOutcome, base_url: str | None) -> str:
    """A report's URL under ``base_url`` (where the output folder is served), else its path."""
    if not base_url:
        return str(path)
    return f"{base_url.rstrip('/')}/{outcome.out_dir.name}/{path.name}"
