"""`mlreport schedule --print KIND` writes a ready template for the nightly job; each is checked
the way its scheduler would read it."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from mlreport.cli import cli

CONFIG = '[output]\ndir = "archive"\n'


@pytest.fixture
def printed(tmp_path, monkeypatch):
    (tmp_path / "mlreport.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)

    def show(kind: str, *args: str) -> str:
        result = CliRunner().invoke(cli, ["schedule", "--print", kind, *args])
        assert result.exit_code == 0, result.output
        return result.output

    return show


def _cron_fields_valid(fields: list[str]) -> bool:
    bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    return all(
        f == "*" or (f.isdigit() and lo <= int(f) <= hi)
        for f, (lo, hi) in zip(fields, bounds, strict=True)
    )


def test_cron_line_parses_and_locks(printed, tmp_path):
    text = printed("cron", "--at", "03:15", "--wait", "120")
    (line,) = [x for x in text.splitlines() if x and not x.startswith("#")]
    fields = line.split()
    assert fields[:5] == ["15", "3", "*", "*", "*"] and _cron_fields_valid(fields[:5])
    assert "flock -n" in line and "run --wait 120" in line
    assert f"--config {tmp_path / 'mlreport.toml'}" in line
    assert "0 ok, 1 a policy failed, 2 an error" in text
    assert f"{tmp_path / 'archive'}/<YYYY-MM-DD>/" in text


def test_systemd_units_verify(printed, tmp_path):
    text = printed("systemd", "--at", "01:05")
    service, timer = text.split("# --- mlreport.timer ---")
    service = service.split("# --- mlreport.service ---")[1]
    assert "Type=oneshot" in service and "SuccessExitStatus=1" in service
    assert "OnCalendar=*-*-* 1:5:00" in timer or "OnCalendar=*-*-* 01:05:00" in timer
    units = tmp_path / "units"
    units.mkdir()
    (units / "mlreport.service").write_text(service)
    (units / "mlreport.timer").write_text(timer)
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here; the units were checked by text only")
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            str(units / "mlreport.timer"),
            str(units / "mlreport.service"),
        ],
        capture_output=True,
        text=True,
    )
    problems = [
        line
        for line in done.stderr.splitlines()
        if "mlreport" in line and "Failed to" not in line and "no such file" not in line.lower()
    ]
    assert not problems, done.stderr


def test_kubernetes_cronjob_yaml(printed):
    doc = yaml.safe_load(printed("kubernetes", "--image", "ghcr.io/acme/mlreport:1"))
    assert doc["kind"] == "CronJob" and doc["spec"]["concurrencyPolicy"] == "Forbid"
    assert doc["spec"]["schedule"] == "30 2 * * *"
    container = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/mlreport:1"
    assert container["command"][0] == "mlreport"
    assert container["command"][-3:] == ["run", "--wait", "600"]


def test_github_actions_workflow_yaml(printed):
    doc = yaml.safe_load(printed("github-actions"))
    triggers = doc[True]  # YAML 1.1 (PyYAML) reads the key `on` as the boolean true
    assert triggers["schedule"][0]["cron"] == "30 2 * * *"
    assert doc["concurrency"]["group"] == "mlreport"
    steps = doc["jobs"]["report"]["steps"]
    assert any("run --wait 600" in s.get("run", "") for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)


def test_gitlab_ci_job_yaml(printed):
    doc = yaml.safe_load(printed("gitlab-ci"))
    job = doc["mlreport-nightly"]
    assert job["resource_group"] == "mlreport"
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    assert any("run --wait 600" in line for line in job["script"])


def test_a_bad_time_is_refused(printed, tmp_path):
    result = CliRunner().invoke(cli, ["schedule", "--print", "cron", "--at", "25:00"])
    assert result.exit_code == 2 and "HH:MM" in result.output
