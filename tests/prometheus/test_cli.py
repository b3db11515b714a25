"""`mlreport doctor`, `sync` and `metrics` over a prometheus source, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from tests.prometheus.server import T0, expected, gauge_at

MEM = "container_memory_working_set_bytes"


def test_doctor_sync_and_metrics(prometheus_server, tmp_path):
    config = tmp_path / "mlreport.toml"
    config.write_text(
        "\n".join(
            [
                "[[sources]]",
                'name = "prom"',
                'type = "prometheus"',
                f'url = "{prometheus_server.url}"',
                "[sources.queries.memory]",
                'query = "container_memory_working_set_bytes"',
                'kind = "gauge"',
                'entity_label = "ml-model"',
                'step = "1h"',
                "start = 2026-11-01T00:00:00Z",
                'unit = "bytes"',
            ]
        ),
        encoding="utf-8",
    )
    run = CliRunner()
    doctor = run.invoke(cli, ["--config", str(config), "doctor"])
    assert doctor.exit_code == 0, doctor.output
    assert "Prometheus 2." in doctor.output or "Prometheus 3." in doctor.output
    sync = run.invoke(cli, ["--config", str(config), "sync"])
    assert sync.exit_code == 0, sync.output
    args = ["--since", "2026-11-01", "--until", "2026-11-02", "--format", "json"]
    out = run.invoke(cli, ["--config", str(config), "metrics", "--metric", "usage.memory", *args])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    stats = {(r["entity"], r["dimensions"]["stat"]): r for r in rows}
    assert set(stats) == {
        (e, s) for e in ("credit-risk", "fraud-detector") for s in ("mean", "p95", "max")
    }
    assert {r["unit"] for r in rows} == {"bytes"}
    want = expected(MEM, "ml_model", [T0 + 3600 * k for k in range(24)], gauge_at)
    levels = [v for (e, _), v in sorted(want.items()) if e == "credit-risk"]
    assert len(levels) == 12  # 01:00 .. 12:00 (at 00:00 no sample is old enough)
    assert stats[("credit-risk", "max")]["value"] == pytest.approx(max(levels), rel=1e-12)
    assert stats[("credit-risk", "mean")]["value"] == pytest.approx(np.mean(levels), rel=1e-12)
    assert stats[("credit-risk", "p95")]["value"] == pytest.approx(
        np.percentile(levels, 95), rel=1e-12
    )
    assert stats[("credit-risk", "max")]["n"] == 12
