"""The sample organisation: deterministic repositories, a valid config, linked events."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlreport.config import load_config
from mlreport.sample_data import AS_OF, materialize
from mlreport.sample_data.gitrepo import SampleRepoError, git
from mlreport.sample_data.org import TEAMS
from tests.demo.records import EVENTS, manifest, records

ENTITIES = [t.entity for t in TEAMS]


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("org")
    materialize(out)
    return out


def refs(repo: Path) -> str:
    return git(repo, "show-ref", "--head")


def test_materialize_twice_gives_identical_repositories_and_config(org, tmp_path):
    config, as_of = materialize(tmp_path)
    assert as_of == AS_OF
    assert (tmp_path / "mlreport.toml").read_bytes() == (org / "mlreport.toml").read_bytes()
    for team in TEAMS:
        mine, theirs = tmp_path / "repos" / team.repo, org / "repos" / team.repo
        assert refs(mine) == refs(theirs)
        assert git(mine, "rev-parse", "HEAD").strip() == manifest()["repos"][team.repo]["head"]
        assert git(mine, "status", "--porcelain") == ""  # the work tree is checked out


def test_materialize_again_keeps_existing_repositories(tmp_path):
    materialize(tmp_path)
    sentinel = tmp_path / "repos" / "credit-risk" / ".git" / "sentinel"
    sentinel.write_text("still here")
    config_mtime = (tmp_path / "mlreport.toml").stat().st_mtime_ns
    materialize(tmp_path)
    assert sentinel.exists()
    assert (tmp_path / "mlreport.toml").stat().st_mtime_ns == config_mtime


def test_a_repository_that_moved_is_rebuilt(tmp_path):
    materialize(tmp_path)
    repo = tmp_path / "repos" / "recsys-api"
    git(
        repo,
        "-c",
        "user.name=x",
        "-c",
        "user.email=x@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "local experiment",
    )
    materialize(tmp_path)
    assert git(repo, "rev-parse", "HEAD").strip() == manifest()["repos"]["recsys-api"]["head"]


def test_a_foreign_folder_is_never_deleted(tmp_path):
    precious = tmp_path / "repos" / "fraud-detector" / "notes.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("mine")
    with pytest.raises(SampleRepoError, match="not a sample repository"):
        materialize(tmp_path)
    assert precious.read_text() == "mine"


def test_config_validates_and_describes_the_organisation(org):
    config = load_config(org / "mlreport.toml")
    assert config.warehouse.path == org / "mlreport.duckdb"
    assert config.output.dir == org / "reports"
    assert [e.name for e in config.entities] == ENTITIES
    for e in config.entities:
        assert e.owner and e.team and e.risk_tier and e.intended_use
    types = sorted(s.type for s in config.sources)
    assert types == ["events"] * 3 + ["focus"] + ["git"] * 3 + ["mlflow"] + ["predictions"] * 2
    for src in config.sources:
        for key in ("path", "deployments", "incidents", "cdevents", "store"):
            if isinstance(src.options.get(key), str):
                path = Path(src.options[key])
                path = path if path.is_absolute() else org / path
                assert list(path.parent.glob(path.name)), (src.name, key)
    assert [(r.type, r.formats) for r in config.reports] == [
        ("delivery", ["html", "pdf", "json", "md"]),
        ("quality", ["html", "pdf", "json", "md"]),
        ("models", ["html", "pdf", "json", "md"]),
        ("roi", ["html", "pdf", "json", "md"]),
        ("governance", ["html", "pdf", "json", "md"]),
        ("model-card", ["html", "pdf", "json", "md"]),
    ]
    assert "dora.change_failure_rate" in config.policies


def test_source_options_validate_against_their_source_types(org):
    """Every [[sources]] entry passes its source type's own option schema."""
    from mlreport.sources import build_source

    config = load_config(org / "mlreport.toml")
    for i, src in enumerate(config.sources):
        source = build_source(src, config, i)
        assert source.name == src.name


def test_all_three_event_formats_are_used():
    names = sorted(p.relative_to(EVENTS).as_posix() for p in EVENTS.rglob("*.*"))
    assert "credit-risk/deployments.csv" in names
    assert "recsys-api/deployments.jsonl" in names
    assert "fraud-detector/cdevents.jsonl" in names


def _cat_file(repo: Path, shas: list[str]) -> dict[str, bool]:
    out = git(repo, "cat-file", "--batch-check", stdin=("\n".join(shas) + "\n").encode())
    return {
        sha: not line.endswith("missing") for sha, line in zip(shas, out.splitlines(), strict=True)
    }


def test_every_linked_deployment_sha_is_a_commit_of_its_repository(org):
    unlinked = manifest()["unlinked_deployments"]
    total_unlinked = 0
    for entity, (deployments, _) in records().items():
        found = _cat_file(org / "repos" / entity, [d["commit_sha"] for d in deployments])
        for d in deployments:
            expected = d["deployment_id"] not in unlinked[entity]
            assert found[d["commit_sha"]] is expected, (entity, d["deployment_id"])
            total_unlinked += not expected
    assert 1 <= total_unlinked <= 3


def test_packaged_events_are_what_the_generator_produces(tmp_path):
    """Regenerating in a fresh process, with a hostile Git setup, changes no packaged file."""
    hostile = tmp_path / "gitconfig"
    hostile.write_text(
        "[init]\n\tdefaultBranch = trunk\n[user]\n\tname = Someone Else\n"
        "[core]\n\tautocrlf = true\n[commit]\n\tgpgsign = true\n"
    )
    env = dict(
        os.environ,
        GIT_CONFIG_GLOBAL=str(hostile),
        GIT_AUTHOR_NAME="Intruder",
        GIT_COMMITTER_DATE="2001-01-01T00:00:00Z",
        PYTHONHASHSEED="12345",
        TZ="Asia/Tokyo",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mlreport.sample_data.generate", "--check"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_files_tell_the_simulated_story():
    """What the files say equals what the simulation decided, in every format."""
    from mlreport.sample_data.formats import deployment_row, incident_row
    from mlreport.sample_data.teams import simulate_all

    files = records()
    for sim in simulate_all():
        deployments, incidents = files[sim.team.entity]
        got = [
            {k: v for k, v in d.items() if k != "commit_sha" and (k, v) != ("strategy", None)}
            for d in deployments
        ]  # the simulation records no strategy; the CSV has the (empty) column
        want = [deployment_row(d, lambda d: None) for d in sim.deployments]
        for row in want:
            del row["commit_sha"]
        assert got == want
        assert sorted(incidents, key=lambda i: i["incident_id"]) == sorted(
            (incident_row(i) for i in sim.incidents), key=lambda i: i["incident_id"]
        )


# -- the stories (plain-Python summaries of the packaged files) -------------------------------


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _attributed(incident: dict, shipped: list[dict]) -> str | None:
    """DESIGN.md's rule: the named cause, else the latest deployment at most 7 days before."""
    if incident["cause_deployment_id"]:
        return incident["cause_deployment_id"]
    detected = _t(incident["detected_at"])
    before = [
        d
        for d in shipped
        if d["environment"] == incident["environment"]
        and detected - timedelta(days=7) <= _t(d["finished_at"]) <= detected
    ]
    return max(before, key=lambda d: d["finished_at"])["deployment_id"] if before else None


def _summary(entity: str) -> dict:
    """Production facts over the whole period, computed without any mlreport code."""
    deployments, incidents = records()[entity]
    prod = [d for d in deployments if d["environment"] == "production"]
    shipped = [d for d in prod if d["status"] in ("success", "rolled_back")]
    prod_incidents = [i for i in incidents if i["environment"] == "production"]
    failed = {d["deployment_id"] for d in shipped if d["status"] == "rolled_back"}
    failed |= {_attributed(i, shipped) for i in prod_incidents} - {None}
    restore = [
        (_t(i["resolved_at"]) - _t(i["detected_at"])).total_seconds() / 3600
        for i in prod_incidents
        if i["resolved_at"]
    ]
    weeks = (_t(AS_OF) - _t("2026-01-05T00:00:00Z")).days / 7
    return {
        "per_week": sum(d["status"] == "success" for d in prod) / weeks,
        "failure_rate": len(failed) / len(shipped),
        "restore_hours": statistics.median(restore),
        "open": [i["incident_id"] for i in prod_incidents if not i["resolved_at"]],
        "kinds": {d["kind"] for d in prod},
        "triggers": {d["trigger"] for d in prod},
        "staging": sum(d["environment"] == "staging" for d in deployments),
        "failures": sum(d["status"] == "failure" for d in deployments),
    }


def test_credit_risk_ships_daily_and_recovers_within_the_hour():
    s = _summary("credit-risk")
    assert s["per_week"] >= 5
    assert s["failure_rate"] < 0.08
    assert s["restore_hours"] < 2
    assert s["open"] == []
    assert s["triggers"] == {"automated", "manual"}
    assert "rollback" in s["kinds"] and s["staging"] > 100


def test_fraud_detector_ships_weekly_fails_often_and_recovers_slowly():
    s = _summary("fraud-detector")
    assert s["per_week"] <= 1.5
    assert s["failure_rate"] >= 0.3
    assert s["restore_hours"] >= 24
    assert len(s["open"]) == 1
    assert s["kinds"] == {"planned", "hotfix", "rollback"}
    assert s["triggers"] == {"manual"}
    assert s["failures"] >= 1 and s["staging"] >= 10


def test_recsys_api_moves_from_manual_to_automated_deploys_in_april():
    deployments, _ = records()["recsys-api"]
    prod = [d for d in deployments if d["environment"] == "production"]
    before = {d["trigger"] for d in prod if d["finished_at"] < "2026-04-01"}
    after = [d["trigger"] for d in prod if d["finished_at"] >= "2026-04-01"]
    assert before == {"manual"}
    assert after.count("automated") > 10 * after.count("manual")
    s = _summary("recsys-api")
    assert 2 <= s["per_week"] <= 5
    assert 0.08 <= s["failure_rate"] <= 0.2
    assert 1 < s["restore_hours"] < 24


def test_git_histories_look_like_teams_at_work(org):
    """Merged feature branches, several authors, commits in working hours (local time)."""
    for team in TEAMS:
        repo = org / "repos" / team.repo
        log = git(repo, "log", "--all", "--format=%P%x09%ae%x09%ad", "--date=format:%H %u")
        rows = [line.split("\t") for line in log.splitlines()]
        assert len(rows) >= 250
        merges = [r for r in rows if len(r[0].split()) == 2]
        assert len(merges) >= 30
        assert len({r[1] for r in rows}) == len(team.people)
        for _, _, when in rows:
            hour, weekday = map(int, when.split())
            assert 9 <= hour < 18 and weekday <= 5, when


def test_the_documentation_names_the_special_cases():
    """docs/sample-data.md points at the unlinked deployments and the open incident."""
    docs = (Path(__file__).parents[2] / "docs" / "sample-data.md").read_text(encoding="utf-8")
    for ids in manifest()["unlinked_deployments"].values():
        for deployment_id in ids:
            assert f"`{deployment_id}`" in docs
    for entity in ENTITIES:
        for incident in records()[entity][1]:
            if incident["environment"] == "production" and not incident["resolved_at"]:
                assert f"`{incident['incident_id']}`" in docs
