"""A family may declare a glob (``usage.*``) for metric names its config chooses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlreport.metrics import (
    MetricFamily,
    MetricInfo,
    MetricRequest,
    _as_frame,
    _checked,
    name_matches,
)


class Globbed(MetricFamily):
    name = "globbed"
    metrics = (MetricInfo("globbed.*", "x", "config-named"), MetricInfo("other.fixed", "x", "y"))


def rows(*names: str):
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return _as_frame(
        [
            {
                "metric": n,
                "entity": "e",
                "window_start": t,
                "window_end": t,
                "dimensions": {},
                "value": 1.0,
                "unit": "x",
                "n": 1,
            }
            for n in names
        ]
    )


def test_names_under_a_declared_glob_are_accepted_others_refused():
    assert _checked(rows("globbed.requests", "other.fixed"), Globbed).height == 2
    with pytest.raises(ValueError, match="undeclared metrics other.free"):
        _checked(rows("globbed.requests", "other.free"), Globbed)


@pytest.mark.parametrize(
    ("pattern", "wanted"),
    [
        ("globbed.requests", True),
        ("globbed.*", True),
        ("*", True),
        ("glob*", True),
        ("other.fixed", True),
        ("other.free", False),
        ("globbedx", False),
    ],
)
def test_requests_meet_declared_globs(pattern, wanted):
    assert MetricRequest(pattern, ()).wants(Globbed) is wanted


def test_plain_names_match_as_before():
    assert name_matches("dora.lead_time", "dora.*")
    assert not name_matches("dora.lead_time", "dora.lead")
