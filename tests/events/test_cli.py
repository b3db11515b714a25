"""`mlreport sync` over an events source: output, exit codes, error messages."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlreport.cli import cli
from tests.events.conftest import deploy_csv, deploy_row


def _sync(world, *args: str):
    return CliRunner().invoke(cli, ["--config", str(world.root / "mlreport.toml"), "sync", *args])


def test_sync_prints_rows_and_reads_then_nothing_on_a_second_run(world):
    path = world.write("d.csv", deploy_csv(deploy_row(1), deploy_row(2)))
    world.config(deployments="d.csv")
    first = _sync(world)
    assert first.exit_code == 0, first.output
    name, rows, reads = first.stdout.strip().split("\t")
    assert (name, rows) == ("log", "2 rows")
    assert json.loads(reads) == {"bytes": path.stat().st_size, "files": 1}
    second = _sync(world)
    assert second.exit_code == 0
    assert second.stdout.strip() == "log\t0 rows\t{}"


def test_a_bad_file_exits_2_with_file_line_and_column(world):
    world.write("d.csv", deploy_csv(deploy_row(1)))
    world.config(deployments="d.csv")
    assert _sync(world).exit_code == 0
    world.write("d.csv", deploy_csv(deploy_row(1), deploy_row(2, status="succeeded")))
    result = _sync(world)
    assert result.exit_code == 2
    assert result.stdout == ""
    expected = (
        f"Error: source log: {world.root / 'd.csv'}: line 3: column 'status': unknown value "
        "'succeeded' (allowed: success, failure, rolled_back) (its previous data is kept)\n"
    )
    # The last line is the summary; a log line before it says the same for the log.
    assert result.stderr.splitlines(keepends=True)[-1] == expected
    assert [r["deployment_id"] for r in world.rows("deployments")] == ["d1"]


def test_a_config_without_any_files_exits_2(world):
    (world.root / "mlreport.toml").write_text(
        '[[sources]]\nname = "log"\ntype = "events"\n', encoding="utf-8"
    )
    result = _sync(world)
    assert result.exit_code == 2
    assert "needs at least one of `deployments`, `incidents` or `cdevents`" in result.stderr


def test_doctor_counts_the_files_of_each_option(world):
    world.write("d/a.csv", deploy_csv(deploy_row(1)))
    world.write("d/b.csv", deploy_csv(deploy_row(2)))
    world.write("cd.jsonl", "")
    world.config(deployments="d/*.csv", cdevents="cd.jsonl")
    result = CliRunner().invoke(cli, ["--config", str(world.root / "mlreport.toml"), "doctor"])
    assert result.exit_code == 0, result.output
    assert "source log: deployments: 2 file(s), cdevents: 1 file(s)" in result.output
