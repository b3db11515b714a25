"""``[output] keep_days``: old runs go, the last run and linked (pinned, signed) runs stay, and
nothing outside the output folder is ever touched."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlreport.archive import apply_retention, read_runs
from mlreport.cli import cli
from mlreport.config import ConfigError, parse_config
from mlreport.pipeline import write_index

from .conftest import run_as_of, write_config


def _links(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_symlink())


def _index_days(out: Path) -> list[str]:
    return re.findall(r"<h2>([^<]+)</h2>", (out / "index.html").read_text(encoding="utf-8"))


def test_keep_days_over_simulated_dates(project):
    write_config(project, "keep_days = 3")
    out = project / "out"
    done: list[date] = []
    for day in (1, 2, 3, 5, 8, 9, 12, 13):
        as_of = date(2026, 3, day)
        assert run_as_of(project, as_of.isoformat()) == 0
        done.append(as_of)
        kept = [d.isoformat() for d in done if d >= as_of - timedelta(days=3)]
        assert _links(out) == kept, as_of
        folders = sorted(p.name for p in (out / ".runs").iterdir())
        assert sorted(os.readlink(out / d).removeprefix(".runs/") for d in kept) == folders
        assert _index_days(out) == kept[::-1]
        for d in kept:
            assert (out / d / "delivery.html").is_file()


def test_a_day_run_twice_keeps_both_runs_until_the_day_expires(project):
    write_config(project, "keep_days = 3")
    out = project / "out"
    for day in ("2026-03-01", "2026-03-01", "2026-03-02"):
        assert run_as_of(project, day) == 0
    first_day = sorted(p.name for p in (out / ".runs").iterdir() if p.name < "2026-03-02")
    assert len(first_day) == 2  # the second run of the day did not overwrite the first
    assert run_as_of(project, "2026-03-05") == 0
    left = sorted(p.name[:10] for p in (out / ".runs").iterdir())
    assert left == ["2026-03-02", "2026-03-05"]  # both runs of the expired day are gone
    assert _links(out) == ["2026-03-02", "2026-03-05"]


def test_default_keeps_every_run(project):
    out = project / "out"
    for day in ("2026-01-01", "2026-03-01", "2026-03-28"):
        assert run_as_of(project, day) == 0
    assert _links(out) == ["2026-01-01", "2026-03-01", "2026-03-28"]
    assert len(list((out / ".runs").iterdir())) == 3


@pytest.mark.parametrize("value", ["0", "-3", '"ten"', "1.5"])
def test_keep_days_is_validated(tmp_path, value):
    with pytest.raises(ConfigError, match="keep_days"):
        parse_config(f"[output]\nkeep_days = {value}\n", None, tmp_path)


def _run(out: Path, day: str, *, signed: bool = False, status: str = "ok") -> Path:
    """A published run as ``mlreport run`` leaves it: ``.runs/<day>-<id>`` and the day link."""
    folder = out / ".runs" / f"{day}-{abs(hash(day)) % 10**12:012d}"
    folder.mkdir(parents=True)
    (folder / "delivery.html").write_text("<p>report</p>")
    outputs = {"html": {"file": "delivery.html", "sha256": "0" * 64}}
    manifest = {"as_of": f"{day}T06:00:00+00:00", "outputs": outputs}
    (folder / "delivery.manifest.json").write_text(json.dumps(manifest))
    (folder / "check.json").write_text("[]")
    record = {"as_of": f"{day}T06:00:00+00:00", "status": status, "errors": []}
    (folder / "run.json").write_text(json.dumps(record))
    if signed:
        (folder / "statement.intoto.json").write_text("{}")
        (folder / "statement.intoto.json.minisig").write_text("sig")
    (out / day).symlink_to(os.path.relpath(folder, out))
    return folder


AS_OF = datetime(2026, 3, 20, 6, tzinfo=UTC)


def test_pinned_and_signed_runs_stay_while_referenced(tmp_path):
    out = tmp_path / "out"
    pinned_signed = _run(out, "2026-03-01", signed=True)
    (out / "audit-2026-q1").symlink_to(os.path.relpath(pinned_signed, out))
    unpinned_signed = _run(out, "2026-03-02", signed=True)
    pinned_day = _run(out, "2026-02-27")
    (out / "keep-this").symlink_to("2026-02-27")  # a link to the day's name pins the day
    plain = _run(out, "2026-03-03")
    recent = _run(out, "2026-03-19")
    last = _run(out, "2026-03-20")
    removed = apply_retention(out, 5, AS_OF, last="2026-03-20")
    assert sorted(p.name for p in removed) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert (pinned_signed / "statement.intoto.json.minisig").is_file()  # still referenced
    assert (out / "audit-2026-q1" / "delivery.html").is_file()
    assert not unpinned_signed.exists() and not plain.exists()  # nothing refers to them now
    assert recent.is_dir() and last.is_dir()
    assert (out / "keep-this" / "delivery.html").is_file() and pinned_day.is_dir()
    assert _links(out) == ["2026-02-27", "2026-03-19", "2026-03-20", "audit-2026-q1", "keep-this"]


def test_the_last_run_is_never_removed(tmp_path):
    out = tmp_path / "out"
    only = _run(out, "2026-01-01")
    assert apply_retention(out, 1, AS_OF, last="2026-01-01") == []
    assert only.is_dir() and (out / "2026-01-01").is_symlink()


def test_nothing_outside_the_output_folder_is_touched(tmp_path):
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (victim / "delivery.manifest.json").write_text("{}")
    out.mkdir()
    (out / ".runs").mkdir()
    (out / "2020-01-01").symlink_to(victim)  # absolute link out
    (out / "2020-01-02").symlink_to(".runs/../../victim")  # relative escape
    (out / ".runs" / "2020-01-03-evil").symlink_to(victim)  # a run folder that is a link
    (out / "2020-01-03").symlink_to(".runs/2020-01-03-evil")
    user = out / "2020-01-04"  # a real folder mlreport did not write
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    legacy = out / "2020-01-05"  # a day folder from before atomic publication
    legacy.mkdir()
    (legacy / "delivery.manifest.json").write_text("{}")
    leaky = _run(out, "2020-01-06")
    (leaky / "leak").symlink_to(victim)  # rmtree must unlink it, not empty the victim
    hostile = ["2020-13-45", "2020-01-07 <script>", "2020-01-08\n", "..2020-01-09", "2020-1-10"]
    for name in hostile:
        (out / name).mkdir()
        (out / name / "delivery.manifest.json").write_text("{}")
    _run(out, "2026-03-20")
    removed = apply_retention(out, 30, AS_OF, last="2026-03-20")
    assert sorted(p.name for p in removed) == ["2020-01-05", "2020-01-06"]
    assert sorted(p.name for p in victim.iterdir()) == ["delivery.manifest.json", "precious.txt"]
    for name in ("2020-01-01", "2020-01-02", "2020-01-03"):
        assert (out / name).is_symlink(), name
    assert (out / ".runs" / "2020-01-03-evil").is_symlink()
    assert (user / "notes.txt").read_text() == "mine"
    assert not legacy.exists() and not leaky.exists()
    for name in hostile:
        assert (out / name / "delivery.manifest.json").exists(), name
    html = write_index(out, parse_config("", None, tmp_path)).read_text(encoding="utf-8")
    assert _index_days(out) == ["2026-03-20"]
    assert "<script>" not in html and "precious" not in html and "victim" not in html


def test_runs_folder_that_is_a_link_out_stops_retention(tmp_path):
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    run = elsewhere / "2020-01-01-abc"
    run.mkdir(parents=True)
    (run / "delivery.manifest.json").write_text("{}")
    out.mkdir()
    (out / ".runs").symlink_to(elsewhere)
    (out / "2020-01-01").symlink_to(".runs/2020-01-01-abc")
    assert apply_retention(out, 1, AS_OF, last="2026-03-20") == []
    assert (run / "delivery.manifest.json").exists()
    assert read_runs(out) == []


def test_unreadable_records_are_named_not_fatal(tmp_path, caplog):
    out = tmp_path / "out"
    good = _run(out, "2026-03-19", status="policy failure")
    bad = _run(out, "2026-03-20")
    (bad / "run.json").write_text("{not json")
    (good / "delivery.manifest.json").write_text("[1, 2]")
    runs = read_runs(out)
    assert [(r["day"], r["status"]) for r in runs] == [
        ("2026-03-20", "unknown"),
        ("2026-03-19", "policy failure"),
    ]
    assert runs[1]["reports"][0]["files"] == []
    assert "run.json" in caplog.text


def test_a_runs_folder_that_is_a_link_stops_the_run(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "2020-01-01-abc").mkdir(parents=True)
    (project / "out").mkdir()
    (project / "out" / ".runs").symlink_to(elsewhere)
    result = CliRunner().invoke(cli, ["--config", str(project / "mlreport.toml"), "run"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {project / 'out' / '.runs'} is a symbolic link; mlreport keeps its runs in a "
        "real folder there. Remove the link (or point [output] dir elsewhere) and run again\n"
    )
    assert (elsewhere / "2020-01-01-abc").is_dir()  # not cleaned as a stale staging folder
    assert [p.name for p in elsewhere.iterdir()] == ["2020-01-01-abc"]  # nothing staged there
