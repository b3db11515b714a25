"""The SVG charts and formatting helpers: deterministic, escaped, readable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mlreport.config import BandLevel
from mlreport.reports.charts.histogram import (
    LEAD_TIME_BINS,
    HistogramSpec,
    Marker,
    bin_counts,
    histogram_chart,
)
from mlreport.reports.charts.numbers import band_label, format_value, table_label
from mlreport.reports.charts.trend import Band, Point, Series, TrendSpec, trend_chart, y_axis
from mlreport.reports.delivery import band_segments, quantile, tone

from .conftest import HOSTILE

SVG = "{http://www.w3.org/2000/svg}"


def _trend(label: str = "Deployment frequency, svc", values=(1.0, None, 3.5, 2.0)) -> TrendSpec:
    return TrendSpec(
        label=label,
        unit="deploys/week",
        series=[
            Series("production", [Point(f"{i + 1} Apr", v, i == 0) for i, v in enumerate(values)])
        ],
        bands=[
            Band(7, None, "Elite", "best"),
            Band(1, 7, "High", "good"),
            Band(0, 1, "Low", "poor"),
        ],
        policy=("min", 1.0),
    )


def test_format_value_speaks_the_readers_units():
    assert format_value(0.5, "hours") == "30 min"
    assert format_value(26.5, "hours") == "26.5 h"
    assert format_value(30.0, "hours") == "30 h"
    assert format_value(300, "hours") == "12.5 d"
    assert format_value(0.125, "ratio") == "12.5%"
    assert format_value(0.2, "ratio") == "20%"
    assert format_value(3.0, "deploys/week") == "3 / week"
    assert format_value(0.05, "deploys/week") == "0.05 / week"
    assert format_value(1234, "count") == "1,234"
    assert format_value(None, "hours") == "—"
    assert format_value(float("nan"), "ratio") == "—"


def test_band_and_table_labels():
    assert table_label("dora-2023") == "DORA 2023"
    assert table_label("acme_internal") == "Acme Internal"
    assert band_label("high", "dora-2023") == "High · DORA 2023"
    assert band_label(None, "dora-2023") == "Not graded"


def test_axis_ticks_are_nice_in_the_displayed_unit():
    ticks, labels = y_axis("hours", 100)  # shown in days
    assert labels == ["0 d", "2 d", "4 d", "6 d"]
    assert ticks[1] == 48
    _, labels = y_axis("hours", 0.9)  # shown in minutes
    assert labels == ["0 min", "20 min", "40 min", "60 min"]
    _, labels = y_axis("ratio", 1.0)
    assert labels[-1] == "100%"
    _, labels = y_axis("deploys/week", 0)
    assert labels[0] == "0/wk"


def test_trend_chart_is_valid_accessible_and_deterministic():
    a, b = trend_chart(_trend()), trend_chart(_trend())
    assert a == b
    root = ET.fromstring(str(a))
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Deployment frequency, svc"
    assert root.find(f"{SVG}title").text == "Deployment frequency, svc"
    assert "1 Apr: 1 / week" in root.find(f"{SVG}desc").text
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "policy ≥ 1 / week" in texts
    assert {"0/wk", "2/wk", "4/wk"} <= set(texts)
    assert "High" in texts  # band label
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 3  # the null week is a gap, not a point
    assert circles[0].get("fill") == "#ffffff"  # small sample: hollow


def test_trend_chart_without_values_says_so():
    svg = str(trend_chart(_trend(values=(None, None))))
    assert "No data in this window" in svg
    ET.fromstring(svg)


def test_chart_text_is_escaped():
    svg = str(trend_chart(_trend(label=f"Deploys {HOSTILE}")))
    assert HOSTILE not in svg
    root = ET.fromstring(svg)  # still well-formed XML
    assert root.get("aria-label") == f"Deploys {HOSTILE}"
    assert not list(root.iter("img")) and not list(root.iter(f"{SVG}img"))


def test_histogram_marks_quantiles_and_bands():
    spec = HistogramSpec(
        label="Lead time, svc",
        unit="hours",
        bins=[
            (lo, hi, label, c)
            for (lo, hi, label), c in zip(LEAD_TIME_BINS, [1, 2, 9, 30, 3, 0, 0, 1], strict=True)
        ],
        markers=[Marker("median", 30.0), Marker("p90", 80.0)],
        bands=[
            Band(0, 24, "Elite", "best"),
            Band(24, 168, "High", "good"),
            Band(168, None, "Low", "poor"),
        ],
    )
    svg = histogram_chart(spec)
    assert svg == histogram_chart(spec)
    root = ET.fromstring(str(svg))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "median 30 h" in texts and "p90 3.3 d" in texts
    assert {"< 1 h", "1–3 d", "> 30 d", "Elite", "High", "30"} <= set(texts)
    coords = r'\b(?:x|y|x1|x2|y1|y2|cx|cy|width|height)="-?\d+\.\d{2,}"'
    assert not re.search(coords, str(svg))  # coordinates rounded: stable bytes


def test_histogram_without_changes_says_so():
    spec = HistogramSpec("Lead time", "hours", [(lo, hi, lab, 0) for lo, hi, lab in LEAD_TIME_BINS])
    assert "No changes" in str(histogram_chart(spec))


def test_bin_counts_half_open():
    assert bin_counts([0, 0.99, 1, 24, 23.99, 720, 10_000]) == [2, 1, 1, 1, 0, 0, 0, 2]


@given(
    st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=50),
    st.sampled_from([0.5, 0.75, 0.9]),
)
def test_quantile_matches_numpy_linear(values, q):
    assert quantile(values, q) == np.quantile(values, q, method="linear") or abs(
        quantile(values, q) - np.quantile(values, q)
    ) <= 1e-9 * max(1.0, max(values))


def test_band_segments_and_tones_follow_the_table():
    levels = [
        BandLevel(band="elite", max=24),
        BandLevel(band="high", min=24, max=168),
        BandLevel(band="medium", min=168, max=720),
        BandLevel(band="low", min=720),
    ]
    segs = band_segments(levels)
    assert [(s["lo"], s["hi"], s["band"], s["tone"]) for s in segs] == [
        (0.0, 24, "elite", "best"),
        (24, 168, "high", "good"),
        (168, 720, "medium", "fair"),
        (720, None, "low", "poor"),
    ]
    assert tone(levels[:3], "medium") == ("poor", 2)
    assert tone(levels, "unknown") == ("none", None)
    assert band_segments([]) == []


def test_a_far_policy_is_named_not_drawn():
    spec = _trend(values=(1.0, 2.0))
    spec.policy = ("max", 100.0)
    svg = str(trend_chart(spec))
    assert "policy ≤ 100 / week (off scale)" in svg
    assert 'stroke-dasharray="5 3"' not in svg
    assert ">100/wk<" not in svg and ">2/wk<" in svg  # the axis follows the data
    spec.policy = ("max", 5.0)
    svg = str(trend_chart(spec))
    assert "policy ≤ 5 / week<" in svg and 'stroke-dasharray="5 3"' in svg
