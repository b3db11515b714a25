"""Incremental syncs read only commits not yet stored; rewritten history still works."""

from __future__ import annotations

from .conftest import fast_import_dag, reference_generations


def _generations(harness) -> dict[str, int]:
    return {sha: row["generation"] for sha, row in harness.commits().items()}


def test_second_sync_reads_only_new_commits(harness, new_repo):
    repo = new_repo()
    repo.commits(5)
    first = harness.sync(harness.source(path=repo.path))
    assert first.reads["commits"] == 5

    repo.checkout("feature", new=True)
    new = repo.commits(2, prefix="feature")
    repo.checkout("main")
    new.append(repo.commit("main again"))
    new.append(repo.merge("feature"))

    second = harness.sync(harness.source(path=repo.path))
    assert second.reads["commits"] == 4
    assert second.streams["commits"].rows == 4
    # rev-parse, show-ref, cat-file (does the moved ref's old tip still exist?), git log
    assert second.reads["git_commands"] == 4
    assert set(new) <= set(harness.commits())
    assert _generations(harness) == reference_generations(repo.path)


def test_no_change_runs_no_git_log(harness, new_repo):
    repo = new_repo()
    repo.commits(3)
    harness.sync(harness.source(path=repo.path))
    before = harness.warehouse.fingerprint("commits")

    again = harness.sync(harness.source(path=repo.path))
    assert again.reads == {"git_commands": 2}  # rev-parse and show-ref, no git log
    assert again.streams["commits"].rows == 0
    assert harness.warehouse.fingerprint("commits") == before


def test_deleted_branch_runs_no_git_log(harness, new_repo):
    repo = new_repo()
    repo.commits(2)
    repo.checkout("gone", new=True)
    repo.commit("on a branch about to be deleted")
    repo.checkout("main")
    harness.sync(harness.source(path=repo.path))
    stored = set(harness.commits())
    repo.git("branch", "-q", "-D", "gone")

    again = harness.sync(harness.source(path=repo.path))
    assert again.reads == {"git_commands": 2}
    assert set(harness.commits()) == stored  # nothing already stored is dropped
    cursor = harness.warehouse.get_cursor("repo", "commits")
    assert "refs/heads/gone" not in cursor["tips"]


def test_new_branch_at_stored_commit_reads_nothing(harness, new_repo):
    repo = new_repo()
    repo.commits(3)
    harness.sync(harness.source(path=repo.path))
    repo.git("branch", "release", "HEAD~1")
    again = harness.sync(harness.source(path=repo.path))
    assert again.reads.get("commits", 0) == 0
    assert again.reads["git_commands"] == 3  # rev-parse, show-ref, git log (prints nothing)


def test_incremental_generations_use_stored_parents(harness, tmp_path):
    repo = fast_import_dag(tmp_path / "dag", n=300, seed=11)
    harness.sync(harness.source(path=repo.path))
    # Grow every branch with merges of old commits, then sync only the new part.
    tips = repo.git("for-each-ref", "--format=%(objectname)", "refs/heads").split()
    for i, tip in enumerate(tips):
        repo.checkout(tip)
        repo.commit(f"grow {i}")
        date = repo.next_date()
        repo.git(
            "merge",
            "-q",
            "--no-ff",
            "-m",
            f"merge {i}",
            tips[(i + 1) % len(tips)],
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        repo.git("branch", "-f", f"b{i}", "HEAD")
    stats = harness.sync(harness.source(path=repo.path))
    assert 0 < stats.reads["commits"] <= 2 * len(tips)
    assert _generations(harness) == reference_generations(repo.path)


def test_rewritten_history_with_old_tips_gone(harness, new_repo):
    repo = new_repo()
    old = repo.commits(4)
    harness.sync(harness.source(path=repo.path))

    repo.git("reset", "-q", "--hard", old[1])
    rewritten = repo.commits(3, prefix="rewritten")
    repo.gc_everything()
    missing = repo.git("cat-file", "--batch-check", input=f"{old[3]}\n".encode())
    assert "missing" in missing

    stats = harness.sync(harness.source(path=repo.path))
    # The only stored tip is gone, so nothing can be excluded: the new tip's history is read
    # back to the root (old[0], old[1] again, harmlessly upserted) plus the 3 new commits.
    assert stats.reads["commits"] == 5
    rows = harness.commits()
    assert set(old) | set(rewritten) == set(rows)  # what was stored stays stored
    assert [rows[s]["generation"] for s in rewritten] == [3, 4, 5]
    assert rows[rewritten[0]]["parents"] == [old[1]]


def test_rewritten_history_old_tip_gone_but_a_tag_remains(harness, new_repo):
    repo = new_repo()
    old = repo.commits(4)
    repo.git("tag", "v1", old[1])
    harness.sync(harness.source(path=repo.path))
    repo.git("reset", "-q", "--hard", old[1])
    rewritten = repo.commits(3, prefix="rewritten")
    repo.gc_everything()
    stats = harness.sync(harness.source(path=repo.path))
    assert stats.reads["commits"] == 3  # the tag still excludes the shared history
    assert set(old) | set(rewritten) == set(harness.commits())
    assert _generations(harness)[rewritten[-1]] == 5


def test_rewritten_history_with_old_tips_present(harness, new_repo):
    repo = new_repo()
    old = repo.commits(3)
    harness.sync(harness.source(path=repo.path))
    repo.git("reset", "-q", "--hard", old[0])
    rewritten = repo.commits(2, prefix="force-pushed")
    stats = harness.sync(harness.source(path=repo.path))
    assert stats.reads["commits"] == 2
    assert {s: harness.commits()[s]["generation"] for s in rewritten} == {
        rewritten[0]: 2,
        rewritten[1]: 3,
    }


def test_full_rereads_everything(harness, new_repo):
    repo = new_repo()
    repo.commits(6)
    harness.sync(harness.source(path=repo.path))
    before = harness.warehouse.fingerprint("commits")
    full = harness.sync(harness.source(path=repo.path), full=True)
    assert full.reads["commits"] == 6
    assert harness.warehouse.fingerprint("commits") == before


def test_cursor_records_tips(harness, new_repo):
    repo = new_repo()
    head = repo.commits(2)[-1]
    repo.git("tag", "-a", "-m", "release", "v1")
    tag_object = repo.git("rev-parse", "v1").strip()
    harness.sync(harness.source(path=repo.path))
    cursor = harness.warehouse.get_cursor("repo", "commits")
    assert cursor["tips"] == {
        "HEAD": head,
        "refs/heads/main": head,
        "refs/tags/v1": tag_object,
    }


def test_cursor_from_another_version_rereads(harness, new_repo):
    repo = new_repo()
    repo.commits(3)
    harness.sync(harness.source(path=repo.path))
    with harness.warehouse.transaction():
        harness.warehouse.set_cursor("repo", "commits", {"tips": "garbage"})
    stats = harness.sync(harness.source(path=repo.path))
    assert stats.reads["commits"] == 3


def test_shallow_clone_and_deepen(harness, tmp_path):
    from .conftest import git

    origin = fast_import_dag(tmp_path / "origin", n=60, seed=3)
    clone = tmp_path / "clone"
    git(
        tmp_path,
        "clone",
        "-q",
        "--no-local",
        "--depth",
        "3",
        "--no-single-branch",
        f"file://{origin.path}",
        str(clone),
    )
    harness.sync(harness.source(path=clone))
    shallow = _generations(harness)
    assert shallow == reference_generations(clone)
    boundary = set((clone / ".git" / "shallow").read_text().split())
    assert {shallow[s] for s in boundary} == {1}  # their parents are absent
    assert all(harness.commits()[s]["parents"] == [] for s in boundary)

    git(clone, "fetch", "-q", "--unshallow")
    stats = harness.sync(harness.source(path=clone))
    # The boundary moved: everything is read again and the stored generations corrected.
    assert stats.reads["commits"] == len(reference_generations(clone))
    assert _generations(harness) == reference_generations(clone)


def test_new_tag_of_a_tree_reads_nothing(harness, new_repo):
    repo = new_repo()
    repo.commits(2)
    harness.sync(harness.source(path=repo.path))
    repo.git("tag", "tree-tag", repo.empty_tree())
    again = harness.sync(harness.source(path=repo.path))
    assert again.reads.get("commits", 0) == 0
    assert len(harness.commits()) == 2


def test_stopping_mid_stream_ends_git_and_threads(harness, tmp_path, monkeypatch):
    """When storing fails part-way, git is killed and the reader threads end."""
    import threading

    import mlreport.connectors.git as gitsource
    from mlreport.connectors import gitlog
    from mlreport.sources import Rows

    repo = fast_import_dag(tmp_path / "dag", n=300, seed=5)
    monkeypatch.setattr(gitlog, "CHUNK", 128)
    monkeypatch.setattr(gitlog, "NAP", 0)
    monkeypatch.setattr(gitsource, "BATCH", 5)
    source = harness.source(path=repo.path)
    items = source.read(source.streams()[0], None)
    first = next(item for item in items if isinstance(item, Rows))
    assert first.frame.height >= 5
    items.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("git-log")]
    assert alive == []
