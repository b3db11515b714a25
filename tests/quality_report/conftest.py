"""Fixtures for the quality report: a plugin set of our own, a seeded log, render helpers."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

from mlreport import plugin_manager
from mlreport.config import Config, parse_config
from mlreport.metrics import default_window
from mlreport.reporting import ReportContext, render_report
from mlreport.warehouse import Warehouse

from . import fakes

POLICIES = """
[policies]
"performance.accuracy" = { min = 0.9 }
"drift.psi" = { max = 0.2, severity = "warn" }
"fairness.demographic_parity_ratio" = { min = 0.8 }
"""


def install(*plugins: object) -> None:
    """A plugin set with only the renderers, the quality report and ``plugins``: the tests
    stay the same whether or not the real metric families are registered by default."""
    p = plugin_manager.Plugins()
    for name in ("mlreport.reports.renderers", "mlreport.reports.quality"):
        p.register_module(importlib.import_module(name), name)
    for i, plugin in enumerate(plugins):
        p.register_module(plugin, f"fake-{i}")
    plugin_manager._plugins = p


def config(tmp: Path, policies: str = POLICIES) -> Config:
    return parse_config('[warehouse]\npath = "wh.duckdb"\n' + policies, tmp / "mlreport.toml", tmp)


def context(wh: Warehouse, cfg: Config, title: str | None = None) -> ReportContext:
    return ReportContext(wh, cfg, default_window(cfg, as_of=fakes.AS_OF), fakes.AS_OF, title)


def render(wh: Warehouse, cfg: Config, out: Path, formats=("html", "json", "md"), **kw):
    return render_report(context(wh, cfg, **kw), "quality", list(formats), out)


@pytest.fixture
def seeded(tmp_path: Path) -> Callable[..., tuple[Warehouse, Config]]:
    opened: list[Warehouse] = []

    def make(hostile: bool = False, task: str = "classification", policies: str = POLICIES):
        wh = Warehouse(tmp_path / "wh.duckdb")
        opened.append(wh)
        fakes.seed_log(wh, hostile=hostile, task=task)
        return wh, config(tmp_path, policies)

    yield make
    for wh in opened:
        wh.close()


@pytest.fixture(scope="session")
def hostile_outputs(tmp_path_factory) -> dict[str, Path]:
    """One render, in every format, of a log whose entity, feature and group names are hostile."""
    tmp = tmp_path_factory.mktemp("quality-hostile")
    try:
        install(fakes.AllFamilies())
        with Warehouse(tmp / "wh.duckdb") as wh:
            fakes.seed_log(wh, hostile=True)
            return render(
                wh,
                config(tmp),
                tmp / "out",
                ("html", "json", "md", "pdf"),
                title=f"Quality {fakes.HOSTILE}",
            )
    finally:
        plugin_manager.reset_plugins()
