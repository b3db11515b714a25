"""``[[notifiers]]`` is checked before a run does any work; errors name ``notifiers[N].key``
and never show a URL."""

from __future__ import annotations

import pytest

from tests.notify.conftest import HOOK_TOKEN

DAY1 = "2026-03-10T00:00:00Z"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'url = "json://h/x"\non = "sometimes"',
            "notifiers[0].on: Input should be 'always', 'failure' or 'change' (got 'sometimes')",
        ),
        ('on = "always"', "notifiers[0].url: Field required"),
        ('url = "json://h/x"\nurll = "x"', "notifiers[0].urll: unknown key (did you mean `url`?)"),
        (
            f'url = "hooks.example.com/{HOOK_TOKEN}"',
            "notifiers[0].url: Value error, expected an apprise URL such as json://host/path",
        ),
        (
            f'url = "nosuchservice://{HOOK_TOKEN}"',
            "notifiers[0]: url: the 'nosuchservice' URL is not one apprise knows, or it is "
            "incomplete",
        ),
        (
            'type = "pager"\nurl = "json://h/x"',
            "notifiers[0].type: unknown notifier 'pager' (known: apprise",
        ),
        ('url = "json://h/x"\nattempts = 0', "notifiers[0].attempts: Input should be greater"),
        (
            'url = "json://h/x"\ntitle = "${HOOK_URL}"',
            "notifiers[0].title: ${VAR} is only for credentials",
        ),
        ('url = "${NOT_SET_ANYWHERE}"', "notifiers[0].url: environment variable NOT_SET_ANYWHERE"),
    ],
)
def test_bad_notifier_entries_fail_the_run_before_any_work(nightly, monkeypatch, entry, expected):
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:9/{HOOK_TOKEN}")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    nightly.config(f"[[notifiers]]\n{entry}\n")
    result = nightly.run(DAY1)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert HOOK_TOKEN not in result.stderr
    assert not (nightly.root / "out").exists()  # nothing synced, computed or written


def test_a_literal_url_works_and_notifier_defaults(nightly, http_receiver):
    nightly.config(f'[[notifiers]]\nurl = "{http_receiver.url()}"\non = "always"\n')
    assert nightly.run(DAY1).exit_code == 0
    assert len(http_receiver.posts) == 1


def test_the_default_on_is_failure(nightly, http_receiver):
    nightly.config(f'[[notifiers]]\nurl = "{http_receiver.url()}"\n')
    assert nightly.run(DAY1).exit_code == 0
    assert http_receiver.posts == []  # ok run: nothing to say
