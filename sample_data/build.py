"""``materialize``: lay out the sample organisation in a folder for ``mlreport demo``.

The Git repositories are rebuilt from the simulation (skipped when already there with the
expected head); the deployment and incident files are the packaged ones under ``events/``;
the prediction logs and the credit-risk model (``predictions.py``) and the FOCUS cost export
(``costs.py``) are generated and rewritten only when their bytes differ.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mlreport.config import Config, load_config
from mlreport.sample_data import costs, governance, mlflow_store, predictions
from mlreport.sample_data.gitrepo import SampleRepoError, build_repo, head_of
from mlreport.sample_data.org import AS_OF, TEAMS, Team
from mlreport.sample_data.teams import Simulation, simulate_all

MARKER = "mlreport-sample"  # file in .git that says "this repository is ours to rebuild"
REGENERATE = "python -m mlreport.sample_data.generate"


def events_dir(out_dir: Path) -> Path:
    """The packaged event files as a real folder (copied out if the package is zipped)."""
    root = resources.files("mlreport.sample_data").joinpath("events")
    if isinstance(root, Path):
        return root.resolve()
    target = out_dir / "events"
    _copy_tree(root, target)
    return target


def _copy_tree(src, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        else:
            (dst / item.name).write_bytes(item.read_bytes())


def load_manifest(events: Path) -> dict:
    return json.loads((events / "manifest.json").read_text(encoding="utf-8"))


def ensure_repo(team: Team, repo: Path, expected_head: str, sims: dict[str, Simulation]) -> None:
    """Build ``repo`` unless it already has the expected head; refuse to delete foreign data."""
    if head_of(repo) == expected_head:
        return
    if repo.exists() and any(repo.iterdir()) and not (repo / ".git" / MARKER).exists():
        raise SampleRepoError(
            f"{repo} exists and is not a sample repository; remove it or use another --out"
        )
    if not sims:
        sims.update({s.team.repo: s for s in simulate_all()})
    sim = sims[team.repo]
    marks = _build(sim, repo)
    if marks[sim.plan.head] != expected_head:
        raise SampleRepoError(
            f"{repo}: built head {marks[sim.plan.head]} but the packaged events expect "
            f"{expected_head}; the simulation changed without regenerating ({REGENERATE})"
        )


def _build(sim: Simulation, repo: Path) -> dict[int, str]:
    return build_repo(sim.plan, repo, marker=MARKER)


def _q(value: object) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(str(value))


def _entity(team: Team) -> str:
    return "\n".join(
        [
            "[[entities]]",
            f"kind = {_q(team.kind)}",
            f"name = {_q(team.entity)}",
            f"owner = {_q(team.owner)}",
            f"team = {_q(team.team)}",
            f"risk_tier = {_q(team.risk_tier)}",
            f"intended_use = {_q(team.intended_use)}",
            f"description = {_q(team.description)}",
        ]
    )


def _sources(team: Team, events: Path) -> str:
    files = events / team.entity
    git = (
        f'[[sources]]\nname = {_q(team.repo + "-repo")}\ntype = "git"\n'
        f"path = {_q('repos/' + team.repo)}\nentity = {_q(team.entity)}\n"
    )
    ev = f'[[sources]]\nname = {_q(team.entity + "-events")}\ntype = "events"\n'
    if (files / "cdevents.jsonl").exists():
        ev += f"cdevents = {_q(files / 'cdevents.jsonl')}\n"
    else:
        ext = "csv" if (files / "deployments.csv").exists() else "jsonl"
        ev += (
            f"deployments = {_q(files / f'deployments.{ext}')}\n"
            f"incidents = {_q(files / f'incidents.{ext}')}\n"
        )
    return git + "\n" + ev


CONFIG_HEAD = """\
# The sample organisation of `mlreport demo`, written by mlreport.sample_data.
# Three teams, six months of Git history and deployments ending at {as_of}.
# See docs/sample-data.md for the stories behind the numbers.

[warehouse]
path = "mlreport.duckdb"

[output]
dir = "reports"

[metrics]
production_environments = ["production"]
attribution_window_days = 7

"""

CONFIG_TAIL = """\
[policies]
"dora.change_failure_rate" = { max = 0.15 }
"dora.recovery_time" = { max = 24, stat = "p50" }
"dora.lead_time" = { max = 168, stat = "p50", severity = "warn" }
"dora.deployment_frequency" = { min = 1, severity = "warn" }
"performance.accuracy" = { min = 0.8 }
"drift.psi" = { max = 0.2, severity = "warn" }
"fairness.demographic_parity_ratio" = { min = 0.8, entity = "credit-risk" }

[[reports]]
type = "delivery"
title = "Delivery performance: sample organisation"
formats = ["html", "pdf", "json", "md"]

[[reports]]
type = "quality"
title = "Model quality: sample organisation"
formats = ["html", "pdf", "json", "md"]

[[reports]]
type = "models"
title = "Model registry and lifecycle: sample organisation"
formats = ["html", "pdf", "json", "md"]

[[reports]]
type = "roi"
title = "Cost and return on investment: sample organisation"
formats = ["html", "pdf", "json", "md"]
"""


def config_text(events: Path) -> str:
    parts = [CONFIG_HEAD.format(as_of=AS_OF)]
    # the entity's plain keys first: a key after its [entities.governance] table would land in it
    parts += [
        _entity(t) + "\n" + costs.roi_toml(t.entity) + governance.entity_table(t.entity) + "\n"
        for t in TEAMS
    ]
    parts += [_sources(t, events) + "\n" for t in TEAMS]
    parts.append(predictions.sources_toml())
    parts.append(costs.sources_toml())
    # The event files already record these models' releases: alias moves are not counted twice.
    parts.append(mlflow_store.mlflow_source_config(Path(".")) + "deployments = false\n\n")
    parts.append(CONFIG_TAIL)
    return "".join(parts)


def materialize(out_dir: Path) -> tuple[Config, str]:
    """Write repositories and ``mlreport.toml`` under ``out_dir``; return the config and as_of.

    Idempotent: a second call finds the repositories in place and rewrites nothing.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    events = events_dir(out_dir)
    manifest = load_manifest(events)
    sims: dict[str, Simulation] = {}
    for team in TEAMS:
        expected = manifest["repos"][team.repo]["head"]
        ensure_repo(team, out_dir / "repos" / team.repo, expected, sims)
    predictions.write_outputs(out_dir)
    costs.write_outputs(out_dir)
    mlflow_store.write_store(out_dir)
    path = out_dir / "mlreport.toml"
    text = config_text(events) + "\n" + governance.REPORTS + "\n" + governance.signing_toml(out_dir)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return load_config(path), AS_OF
