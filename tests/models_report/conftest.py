"""Fixtures for the models report: our own plugin set, a seeded registry, render helpers."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlreport import plugin_manager
from mlreport.config import Config, parse_config
from mlreport.metrics import Window
from mlreport.reporting import ReportContext, render_report
from mlreport.warehouse import Warehouse
from tests.lifecycle import scenario as sc
from tests.lifecycle.builder import MLFLOW_CONFIG, Registry, d

AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
WINDOW = Window(sc.JAN.start, sc.MAR.end)
HOSTILE = '<script>alert("x")</script>'
FILE_URL = '<img src="file:///etc/passwd">'


def install(lifecycle: bool = True) -> None:
    """Renderers, the models report, the mlflow source type (its options say which aliases
    are production) and (optionally) the lifecycle family: nothing else."""
    p = plugin_manager.Plugins()
    names = ["mlreport.reports.renderers", "mlreport.reports.models", "mlreport.connectors.mlflow"]
    if lifecycle:
        names.append("mlreport.plugins.lifecycle")
    for name in names:
        p.register_module(importlib.import_module(name), name)
    plugin_manager._plugins = p


def config(tmp: Path, extra: str = "") -> Config:
    text = '[warehouse]\npath = "wh.duckdb"\n' + MLFLOW_CONFIG + extra
    return parse_config(text, tmp / "mlreport.toml", tmp)


def context(wh: Warehouse, cfg: Config, title: str | None = None, entities=None):
    return ReportContext(wh, cfg, WINDOW, AS_OF, title, entities)


def render(wh, cfg, out: Path, formats=("html", "json", "md"), **kw):
    return render_report(context(wh, cfg, **kw), "models", list(formats), out)


def seed(wh: Warehouse, hostile: bool = False) -> Registry:
    """The lifecycle scenario plus lineage detail: params, metric history, datasets,
    deployments; with ``hostile``, names and values carry markup and file URLs."""
    h = f" {HOSTILE}" if hostile else ""
    u = f" {FILE_URL}" if hostile else ""
    r = Registry()
    credit = f"credit{h}"
    sc.credit(r, name=credit)
    sc.fraud(r)
    r.model(f"idle{u}")
    # credit v3 (in production from 20 Feb) is trained by r4, which logged everything
    r.version(credit, "3", "r4", d("2026-02-06"), tags={"signed-off": "true"})
    r.run(
        "r4",
        d("2026-02-05"),
        status="KILLED",
        git_sha="b" * 40,
        params={"lr": "0.05", f"depth{h}": f"6{u}"},
        tags={
            "mlflow.source.git.commit": "b" * 40,
            "mlflow.datasets": (
                '[{"name": "train' + h.replace('"', '\\"') + '", "hash": "abc123", '
                '"path": "s3://bucket/train.parquet"}]'
            ),
            "dataset.holdout.digest": "def456",
            "dataset.holdout.source": f"file:///data/holdout.csv{u}",
        },
    )
    for step, v in enumerate((0.70, 0.80, 0.85)):
        r.metric("r4", "auc", v, step, d("2026-02-05", step + 1))
    r.metric("r4", "auc", 0.5, 1, d("2026-02-05", 9))  # an older step logged later
    r.metric("r4", f"loss{h}", 0.3, 0, d("2026-02-05", 1))
    r.metric("r4", "nan_metric", float("nan"), 0, d("2026-02-05", 1))
    r.run("f1", d("2026-01-01"), experiment_id="9", tags={"mlflow.datasets": "not json"})
    r.deployment(credit, "1", d("2026-01-05"), sha="a" * 40)
    r.deployment(credit, "2", d("2026-01-12", 12), sha="b" * 40)
    r.deployment(credit, "1", d("2026-02-01"), sha="a" * 40, kind="rollback")
    r.deployment(credit, "3", d("2026-02-20"), sha=None)
    r.write(wh)
    return r


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as w:
        yield w


@pytest.fixture(scope="session")
def hostile_outputs(tmp_path_factory) -> dict[str, Path]:
    """One render, in every format, of a registry whose names and values are hostile."""
    tmp = tmp_path_factory.mktemp("models-hostile")
    try:
        install()
        with Warehouse(tmp / "wh.duckdb") as w:
            seed(w, hostile=True)
            return render(
                w,
                config(tmp),
                tmp / "out",
                ("html", "json", "md", "pdf"),
                title=f"Models {HOSTILE}",
            )
    finally:
        plugin_manager.reset_plugins()
