"""Fixtures for the report tests: the fake dora plugin and a seeded sample warehouse."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mlreport.config import Config, parse_config
from mlreport.metrics import default_window
from mlreport.plugin_manager import get_plugins
from mlreport.reporting import ReportContext, render_report
from mlreport.times import parse_time
from mlreport.warehouse import Warehouse

from . import fakedora

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
HOSTILE = '<img src="file:///etc/passwd">'


def use_fake_dora() -> None:
    """Register the stand-in, which replaces the built-in ``dora`` and ``ops`` families."""
    get_plugins().register_module(fakedora, "fakedora")


@pytest.fixture(autouse=True)
def _fake_dora() -> None:
    use_fake_dora()


def _commits(repo: str, start: datetime, end: datetime, rng: random.Random) -> list[dict]:
    rows, t, i = [], start, 0
    while t < end:
        t += timedelta(hours=rng.uniform(3, 30))
        rows.append(
            {
                "repo": repo,
                "sha": f"{repo[:3]}{i:05d}".ljust(40, "0"),
                "parents": [rows[-1]["sha"]] if rows else [],
                "generation": i,
                "authored_at": t,
                "committed_at": t,
                "subject": f"change {i}",
                "author_email": "dev@example.com",
                "source": repo,
            }
        )
        i += 1
    return rows


def seed(warehouse: Warehouse, hostile: bool = False) -> None:
    """A deterministic sample organisation: two mapped services with steady delivery, one
    unmapped model with few deployments, incidents (one open) and staging noise."""
    rng = random.Random(7)
    name = (lambda s: f"{s} {HOSTILE}") if hostile else (lambda s: s)
    start, end = AS_OF - timedelta(days=100), AS_OF
    ents = [
        ("model", "credit-risk", "risk-ml@example.com", "Risk ML", "credit-service"),
        ("service", "search-api", "search@example.com", "Search", "search-service"),
        ("model", "fraud-detector", None, None, None),
    ]
    ents = [(k, name(n), o, name(t) if t else t, r) for k, n, o, t, r in ents]
    warehouse.upsert(
        "entities",
        pl.DataFrame(
            [
                {"kind": k, "name": n, "owner": o, "team": t, "declared": True}
                for k, n, o, t, _ in ents
            ]
        ),
        ("kind", "name"),
    )
    commits, deps, incs = [], [], []
    for _, entity, _, _, repo in ents:
        mine = _commits(repo, start - timedelta(days=5), end, rng) if repo else []
        commits += mine
        if repo:
            warehouse.upsert(
                "repo_entities",
                pl.DataFrame([{"repo": repo, "entity": entity}]),
                ("repo", "entity"),
            )
        gap = {"credit-risk": 40, "search-api": 22}.get(entity.split(" ")[0], 500)
        t, i = start, 0
        while True:
            t += timedelta(hours=rng.uniform(0.5, 2) * gap)
            if t >= end:
                break
            prior = [c for c in mine if c["authored_at"] <= t]
            sha = prior[-1]["sha"] if prior else f"unknown{i:033d}"
            risky = not entity.startswith("credit")
            roll = rng.random()
            back = 0.06 if risky else 0.02
            status = "rolled_back" if roll < back else ("failure" if roll < 0.09 else "success")
            kind = "hotfix" if rng.random() < 0.1 else "planned"
            dep_id = f"{entity.split(' ')[0]}-{i:04d}"
            deps.append(
                {
                    "source": "deploy-log",
                    "deployment_id": dep_id,
                    "entity": entity,
                    "environment": "production",
                    "version": name(f"v1.{i}"),
                    "commit_sha": sha,
                    "finished_at": t,
                    "started_at": t - timedelta(minutes=9),
                    "status": status,
                    "kind": kind,
                    "trigger": "automated" if rng.random() < 0.8 else "manual",
                }
            )
            deps.append(
                {
                    **deps[-1],
                    "deployment_id": dep_id + "-stg",
                    "environment": "staging",
                    "finished_at": t - timedelta(hours=2),
                    "started_at": None,
                }
            )
            if status == "success" and rng.random() < (0.1 if risky else 0.03):
                detected = t + timedelta(hours=rng.uniform(0.2, 6))
                resolved = detected + timedelta(hours=rng.uniform(0.3, 30))
                incs.append(
                    {
                        "source": "pager",
                        "incident_id": f"INC-{len(incs) + 100}",
                        "entity": entity,
                        "environment": "production",
                        "severity": rng.choice(["sev1", "sev2", "sev3"]),
                        "detected_at": detected,
                        "resolved_at": None if len(incs) == 3 else resolved,
                        "cause_deployment_id": dep_id,
                        "title": name(f"Elevated error rate after {dep_id}"),
                    }
                )
            i += 1
    warehouse.upsert("commits", pl.DataFrame(commits), ("repo", "sha"))
    warehouse.upsert("deployments", pl.DataFrame(deps), ("source", "deployment_id"))
    warehouse.upsert("incidents", pl.DataFrame(incs), ("source", "incident_id"))


CONFIG = """
[warehouse]
path = "wh.duckdb"

[[entities]]
name = "legacy-batch"
kind = "service"

[policies]
"dora.change_failure_rate" = { max = 0.15 }
"""


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def make(policies: str = "", top: str = "") -> Config:
        """``top`` goes before the first table, ``policies`` into ``[policies]``."""
        return parse_config(top + CONFIG + policies, tmp_path / "mlreport.toml", tmp_path)

    return make


@pytest.fixture
def warehouse(tmp_path: Path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    seed(wh)
    yield wh
    wh.close()


def context(
    warehouse: Warehouse,
    config: Config,
    title: str | None = None,
    entities: list[str] | None = None,
    as_of: datetime = AS_OF,
) -> ReportContext:
    window = default_window(config, as_of=as_of)
    return ReportContext(warehouse, config, window, parse_time(as_of), title, entities)


def render(
    warehouse: Warehouse, config: Config, out: Path, formats=("html", "json", "md"), **kw
) -> dict[str, Path]:
    return render_report(context(warehouse, config, **kw), "delivery", list(formats), out)


@pytest.fixture(scope="session")
def hostile_outputs(tmp_path_factory) -> dict[str, Path]:
    """One render, in every format, of a sample whose every user string is hostile."""
    from mlreport.plugin_manager import reset_plugins

    tmp = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLREPORT_LOAD_PLUGINS", "")
        reset_plugins()
        use_fake_dora()
        try:
            config = parse_config(CONFIG, tmp / "mlreport.toml", tmp)
            with Warehouse(tmp / "wh.duckdb") as wh:
                seed(wh, hostile=True)
                return render(
                    wh, config, tmp / "out", ("html", "json", "md", "pdf"), title=f"Q2 {HOSTILE}"
                )
        finally:
            reset_plugins()
