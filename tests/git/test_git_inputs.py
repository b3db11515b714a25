"""Bad input, hostile content, several repositories, config errors, the CLI, doctor."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from mlreport.cli import cli
from mlreport.config import ConfigError
from mlreport.sources import SourceError

# -- bad repository paths ---------------------------------------------------------------------


def test_missing_path(harness, tmp_path):
    source = harness.source("svc", path=tmp_path / "nowhere")
    with pytest.raises(SourceError) as err:
        harness.sync(source)
    msg = str(err.value)
    assert "'svc'" in msg and str(tmp_path / "nowhere") in msg
    assert "does not exist" in msg and "set `path`" in msg


def test_path_is_a_file(harness, tmp_path):
    (tmp_path / "file.txt").write_text("not a repo")
    with pytest.raises(SourceError, match="is a file, not a folder"):
        harness.sync(harness.source(path=tmp_path / "file.txt"))


def test_plain_folder_is_not_a_repository(harness, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a git repository") as err:
        harness.sync(harness.source("svc", path=tmp_path / "plain"))
    assert str(tmp_path / "plain") in str(err.value)


def test_folder_inside_another_repository_is_not_that_repository(harness, new_repo):
    """git would walk up to the enclosing work tree; the source must not."""
    outer = new_repo("outer")
    outer.commits(2)
    inner = outer.path / "sub"
    inner.mkdir()
    with pytest.raises(SourceError, match="not a git repository"):
        harness.sync(harness.source(path=inner))
    assert harness.commits() == {}


def test_empty_repository_syncs_nothing_and_warns(harness, new_repo, caplog):
    repo = new_repo()
    with caplog.at_level(logging.WARNING, logger="mlreport.git"):
        stats = harness.sync(harness.source("svc", path=repo.path))
    assert stats.streams["commits"].rows == 0
    assert "has no commits yet" in caplog.text and "'svc'" in caplog.text
    assert stats.reads == {"git_commands": 2}

    first = repo.commit("finally")
    stats = harness.sync(harness.source("svc", path=repo.path))
    assert stats.reads["commits"] == 1
    assert list(harness.commits()) == [first]


def test_failure_keeps_what_was_stored(harness, new_repo, tmp_path):
    repo = new_repo()
    repo.commits(3)
    harness.sync(harness.source(path=repo.path))
    before = harness.warehouse.fingerprint("commits")
    cursor = harness.warehouse.get_cursor("repo", "commits")

    repo.commit("new")
    repo.path.rename(tmp_path / "moved")
    with pytest.raises(SourceError):
        harness.sync(harness.source(path=repo.path))
    assert harness.warehouse.fingerprint("commits") == before
    assert harness.warehouse.get_cursor("repo", "commits") == cursor


def test_corrupt_repository_is_a_clear_error(harness, new_repo):
    repo = new_repo()
    shas = repo.commits(3)
    # Remove a loose object in the middle of history: git log fails part-way.
    obj = repo.path / ".git" / "objects" / shas[1][:2] / shas[1][2:]
    obj.unlink()
    with pytest.raises(SourceError, match=r"`git log` failed") as err:
        harness.sync(harness.source("svc", path=repo.path))
    assert "'svc'" in str(err.value)
    assert harness.commits() == {}
    assert harness.warehouse.get_cursor("svc", "commits") is None


def test_git_not_installed(harness, new_repo, monkeypatch):
    repo = new_repo()
    repo.commit("x")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SourceError, match="`git` program was not found"):
        harness.sync(harness.source(path=repo.path))


def test_repository_env_vars_do_not_redirect_git(harness, new_repo, monkeypatch):
    mine, other = new_repo("mine"), new_repo("other")
    mine_sha = mine.commit("mine")
    other.commit("other")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    harness.sync(harness.source(path=mine.path))
    assert list(harness.commits()) == [mine_sha]


# -- hostile content --------------------------------------------------------------------------


def test_hostile_subjects_are_stored_verbatim(harness, new_repo):
    repo = new_repo()
    subjects = {
        "unicode": "Ünïcödé ✓ 日本語 🚀 \u202eevil",
        "tabs": "tab\there\tand\tthere",
        "html": "<script>alert('x')</script> & <b>bold</b>",
        "long": "x" * 100_000,
        "sql": "'); DROP TABLE commits; --",
        "nulish": "\\0 not a NUL",
    }
    shas = {k: repo.commit(v) for k, v in subjects.items()}
    multi = repo.commit("line one\nline two\n\nbody here")
    harness.sync(harness.source(path=repo.path))
    rows = harness.commits()
    for key, subject in subjects.items():
        assert rows[shas[key]]["subject"] == subject
    assert rows[multi]["subject"] == "line one line two"  # git's subject: the first paragraph


def test_raw_commit_objects_with_odd_bytes(harness, new_repo, caplog):
    """NUL in a message, invalid UTF-8, legacy encodings and unreadable dates."""
    repo = new_repo()
    tree = repo.empty_tree()

    def raw(author: bytes, message: bytes, extra: bytes = b"") -> str:
        sha = repo.raw_commit(
            b"tree "
            + tree.encode()
            + b"\n"
            + b"author "
            + author
            + b"\n"
            + b"committer C <c@example.com> 1700000000 +0000\n"
            + extra
            + b"\n"
            + message
        )
        repo.git("update-ref", f"refs/heads/raw-{sha[:8]}", sha)
        return sha

    nul = raw(b"A <a@example.com> 1700000000 +0000", b"before\0after\n")
    bad_utf8 = raw(b"N\xe9e <n@example.com> 1700000000 +0000", b"caf\xe9 \xff\n")
    latin1 = raw(b"L <l@example.com> 1700000000 +0000", b"caf\xe9\n", b"encoding ISO-8859-1\n")
    no_date = raw(b"D <d@example.com> not-a-date +0000", b"no date\n")
    far = raw(b"F <f@example.com> 99999999999999 +0000", b"far future\n")
    odd_tz = raw(b"T <t@example.com> 1700000000 +5959", b"odd zone\n")
    ok = repo.commit("after the odd ones")

    with caplog.at_level(logging.WARNING, logger="mlreport.git"):
        harness.sync(harness.source(path=repo.path))
    rows = harness.commits()
    assert rows[nul]["subject"] == "before"
    assert rows[bad_utf8]["author_name"] == "N\ufffde"
    assert rows[bad_utf8]["subject"] == "caf\ufffd \ufffd"
    assert rows[latin1]["subject"] == "café"
    assert rows[no_date]["authored_at"] is None
    assert rows[far]["authored_at"] is None
    assert rows[odd_tz]["authored_at"] == datetime.fromtimestamp(1700000000, UTC)
    assert rows[no_date]["committed_at"] == datetime.fromtimestamp(1700000000, UTC)
    assert rows[ok]["subject"] == "after the odd ones"
    assert "2 commit(s) have a date" in caplog.text
    assert no_date in caplog.text or far in caplog.text


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2024-01-01T00:30:00+14:00", datetime(2023, 12, 31, 10, 30, tzinfo=UTC)),
        ("2024-01-01T23:30:00-12:00", datetime(2024, 1, 2, 11, 30, tzinfo=UTC)),
        ("2024-01-01T12:00:00+05:45", datetime(2024, 1, 1, 6, 15, tzinfo=UTC)),
        ("@0 +0000", datetime(1970, 1, 1, tzinfo=UTC)),
        ("@4107240000 +0100", datetime(2100, 2, 25, 12, tzinfo=UTC)),  # ISO input stops at 2099
        ("2024-02-29T23:59:59-00:30", datetime(2024, 3, 1, 0, 29, 59, tzinfo=UTC)),
    ],
)
def test_odd_author_dates(harness, new_repo, given, utc):
    repo = new_repo()
    sha = repo.commit("dated", author_date=given)
    harness.sync(harness.source(path=repo.path))
    assert harness.commits()[sha]["authored_at"] == utc


# -- several repositories -----------------------------------------------------------------------


def test_several_repositories_mapped_to_entities(harness, new_repo):
    api, worker = new_repo("api"), new_repo("worker")
    api_shas = api.commits(3)
    worker_shas = worker.commits(2)
    harness.sync(harness.source("api-repo", path=api.path, entity="credit-risk"))
    harness.sync(
        harness.source("worker-repo", path=worker.path, entities=["fraud", "churn"], entity="fraud")
    )
    assert set(harness.commits("api-repo")) == set(api_shas)
    assert set(harness.commits("worker-repo")) == set(worker_shas)
    mapping = harness.warehouse.query(
        "SELECT repo, entity, source FROM repo_entities ORDER BY repo, entity"
    ).rows()
    assert mapping == [
        ("api-repo", "credit-risk", "api-repo"),
        ("worker-repo", "churn", "worker-repo"),
        ("worker-repo", "fraud", "worker-repo"),
    ]
    entities = harness.warehouse.query(
        "SELECT name, kind, declared FROM entities ORDER BY name"
    ).rows()
    assert entities == [
        ("churn", "service", False),
        ("credit-risk", "service", False),
        ("fraud", "service", False),
    ]


def test_same_repository_under_two_names(harness, new_repo):
    repo = new_repo()
    shas = repo.commits(2)
    harness.sync(harness.source("one", path=repo.path))
    harness.sync(harness.source("two", path=repo.path))
    assert set(harness.commits("one")) == set(harness.commits("two")) == set(shas)


def test_no_entities_writes_no_mapping(harness, new_repo):
    repo = new_repo()
    repo.commit("x")
    harness.sync(harness.source(path=repo.path))
    assert harness.warehouse.query("SELECT * FROM repo_entities").height == 0


# -- config -------------------------------------------------------------------------------------


def test_unknown_option_is_a_config_error_naming_the_key(harness, tmp_path):
    with pytest.raises(ConfigError) as err:
        harness.source("svc", path=tmp_path, branch="main")
    assert "sources[0].branch" in str(err.value)
    assert "unknown key" in str(err.value)


def test_missing_path_option_is_a_config_error(harness):
    with pytest.raises(ConfigError, match=r"sources\[0\]\.path"):
        harness.source("svc")


def test_blank_entity_is_a_config_error(harness, tmp_path):
    with pytest.raises(ConfigError, match=r"sources\[0\]\.entity"):
        harness.source("svc", path=tmp_path, entity=" ")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.entities"):
        harness.source("svc", path=tmp_path, entities=["ok", ""])


def test_relative_path_is_taken_from_the_config_folder(harness, new_repo, tmp_path):
    repo = new_repo("checkout")
    sha = repo.commit("x")
    source = harness.source(path="checkout")
    assert source.path == tmp_path / "checkout"
    harness.sync(source)
    assert list(harness.commits()) == [sha]


# -- doctor -------------------------------------------------------------------------------------


def test_check_reports_refs(harness, new_repo, tmp_path):
    repo = new_repo()
    head = repo.commits(2)[-1]
    repo.git("tag", "v1")
    msg = harness.source(path=repo.path).check()
    assert "readable" in msg and "3 refs" in msg and head[:12] in msg
    empty = new_repo("empty")
    assert "empty repository" in harness.source(path=empty.path).check()
    with pytest.raises(SourceError, match="does not exist"):
        harness.source(path=tmp_path / "nowhere").check()


# -- the command line ---------------------------------------------------------------------------


def _config(tmp_path, body: str):
    path = tmp_path / "mlreport.toml"
    path.write_text(f'[warehouse]\npath = "wh.duckdb"\n\n{body}', encoding="utf-8")
    return path


def test_cli_sync_twice(new_repo, tmp_path):
    repo = new_repo("service")
    repo.commits(4)
    config = _config(
        tmp_path,
        '[[sources]]\nname = "service-repo"\ntype = "git"\npath = "service"\n'
        'entity = "credit-risk"\n',
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config), "sync"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("service-repo\t5 rows\t")  # 4 commits + 1 mapping
    assert '"commits": 4' in first.stdout

    second = runner.invoke(cli, ["--config", str(config), "sync", "service-repo"])
    assert second.exit_code == 0, second.output
    assert '"git_commands": 2' in second.stdout and '"commits"' not in second.stdout

    count = runner.invoke(
        cli,
        ["--config", str(config), "sql", "SELECT count(*) AS n FROM commits", "--format", "json"],
    )
    assert count.exit_code == 0, count.output
    assert '"n": 4' in count.stdout


def test_cli_missing_repository_exits_2(tmp_path):
    config = _config(tmp_path, '[[sources]]\nname = "svc"\ntype = "git"\npath = "gone"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "sync"])
    assert result.exit_code == 2
    assert "source 'svc'" in result.stderr and "does not exist" in result.stderr


def test_cli_unknown_key_exits_2(tmp_path):
    config = _config(tmp_path, '[[sources]]\nname = "svc"\ntype = "git"\npath = "."\ndepth = 3\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "sync"])
    assert result.exit_code == 2
    assert "sources[0].depth" in result.stderr


def test_cli_doctor(new_repo, tmp_path):
    repo = new_repo("service")
    repo.commits(2)
    config = _config(
        tmp_path,
        '[[sources]]\nname = "good"\ntype = "git"\npath = "service"\n\n'
        '[[sources]]\nname = "bad"\ntype = "git"\npath = "missing"\n',
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor"])
    assert result.exit_code == 2  # one source is not reachable
    assert "source good: " in result.stdout and "readable, 2 refs" in result.stdout
    assert "source bad: " in result.stdout and "does not exist" in result.stdout
