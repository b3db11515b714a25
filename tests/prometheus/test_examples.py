"""The example queries in docs/sources-prometheus.md are valid config."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from mlreport.connectors.prometheus.options import PrometheusOptions

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources-prometheus.md"


def test_documented_examples_parse():
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    examples = tomllib.loads(blocks[-1])["sources"]["queries"]
    names = {
        "triton_requests",
        "kserve_requests",
        "seldon_requests",
        "bentoml_requests",
        "ray_serve_requests",
        "cpu_seconds",
        "memory_bytes",
        "gpu_util",
        "gpu_memory",
    }
    assert names <= set(examples)
    options = PrometheusOptions.model_validate({"url": "http://p:9090", "queries": examples})
    sent = {name: q.promql for name, q in options.queries.items()}
    assert (
        sent["triton_requests"] == "sum by (model) (increase(nv_inference_request_success[3600s]))"
    )
    assert sent["gpu_util"] == "avg by (namespace) ((DCGM_FI_DEV_GPU_UTIL))"
    first = tomllib.loads(blocks[0])["sources"][0]
    PrometheusOptions.model_validate({k: v for k, v in first.items() if k not in ("name", "type")})
