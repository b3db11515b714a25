"""Delivery that fails (a receiver answering 500, a receiver that is down, a notifier that
raises) is retried with backoff, logged without the secret, and never changes the reports or
the exit code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlreport.changes import Changes
from mlreport.config import parse_config
from mlreport.metric_store import StoredRun
from mlreport.notifications import Notifier, deliver, message, notify_all, should_send
from mlreport.pipeline import RunOutcome
from mlreport.policies import PolicyResult
from tests.notify.conftest import HOOK_TOKEN, free_port, incident

DAY1 = "2026-03-10T00:00:00Z"


def hook_config(world, url_var: str = "HOOK_URL", extra: str = "") -> None:
    world.config(f'[[notifiers]]\nurl = "${{{url_var}}}"\non = "always"\nbackoff = 0\n{extra}')


def test_a_500_is_retried_logged_without_the_secret_and_the_exit_code_is_kept(
    nightly, http_receiver, monkeypatch
):
    http_receiver.status = 500
    monkeypatch.setenv("HOOK_URL", http_receiver.url())
    hook_config(nightly)
    result = nightly.run(DAY1, "-vv")
    assert result.exit_code == 0, result.output  # as without a notifier: the policy passes
    assert len(http_receiver.posts) == 3  # attempts = 3 by default
    assert "notifiers[0] (apprise): delivery failed (attempt 1 of 3), retrying in 0s" in (
        result.stderr
    )
    assert (
        "notifiers[0] (apprise): delivery failed after 3 attempts; the reports are written and "
        "the exit code is unchanged: Failed to send JSON POST notification: Internal server "
        "error., error=500." in result.stderr
    )
    assert HOOK_TOKEN not in result.stderr + result.stdout + nightly.output_text()
    assert (nightly.root / "out" / "2026-03-10" / "delivery.json").exists()


def test_a_receiver_that_is_down_is_retried_and_a_failing_run_still_exits_1(nightly, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/hook/{HOOK_TOKEN}")
    hook_config(nightly, extra="attempts = 2")
    nightly.append("incidents.csv", incident(1, 5, "d4"))
    result = nightly.run(DAY1, "-vv")
    assert result.exit_code == 1, result.output  # the policy failure, not the delivery
    assert "delivery failed (attempt 1 of 2)" in result.stderr
    assert "delivery failed after 2 attempts" in result.stderr
    assert "A Connection error occurred sending JSON notification to ***." in result.stderr
    assert HOOK_TOKEN not in result.stderr + result.stdout + nightly.output_text()
    assert str(port) not in result.stderr  # no part of the URL, not even its port


class Flaky:
    """A notifier failing ``fails`` times (raising, then refusing), then sending."""

    def __init__(self, fails: int) -> None:
        self.fails, self.calls = fails, 0
        self.last_error = "the service said no to token s3cr3t"

    def notify(self, outcome):
        self.calls += 1
        if self.calls > self.fails:
            return True
        if self.calls == 1:
            raise ConnectionError("reset by peer while sending s3cr3t")
        return False


def _config(tmp_path: Path, monkeypatch, **keys):
    monkeypatch.setenv("TOKEN", "s3cr3t")
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    text = f'[[notifiers]]\ntype = "flaky"\nsecret = "${{TOKEN}}"\n{body}'
    return parse_config(text, tmp_path / "mlreport.toml", tmp_path)


def _outcome(failed: bool = False, changes: Changes | None = None) -> RunOutcome:
    outcome = RunOutcome(datetime(2026, 3, 10, tzinfo=UTC), Path("out/2026-03-10"))
    if failed:
        outcome.policies = [PolicyResult("m.x", "svc", {}, 2.0, None, 1.0, "error", False)]
    outcome.changes = changes
    return outcome


def test_retries_wait_with_doubling_backoff_and_redact_errors(tmp_path, monkeypatch, caplog):
    config = _config(tmp_path, monkeypatch, attempts=4, backoff=1.5)
    flaky = Flaky(fails=3)
    waits: list[float] = []
    n = Notifier(0, config.notifiers[0], flaky)
    assert deliver(n, _outcome(), config, waits.append) == "sent"
    assert flaky.calls == 4 and waits == [1.5, 3.0, 6.0]
    logged = caplog.text
    assert "reset by peer while sending ***" in logged
    assert "the service said no to token ***" in logged
    assert "s3cr3t" not in logged


def test_a_notifier_failing_every_attempt_returns_its_error(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, attempts=2, backoff=0)
    n = Notifier(0, config.notifiers[0], Flaky(fails=5))
    assert deliver(n, _outcome(), config, lambda s: None) == "the service said no to token ***"


@pytest.mark.parametrize(
    ("on", "failed", "changed", "sent"),
    [
        ("always", False, False, True),
        ("failure", False, True, False),
        ("failure", True, False, True),
        ("change", True, False, False),
        ("change", False, True, True),
    ],
)
def test_on_decides_when_to_send(on, failed, changed, sent):
    after = StoredRun("b", None, [], {}, [])
    changes = Changes(StoredRun("a", None, [], {}, []), after)
    if changed:
        changes.resolved_failures = [{"metric": "m.x"}]
    assert should_send(on, _outcome(failed, changes)) is sent


def test_change_sends_on_a_first_run_and_on_errors():
    first = Changes(None, StoredRun("b", None, [], {}, []))
    assert should_send("change", _outcome(changes=first))
    quiet = Changes(StoredRun("a", None, [], {}, []), StoredRun("b", None, [], {}, []))
    outcome = _outcome(changes=quiet)
    assert not should_send("change", outcome)
    outcome.report_errors = ["report delivery: broken"]
    assert should_send("change", outcome) and should_send("failure", outcome)


def test_skipped_notifiers_are_reported_as_skipped(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, on='"failure"')
    flaky = Flaky(fails=0)
    results = notify_all([Notifier(0, config.notifiers[0], flaky)], _outcome(), config)
    assert results == {"notifiers[0] (flaky)": "skipped"} and flaky.calls == 0


def test_the_message_lists_errors_and_links_reports_under_report_url():
    outcome = _outcome(failed=True)
    outcome.report_errors = [f"report r{i}: broken" for i in range(12)]
    outcome.outputs = {"delivery": {"html": Path("out/2026-03-10/delivery.html")}}
    title, body = message(outcome, None, "https://reports.example.com/ml/")
    assert title == "mlreport: errors"
    assert body.splitlines() == [
        "mlreport run as of 2026-03-10T00:00:00Z: errors",
        "Policies: 0 pass, 1 fail",
        "First run: nothing to compare with yet.",
        "Errors:",
        *(f"- report r{i}: broken" for i in range(10)),
        "- and 2 more",
        "Reports:",
        "- https://reports.example.com/ml/2026-03-10/delivery.html",
    ]
