"""ordered_map: input order, bounded look-ahead, errors at their item's turn."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlreport.connectors.mlflow.ordered_map import ordered_map


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(), max_size=60), st.integers(1, 6), st.integers(0, 10))
def test_same_as_map_in_order(items, workers, ahead):
    got = list(ordered_map(lambda x: x * 2, items, workers, ahead))
    assert got == [(x, x * 2) for x in items]


def test_answers_come_back_in_order_when_they_finish_out_of_order():
    def slow_first(x: int) -> int:
        time.sleep(0.05 if x == 0 else 0)
        return x

    assert [r for _, r in ordered_map(slow_first, range(8), 4, 8)] == list(range(8))


def test_never_more_than_ahead_items_started_before_the_first_is_consumed():
    started: list[int] = []
    lock = threading.Lock()

    def record(x: int) -> int:
        with lock:
            started.append(x)
        return x

    answers = ordered_map(record, range(100), workers=2, ahead=5)
    first = next(answers)
    assert first == (0, 0)
    time.sleep(0.05)
    assert len(started) <= 5
    answers.close()


def test_an_error_is_raised_at_its_turn_and_later_items_are_not_all_run():
    ran: list[int] = []

    def fail_at_3(x: int) -> int:
        ran.append(x)
        if x == 3:
            raise ValueError("boom at 3")
        return x

    got = []
    with pytest.raises(ValueError, match="boom at 3"):
        for _item, answer in ordered_map(fail_at_3, range(1000), workers=2, ahead=4):
            got.append(answer)
    assert got == [0, 1, 2]
    assert len(ran) < 20  # the input was not drained after the failure


def test_one_worker_runs_in_the_calling_thread():
    caller = threading.get_ident()
    idents = [r for _, r in ordered_map(lambda _: threading.get_ident(), range(3), 1, 4)]
    assert idents == [caller] * 3
