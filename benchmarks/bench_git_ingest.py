"""Git ingest against its floor: a full sync of a 100,000-commit history vs `git log` alone.

The floor is the very `git log` the sync runs (same flags, same fields, same revisions on
stdin), its stdout drained through a pipe and thrown away. The sync is a full
`mlreport.sources.sync_source` of the same repository into a fresh DuckDB file: listing refs,
streaming and parsing the log, generation numbers, and storing every row. Both are timed best
of 3 in the same run; the target is a ratio of at most 1.5.

The repository is built once with `git fast-import` and cached (set MLREPORT_BENCH_CACHE to
choose where; default: the system temp folder). Run: python benchmarks/bench_git_ingest.py
[--commits N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlreport.config import parse_config
from mlreport.sources import Rows, build_source, sync_source
from mlreport.warehouse import Warehouse

TARGET = 1.5
TIME_ZONES = ("+0000", "+0100", "-0500", "+0530", "-0800", "+0900", "+1245", "-0330")
WORDS = (
    "fix",
    "add",
    "model",
    "feature",
    "drift",
    "threshold",
    "pipeline",
    "retry",
    "cache",
    "deploy",
    "schema",
    "metrics",
    "refactor",
    "docs",
    "bump",
    "config",
    "test",
    "flaky",
)


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    return env


def fast_import_stream(n: int) -> bytes:
    """``n`` commits: a main line, topic branches forked from older commits and merged back
    every ~25 commits, a tag every 1,000 commits, a few long-lived release branches."""
    out: list[bytes] = []
    mark = 0
    when = 1_500_000_000
    main: list[int] = []

    def commit(ref: str, subject: str, first: int | None, merge: int | None = None) -> int:
        nonlocal mark, when
        mark += 1
        when += 97 + mark % 300
        tz = TIME_ZONES[mark % len(TIME_ZONES)]
        who = f"Developer {mark % 211} <dev{mark % 211}@example.com>"
        msg = f"{subject}\n\nBody of commit {mark}.\n".encode()
        body = f"{mark}\n".encode()
        out.append(
            f"commit {ref}\nmark :{mark}\nauthor {who} {when} {tz}\n"
            f"committer {who} {when + 30} {tz}\ndata {len(msg)}\n".encode()
            + msg
            + (f"from :{first}\n".encode() if first else b"")
            + (f"merge :{merge}\n".encode() if merge else b"")
            + f"M 644 inline src/f{mark % 50}.py\ndata {len(body)}\n".encode()
            + body
            + b"\n"
        )
        return mark

    k = 0
    while mark < n:
        k += 1
        words = " ".join(WORDS[(k * i) % len(WORDS)] for i in range(1, 2 + k % 6))
        if main and k % 25 == 0 and mark + 5 <= n:
            fork = main[max(0, len(main) - 1 - k % 7)]
            tip = fork
            for i in range(3):
                tip = commit(f"refs/heads/topic/{k}", f"topic {k}: {words} ({i})", tip)
            main.append(commit("refs/heads/main", f"Merge branch 'topic/{k}'", main[-1], tip))
        else:
            main.append(commit("refs/heads/main", f"{words} #{k}", main[-1] if main else None))
        if k % 1000 == 0:
            out.append(f"reset refs/tags/v{k // 1000}.0\nfrom :{main[-1]}\n\n".encode())
        if k % 20000 == 0:
            out.append(f"reset refs/heads/release/{k // 20000}\nfrom :{main[-1]}\n\n".encode())
    return b"".join(out)


def build_repo(n: int) -> Path:
    """The cached benchmark repository with ``n`` commits (built on first use)."""
    cache = Path(os.environ.get("MLREPORT_BENCH_CACHE", tempfile.gettempdir()))
    path = cache / "mlreport-bench" / f"git-{n}-v1"
    if (path / "READY").exists():
        return path
    staging = path.with_name(path.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    env = git_env()
    print(f"building a {n:,}-commit repository in {path} (once) ...", file=sys.stderr)
    subprocess.run(["git", "init", "-q", "-b", "main", str(staging)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(staging), "fast-import", "--quiet"],
        input=fast_import_stream(n),
        check=True,
        env=env,
    )
    # As after `git gc`: a commit-graph file, which makes git log (the floor) faster.
    subprocess.run(
        ["git", "-C", str(staging), "commit-graph", "write", "--reachable"], check=True, env=env
    )
    (staging / "READY").write_text("ok\n")
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    return path


def make_source(repo: Path, base: Path):
    text = f'[[sources]]\nname = "bench"\ntype = "git"\npath = "{repo}"\n'
    config = parse_config(text, None, base)
    return build_source(config.sources[0], config, 0)


def time_floor(repo: Path, work: Path) -> tuple[float, int]:
    """`git log` alone, exactly as the sync runs it, stdout drained through a pipe."""
    source = make_source(repo, work)
    tips = sorted(set(source.repo_state().tips.values()))
    argv, stdin, env = source.log_command(tips, [])
    with tempfile.TemporaryFile() as revs:
        revs.write(stdin)
        revs.seek(0)
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=revs, stdout=subprocess.PIPE, env=env, bufsize=0)
        nbytes, buf = 0, bytearray(1 << 20)
        while n := proc.stdout.readinto(buf):
            nbytes += n
        proc.wait()
        elapsed = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"git log failed with exit {proc.returncode}")
    return elapsed, nbytes


def time_read(repo: Path, work: Path) -> tuple[float, int]:
    """The source alone: git log, parsing and generation numbers, nothing stored.

    Not part of the target; it shows how the sync's time splits between reading and storing.
    """
    source = make_source(repo, work)
    stream = source.streams()[0]
    started = time.perf_counter()
    n = sum(item.frame.height for item in source.read(stream, None) if isinstance(item, Rows))
    return time.perf_counter() - started, n


def time_sync(repo: Path, work: Path, round_: int) -> tuple[float, int]:
    """A full sync into a fresh DuckDB file."""
    db = work / f"sync{round_}.duckdb"
    with Warehouse(db) as wh:
        source = make_source(repo, work)
        started = time.perf_counter()
        stats = sync_source(wh, source, full=True)
        elapsed = time.perf_counter() - started
        stored = wh.con.execute("SELECT count(*) FROM commits").fetchone()[0]
    db.unlink()
    if stored != stats.reads.get("commits"):
        raise SystemExit(f"stored {stored} commits but read {stats.reads.get('commits')}")
    return elapsed, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    repo = build_repo(args.commits)
    floors, reads, syncs = [], [], []
    with tempfile.TemporaryDirectory(prefix="mlreport-bench-") as tmp:
        work = Path(tmp)
        for r in range(args.rounds):  # interleaved, so a busy moment hits every side
            floors.append(time_floor(repo, work))
            syncs.append(time_sync(repo, work, r))
            reads.append(time_read(repo, work))
    floor, nbytes = min(floors)
    sync, commits = min(syncs)
    read, _ = min(reads)
    ratio = sync / floor
    print(f"commits:       {commits:,} ({nbytes / 1e6:.1f} MB of git log output)")
    print(f"git log floor: {floor:.3f} s (best of {args.rounds})")
    print(f"mlreport sync: {sync:.3f} s (best of {args.rounds})")
    print(f"ratio:         {ratio:.2f} (target <= {TARGET})")
    print(f"(source alone, nothing stored: {read:.3f} s, {read / floor:.2f} x the floor)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
