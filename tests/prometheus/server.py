"""A real Prometheus over a TSDB built by ``promtool tsdb create-blocks-from openmetrics`` from
samples these tests write, and a reference ``increase()`` to check synced values against.

The samples are kept as Python data (:data:`SERIES`) so the expected values are computed from
them independently of Prometheus. Sample times sit 7 s past each minute, so no sample lies on
a query step or range boundary, where Prometheus 2 (closed ranges) and 3 (left-open) differ.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mlreport.sample_data.mlflow_store import free_port, stop_server

T0 = 1793491200  # 2026-11-01T00:00:00Z
MINUTES = 12 * 60  # twelve hours of samples, one a minute
LOOKBACK = 300  # Prometheus' default lookback delta for instant vectors, seconds


@dataclass(frozen=True)
class Series:
    metric: str  # the sample name (counters end in _total)
    labels: dict[str, str]
    samples: list[tuple[int, float]]  # (unix seconds, value), ascending


def _times() -> list[int]:
    return [T0 + 7 + 60 * k for k in range(MINUTES)]


def _counter(rng: random.Random, start: float, rate: int, reset_at: int | None = None):
    value, out = start, []
    for i, t in enumerate(_times()):
        if reset_at is not None and i == reset_at:
            value = 0.0  # a restarted server: the counter starts again from zero
        value += rng.randint(0, rate)
        out.append((t, value))
    return out


def _gauge(rng: random.Random, level: float, spread: float):
    return [(t, round(level + rng.uniform(-spread, spread), 3)) for t in _times()]


def build_series() -> list[Series]:
    rng = random.Random(11)
    req = "nv_inference_request_success_total"
    mem = "container_memory_working_set_bytes"
    return [
        Series(req, {"ml_model": "credit-risk", "pod": "a"}, _counter(rng, 1000, 9)),
        Series(req, {"ml_model": "credit-risk", "pod": "b"}, _counter(rng, 50, 5, reset_at=200)),
        Series(req, {"ml_model": "fraud-detector", "pod": "c"}, _counter(rng, 0, 3)),
        Series(req, {"pod": "orphan"}, _counter(rng, 10, 2)),
        Series(mem, {"ml_model": "credit-risk", "pod": "a"}, _gauge(rng, 2.5e9, 4e8)),
        Series(mem, {"ml_model": "credit-risk", "pod": "b"}, _gauge(rng, 1.5e9, 2e8)),
        Series(mem, {"ml_model": "fraud-detector", "pod": "c"}, _gauge(rng, 8e8, 1e8)),
    ]


SERIES = build_series()


def openmetrics(series: list[Series]) -> str:
    """The samples as OpenMetrics text (one family per metric, ``# EOF`` at the end)."""
    families: dict[str, list[Series]] = {}
    for s in series:
        families.setdefault(s.metric, []).append(s)
    lines = []
    for metric, members in families.items():
        is_counter = metric.endswith("_total")
        family = metric.removesuffix("_total") if is_counter else metric
        lines.append(f"# TYPE {family} {'counter' if is_counter else 'gauge'}")
        for s in members:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            lines += [f"{metric}{{{labels}}} {v} {t}" for t, v in s.samples]
    return "\n".join(lines) + "\n# EOF\n"


# -- the reference ---------------------------------------------------------------------------


def prom_increase(samples: list[tuple[int, float]], t: int, rng: int) -> float | None:
    """``increase(x[rng])`` at ``t`` as Prometheus defines it (promql/functions.go,
    ``extrapolatedRate``): the counter's rise over the samples in the range, resets added
    back, extrapolated toward the range edges when the samples come close enough to them
    (within 1.1 average intervals; otherwise by half an interval), and never back past zero."""
    pts = [(s, v) for s, v in samples if t - rng <= s <= t]
    if len(pts) < 2:
        return None
    result = pts[-1][1] - pts[0][1]
    for (_, before), (_, after) in zip(pts, pts[1:], strict=False):
        if after < before:
            result += before
    to_start, to_end = pts[0][0] - (t - rng), t - pts[-1][0]
    sampled = pts[-1][0] - pts[0][0]
    average = sampled / (len(pts) - 1)
    if result > 0 and pts[0][1] >= 0:
        to_start = min(to_start, sampled * (pts[0][1] / result))
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled)


def gauge_at(samples: list[tuple[int, float]], t: int) -> float | None:
    """An instant vector's value at ``t``: the latest sample no older than the lookback."""
    before = [v for s, v in samples if t - LOOKBACK <= s <= t]
    return before[-1] if before else None


def expected(metric: str, label: str, t_values: list[int], fn) -> dict[tuple[str, int], float]:
    """``sum by (label)`` of ``fn(samples, t)`` over the series of ``metric``, by (entity, t)."""
    out: dict[tuple[str, int], float] = {}
    for s in SERIES:
        if s.metric != metric:
            continue
        entity = s.labels.get(label, "__unallocated__")
        for t in t_values:
            value = fn(s.samples, t)
            if value is not None:
                out[(entity, t)] = out.get((entity, t), 0.0) + value
    return out


# -- the server ------------------------------------------------------------------------------


@dataclass
class PrometheusServer:
    url: str
    data: Path


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (apt-get install prometheus; .ci/run does)")
    return path


def build_tsdb(workdir: Path) -> Path:
    promtool = _need("promtool")
    text = workdir / "samples.om.txt"
    text.write_text(openmetrics(SERIES), encoding="utf-8")
    data = workdir / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(text), str(data)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return data


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus not ready after {timeout:.0f} s; see {log}")


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One Prometheus per test session (per xdist worker), serving :data:`SERIES`."""
    binary = _need("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    data = build_tsdb(workdir)
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=100y",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(proc, url, log)
        yield PrometheusServer(url, data)
    finally:
        stop_server(proc)
