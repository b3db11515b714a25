"""A bounded, order-keeping concurrent map for sources that read over the network.

Why not ``Executor.map``: it submits every item at once, so a long input holds every answer in
memory; here at most ``ahead`` answers wait to be consumed, and the server always has
``workers`` requests to work on while the caller writes what it got.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: int
) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in input order, computed ``workers`` at a time (in this thread when
    ``workers`` is 1). An error in ``fn`` is raised when its item's turn comes; later items
    still in flight are cancelled or waited for before the error leaves."""
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    ahead = max(ahead, workers)
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlreport-read") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(fn, item)))
                if len(pending) >= ahead:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()
