"""What the git source stores: fields, parents, refs, generation numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .conftest import fast_import_dag, reference_generations


def test_linear_history_rows(harness, new_repo):
    repo = new_repo()
    a = repo.commit(
        "first",
        author_date="2024-03-01T10:00:00+02:00",
        committer_date="2024-03-01T11:30:00-05:00",
        author=("Ada Lovelace", "ada@example.com"),
    )
    b = repo.commit("second")
    c = repo.commit("third")

    stats = harness.sync(harness.source("svc", path=repo.path))

    rows = harness.commits()
    assert set(rows) == {a, b, c}
    first = rows[a]
    assert first["repo"] == "svc"
    assert first["source"] == "svc"
    assert first["parents"] == []
    assert first["author_name"] == "Ada Lovelace"
    assert first["author_email"] == "ada@example.com"
    assert first["authored_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert first["committed_at"] == datetime(2024, 3, 1, 16, 30, tzinfo=UTC)
    assert first["subject"] == "first"
    assert [rows[s]["generation"] for s in (a, b, c)] == [1, 2, 3]
    assert rows[b]["parents"] == [a]
    assert rows[c]["parents"] == [b]
    assert stats.streams["commits"].rows == 3
    assert stats.reads["commits"] == 3


def test_timestamps_are_utc_timestamptz(harness, new_repo):
    repo = new_repo()
    repo.commit("x", author_date="2024-06-30T23:59:59+14:00")
    harness.sync(harness.source(path=repo.path))
    kinds = dict(
        harness.warehouse.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'commits'"
        ).fetchall()
    )
    assert kinds["authored_at"] == "TIMESTAMP WITH TIME ZONE"
    got = harness.warehouse.con.execute(
        "SELECT strftime(authored_at, '%Y-%m-%d %H:%M:%S') FROM commits"
    ).fetchone()[0]
    assert got == "2024-06-30 09:59:59"


def test_merge_keeps_parent_order(harness, new_repo):
    repo = new_repo()
    base = repo.commit("base")
    repo.checkout("feature", new=True)
    feat = repo.commit("feature work")
    repo.checkout("main")
    main = repo.commit("main work")
    merge = repo.merge("feature")

    harness.sync(harness.source(path=repo.path))
    rows = harness.commits()
    assert rows[merge]["parents"] == [main, feat] == repo.parents(merge)
    assert rows[merge]["generation"] == 3
    assert rows[feat]["parents"] == [base]


def test_octopus_merge_parent_order(harness, new_repo):
    repo = new_repo()
    repo.commit("base")
    tips = []
    for name in ("a", "b", "c"):
        repo.checkout("main")
        repo.checkout(name, new=True)
        tips.append(repo.commits(name == "b" and 3 or 1, prefix=name)[-1])
    repo.checkout("main")
    date = repo.next_date()
    repo.git(
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "octopus",
        "a",
        "b",
        "c",
        env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
    )
    octo = repo.rev("HEAD")
    harness.sync(harness.source(path=repo.path))
    row = harness.commits()[octo]
    assert row["parents"] == repo.parents(octo)
    assert len(row["parents"]) == 4
    assert row["generation"] == 5  # base(1) -> b x3 (2..4) -> octopus


def test_all_refs_but_notes_and_stash(harness, new_repo):
    repo = new_repo()
    main = repo.commits(2)
    repo.checkout("topic", new=True)
    topic = repo.commit("only on a branch")
    repo.checkout("main")
    # A lightweight tag and an annotated tag on commits no branch contains.
    repo.checkout(main[0])
    light = repo.commit("only behind a lightweight tag")
    repo.git("tag", "light")
    annotated = repo.commit("only behind an annotated tag")
    repo.git("tag", "-a", "-m", "release", "v1.0")
    repo.git("tag", "-a", "-m", "a tag of a tag", "nested", "v1.0")
    repo.git("tag", "tree-tag", repo.empty_tree())
    remote = repo.commit("only on a remote-tracking branch")
    repo.git("update-ref", "refs/remotes/origin/feature", remote)
    pull = repo.commit("only on a pull-request ref")
    repo.git("update-ref", "refs/pull/7/head", pull)
    repo.commit("only on a detached HEAD")
    (repo.path / "f.txt").write_text("tracked")
    repo.git("add", "f.txt")
    repo.git("commit", "-q", "-m", "also only on the detached HEAD")
    detached = repo.rev("HEAD")
    # Notes and the stash are commits too, but not history anyone deploys.
    repo.git("notes", "add", "-m", "a note", main[0])
    notes = repo.rev("refs/notes/commits")
    (repo.path / "f.txt").write_text("changed")
    repo.git("stash", "-q")
    stash_only = set(repo.git("rev-list", "refs/stash", f"^{detached}").split())
    assert len(stash_only) == 2  # the stash commit and its index commit

    harness.sync(harness.source(path=repo.path))
    rows = harness.commits()
    for sha in [*main, topic, light, annotated, remote, pull, detached]:
        assert sha in rows
    assert notes not in rows
    assert not stash_only & set(rows)
    assert len(rows) == len(main) + 7


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_generations_equal_reference(harness, tmp_path, seed):
    repo = fast_import_dag(tmp_path / f"dag{seed}", n=400, seed=seed)
    harness.sync(harness.source(path=repo.path))
    got = {sha: row["generation"] for sha, row in harness.commits().items()}
    assert got == reference_generations(repo.path)


def test_generations_across_batches(harness, tmp_path, monkeypatch):
    """Tiny reads and batches (many checkpoints) store exactly what one batch does."""
    import mlreport.connectors.git as gitsource
    from mlreport.connectors import gitlog

    repo = fast_import_dag(tmp_path / "dag", n=120, seed=9)
    monkeypatch.setattr(gitlog, "CHUNK", 64)
    monkeypatch.setattr(gitlog, "NAP", 0)
    monkeypatch.setattr(gitsource, "BATCH", 1)
    stats = harness.sync(harness.source(path=repo.path))
    commits = stats.streams["commits"]
    assert commits.rows == 120
    assert commits.batches > 40
    assert commits.checkpoints == commits.batches + 1
    got = {sha: row["generation"] for sha, row in harness.commits().items()}
    assert got == reference_generations(repo.path)
    small = harness.warehouse.fingerprint("commits")

    monkeypatch.undo()
    harness.sync(harness.source(path=repo.path), full=True)
    assert harness.warehouse.fingerprint("commits") == small


def test_bare_repository_and_git_dir(harness, new_repo, tmp_path):
    repo = new_repo()
    shas = repo.commits(3)
    bare = tmp_path / "bare.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(bare))
    harness.sync(harness.source("bare", path=bare))
    harness.sync(harness.source("dotgit", path=repo.path / ".git"))
    assert set(harness.commits("bare")) == set(shas)
    assert set(harness.commits("dotgit")) == set(shas)


def test_sha256_repository(harness, tmp_path):
    from .conftest import git

    path = tmp_path / "sha256"
    path.mkdir()
    git(path, "init", "-q", "--object-format=sha256", "-b", "main")
    git(path, "commit", "-q", "--allow-empty", "-m", "one")
    git(path, "commit", "-q", "--allow-empty", "-m", "two")
    harness.sync(harness.source(path=path))
    rows = harness.commits()
    assert all(len(sha) == 64 for sha in rows)
    assert sorted(r["generation"] for r in rows.values()) == [1, 2]
