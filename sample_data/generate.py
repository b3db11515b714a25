"""Regenerate the packaged event files from the simulation.

    python -m mlreport.sample_data.generate          # rewrite sample_data/events/
    python -m mlreport.sample_data.generate --check  # exit 1 if they are out of date

The repositories are built in a temporary folder to learn their commit shas; ``materialize``
builds them again with the same code and checks it gets the same heads (``manifest.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlreport.sample_data import formats
from mlreport.sample_data.gitrepo import build_repo
from mlreport.sample_data.org import AS_OF
from mlreport.sample_data.teams import Deployment, Simulation, simulate_all

EVENTS_DIR = Path(__file__).resolve().parent / "events"
MANIFEST = "manifest.json"
# Which event format each entity's deploy tooling writes.
FORMAT_OF = {"credit-risk": "csv", "recsys-api": "jsonl", "fraud-detector": "cdevents"}


def sha_lookup(sim: Simulation, marks: dict[int, str]) -> Callable[[Deployment], str]:
    def sha_of(d: Deployment) -> str:
        if d.unlinked_sha is not None:
            return d.unlinked_sha
        return marks[sim.mark_of(d)]

    return sha_of


def event_files(sim: Simulation, marks: dict[int, str]) -> dict[str, str]:
    """This team's event files, keyed by path relative to ``events/``."""
    sha_of = sha_lookup(sim, marks)
    fmt = FORMAT_OF[sim.team.entity]
    if fmt == "cdevents":
        files = formats.cdevents(sim.deployments, sim.incidents, sha_of)
    else:
        files = formats.canonical(sim.deployments, sim.incidents, sha_of, fmt)
    return {f"{sim.team.entity}/{name}": text for name, text in files.items()}


def manifest(sims: list[Simulation], marks: dict[str, dict[int, str]]) -> dict:
    repos, unlinked = {}, {}
    for sim in sims:
        m = marks[sim.team.repo]
        repos[sim.team.repo] = {
            "head": m[sim.plan.head],
            "commits": len(sim.plan.commits),
            "refs": {ref: m[mark] for ref, mark in sorted(sim.plan.refs.items())},
        }
        unlinked[sim.team.entity] = [
            d.deployment_id for d in sim.deployments if d.unlinked_sha is not None
        ]
    return {"as_of": AS_OF, "repos": repos, "unlinked_deployments": unlinked}


def generate(repos_dir: Path) -> dict[str, str]:
    """Build every repository under ``repos_dir``; return every packaged file's text."""
    sims = simulate_all()
    marks = {s.team.repo: build_repo(s.plan, repos_dir / s.team.repo) for s in sims}
    files: dict[str, str] = {}
    for sim in sims:
        files.update(event_files(sim, marks[sim.team.repo]))
    files[MANIFEST] = json.dumps(manifest(sims, marks), indent=2, sort_keys=True) + "\n"
    return files


def stale_files(files: dict[str, str], folder: Path) -> list[str]:
    """Files in ``files`` whose text differs from (or is missing in) ``folder``."""
    out = []
    for name, text in sorted(files.items()):
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only check; exit 1 if stale.")
    parser.add_argument("--out", type=Path, default=EVENTS_DIR, help="Where to write.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlreport-sample-") as tmp:
        files = generate(Path(tmp))
    stale = stale_files(files, args.out)
    if args.check:
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    for name in stale:
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name], encoding="utf-8", newline="\n")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
