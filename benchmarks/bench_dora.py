"""Benchmark: the ``dora`` and ``ops`` metric families against a straightforward pandas version.

    python benchmarks/bench_dora.py [--commits 5000000] [--deployments 1000000] [--rebuild]

The data set is generated once (seeded numpy, written straight into a DuckDB warehouse) and
cached under ``$XDG_CACHE_HOME/mlreport`` (default ``~/.cache/mlreport``). Shape:

* ``repos`` repositories, ``entities / repos`` entities deploying from each. Every entity has its
  own line of history in its repository (think: one service per release line of a monorepo):
  a first-parent chain with feature branches of 1–6 commits merged back through merge commits
  (8 % of main-line commits are merges, forked 1–40 commits earlier). All lines of a repository
  start from one shared root commit. ``generation`` is filled, as the git source does.
* Each entity deploys about every 4 hours, the newest main-line commit authored at least 0–24
  hours earlier (never older than what it deployed before), 5 % a feature-branch commit.
* 80 % of each entity's deployments go to ``production``, 20 % to ``staging``; statuses
  92 % success / 3 % failure / 5 % rolled_back; kinds 90 % planned / 7 % hotfix / 3 % rollback
  (a rollback redeploys the sha of two production deployments earlier); 1 % have no sha and
  0.5 % an unknown sha; 5 % deploy a feature-branch commit instead of the main line.
* Incidents: 6 % of the number of deployments, each after a random production deployment
  (3 % of them 7–8 days later, outside the attribution window); 25 % name their cause,
  1 % name an unknown one; 5 % unresolved; environments production / NULL / staging.

The fast path is ``mlreport.metrics.compute_metrics`` (both families, one window over the whole
span, results stored as ``mlreport metrics`` does). The reference is pandas for the tables plus,
for lead time, the definition as it reads: each entity's successful production deployments in
order, a set per (entity, repository) of the commits production already had, and a Python walk
from each deployment that stops at them. Both results must be equal (relative tolerance 1e-9).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from mlreport.config import parse_config
from mlreport.metrics import Window, compute_metrics
from mlreport.plugin_manager import get_plugins
from mlreport.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
CACHE_VERSION = 2

# -- data generation ------------------------------------------------------------------------


def _hex_shas(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random 40-hex-digit shas, vectorised (a lookup table of byte -> two hex digits)."""
    table = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    hexed = np.ascontiguousarray(table[raw]).view("S40").ravel()
    arr = pa.array(hexed, type=pa.binary())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def _line(rng: np.random.Generator, main_len: int) -> dict[str, np.ndarray]:
    """One entity's line of history, as local node numbers (main commits first, then sides).

    Node ``-1`` stands for the repository's root commit.
    """
    m_all = np.arange(main_len)
    is_merge = (rng.random(main_len) < 0.08) & (m_all >= 2)
    mpos = np.flatnonzero(is_merge)
    lengths = rng.integers(1, 7, size=mpos.size)
    forks = np.maximum(0, mpos - rng.integers(1, 41, size=mpos.size))
    # generations: +1 per main commit, plus whatever a long side branch adds at its merge
    extra = np.zeros(main_len, dtype=np.int64)
    merge_extra_cum = np.zeros(mpos.size, dtype=np.int64)
    running = 0
    mpos_list, forks_list, len_list = mpos.tolist(), forks.tolist(), lengths.tolist()
    import bisect

    for i, (m, f, ln) in enumerate(zip(mpos_list, forks_list, len_list, strict=True)):
        j = bisect.bisect_right(mpos_list, f, 0, i)  # merges at positions <= fork
        e_fork = int(merge_extra_cum[j - 1]) if j else 0
        gen_fork = f + 2 + e_fork
        gen_prev = (m - 1) + 2 + running
        add = max(0, gen_fork + ln - gen_prev)
        running += add
        merge_extra_cum[i] = running
        extra[m] = add
    main_gen = m_all + 2 + np.cumsum(extra)
    # main-line times: evenly spread over the span with jitter
    step = SPAN_DAYS * US_PER_DAY / main_len
    main_t = (T0_US + (m_all + rng.random(main_len) * 0.9) * step).astype(np.int64)
    # side commits
    n_side = int(lengths.sum())
    owner = np.repeat(np.arange(mpos.size), lengths)
    first = np.cumsum(lengths) - lengths
    j_in = np.arange(n_side) - np.repeat(first, lengths) + 1  # 1..L
    side_id = main_len + np.arange(n_side)
    side_parent = np.where(j_in == 1, forks[owner], side_id - 1)
    side_gen = main_gen[forks[owner]] + j_in
    tf, tm = main_t[forks[owner]], main_t[mpos[owner]]
    side_t = tf + ((tm - tf) * j_in // (lengths[owner] + 1))
    last_side = main_len + np.cumsum(lengths) - 1
    # edges (child, parent), local numbering; -1 = root
    main_first_parent = np.concatenate([[-1], m_all[:-1]])
    child = np.concatenate([m_all, mpos, side_id])
    parent = np.concatenate([main_first_parent, last_side, side_parent])
    return {
        "n": main_len + n_side,
        "main_len": main_len,
        "gen": np.concatenate([main_gen, side_gen]),
        "t": np.concatenate([main_t, side_t]),
        "child": child,
        "parent": parent,
        "side_ids": side_id,
        "side_t": side_t,
    }


T0_US = int(T0.timestamp() * 1_000_000)


def _flat(arr):
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def generate(path: Path, commits: int, deployments: int, entities: int, repos: int, seed: int):
    """Write the benchmark warehouse at ``path``."""
    rng = np.random.default_rng(seed)
    per_line = commits // entities
    main_len = int(per_line / (1 + 0.08 * 3.5))
    per_repo = entities // repos
    lines = [_line(rng, main_len) for _ in range(entities)]
    # global node numbering: one root per repository, then each line's nodes
    offsets, total = [], repos
    for ln in lines:
        offsets.append(total)
        total += ln["n"]
    shas = _hex_shas(rng, total)
    repo_of = np.empty(total, dtype=np.int64)
    repo_of[:repos] = np.arange(repos)
    gen = np.ones(total, dtype=np.int64)
    t = np.full(total, T0_US - US_PER_DAY, dtype=np.int64)
    e_child, e_parent = [], []
    for e, (ln, off) in enumerate(zip(lines, offsets, strict=True)):
        r = e // per_repo if e // per_repo < repos else repos - 1
        repo_of[off : off + ln["n"]] = r
        gen[off : off + ln["n"]] = ln["gen"]
        t[off : off + ln["n"]] = ln["t"]
        e_child.append(ln["child"] + off)
        e_parent.append(np.where(ln["parent"] < 0, r, ln["parent"] + off))
    child = np.concatenate(e_child)
    parent = np.concatenate(e_parent)
    order = np.argsort(child, kind="stable")
    child, parent = child[order], parent[order]
    counts = np.bincount(child, minlength=total)
    list_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    parents = pa.ListArray.from_arrays(pa.array(list_offsets), _flat(shas.take(pa.array(parent))))
    repo_names = np.array([f"repo-{r}" for r in range(repos)], dtype=object)
    commits_tbl = pa.table(
        {
            "repo": pa.array(repo_names[repo_of], type=pa.string()),
            "sha": shas,
            "parents": parents,
            "generation": pa.array(gen),
            "author_email": pa.array(np.full(total, "dev@example.com", dtype=object)),
            "authored_at": _ts(t),
            "committed_at": _ts(t),
            "source": pa.array(np.full(total, "bench", dtype=object)),
        }
    )
    deps_tbl = _deployments(rng, lines, offsets, shas, deployments, entities)
    inc_tbl = _incidents(rng, deps_tbl, int(deployments * 0.06))
    ent_names = [f"svc-{e:03d}" for e in range(entities)]
    mapped = [e for e in range(entities) if e % 25 != 7]  # a few entities without a mapping
    repo_ent = pa.table(
        {
            "repo": [f"repo-{min(e // per_repo, repos - 1)}" for e in mapped],
            "entity": [ent_names[e] for e in mapped],
            "source": ["bench"] * len(mapped),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    with Warehouse(tmp) as wh:
        con = wh.con
        for name, tbl in (
            ("commits", commits_tbl),
            ("deployments", deps_tbl),
            ("incidents", inc_tbl),
            ("repo_entities", repo_ent),
        ):
            con.register("_bench_batch", tbl)
            cols = ", ".join(f'"{c}"' for c in tbl.column_names)
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _bench_batch")
            con.unregister("_bench_batch")
        con.execute(
            "INSERT INTO entities (kind, name) SELECT DISTINCT 'service', entity FROM deployments"
        )
        con.execute("CHECKPOINT")
    tmp.rename(path)


def _deployments(rng, lines, offsets, shas, n_deploys, n_entities):
    per_entity = n_deploys // n_entities
    cols: dict[str, list] = {k: [] for k in ("entity", "environment", "node", "t", "kind")}
    for e, (ln, off) in enumerate(zip(lines, offsets, strict=True)):
        t = np.sort(
            T0_US
            + US_PER_DAY
            + rng.integers(0, (SPAN_DAYS - 1) * US_PER_DAY, size=per_entity, dtype=np.int64)
        )
        env = np.where(rng.random(per_entity) < 0.8, "production", "staging")
        main_t = ln["t"][: ln["main_len"]]
        ready = t - rng.integers(0, 24 * US_PER_HOUR, size=per_entity)
        pos = np.clip(np.searchsorted(main_t, ready, side="right") - 1, 0, None)
        node = np.maximum.accumulate(pos)  # pipelines deploy ever newer commits...
        side_order = np.argsort(ln["side_t"], kind="stable")
        side_sorted_t = ln["side_t"][side_order]
        use_side = rng.random(per_entity) < 0.05
        spos = np.searchsorted(side_sorted_t, ready, side="right") - 1
        use_side &= spos >= 0
        node[use_side] = ln["side_ids"][side_order[spos[use_side]]]
        kind = rng.choice(["planned", "hotfix", "rollback"], size=per_entity, p=[0.9, 0.07, 0.03])
        # ...except a rollback, which redeploys the sha of two production deployments earlier
        prod_idx = np.flatnonzero(env == "production")
        rb = np.flatnonzero((kind[prod_idx] == "rollback") & (np.arange(prod_idx.size) >= 2))
        node[prod_idx[rb]] = node[prod_idx[rb - 2]]
        kind[env == "staging"] = "planned"
        cols["entity"].append(np.full(per_entity, f"svc-{e:03d}", dtype=object))
        cols["environment"].append(env)
        cols["node"].append(node + off)
        cols["t"].append(t)
        cols["kind"].append(kind)
    node = np.concatenate(cols["node"])
    n = node.size
    sha = shas.take(pa.array(node)).to_numpy(zero_copy_only=False).astype(object)
    u = rng.random(n)
    sha[u < 0.01] = None
    unknown = (u >= 0.01) & (u < 0.015)
    sha[unknown] = _hex_shas(rng, int(unknown.sum())).to_numpy(zero_copy_only=False)
    t = np.concatenate(cols["t"])
    status = rng.choice(["success", "failure", "rolled_back"], size=n, p=[0.92, 0.03, 0.05])
    trigger = rng.choice(["automated", "manual", None], size=n, p=[0.85, 0.14, 0.01])
    tbl = pa.table(
        {
            "source": pa.array(np.full(n, "deploy-log", dtype=object)),
            "deployment_id": pa.array([f"d{i:07d}" for i in range(n)]),
            "entity": pa.array(np.concatenate(cols["entity"])),
            "environment": pa.array(np.concatenate(cols["environment"]).astype(object)),
            "commit_sha": pa.array(sha, type=pa.string()),
            "started_at": _ts(t - 600_000_000),
            "finished_at": _ts(t),
            "status": pa.array(status.astype(object)),
            "kind": pa.array(np.concatenate(cols["kind"]).astype(object)),
            "trigger": pa.array(trigger, type=pa.string()),
        }
    )
    return tbl


def _incidents(rng, deps: pa.Table, n: int) -> pa.Table:
    env = deps.column("environment").to_numpy(zero_copy_only=False)
    prod = np.flatnonzero(env == "production")
    pick = prod[rng.integers(0, prod.size, size=n)]
    fin = deps.column("finished_at").cast(pa.int64()).to_numpy()[pick]
    late = rng.random(n) < 0.03
    delay = np.where(
        late,
        rng.integers(7 * US_PER_DAY, 8 * US_PER_DAY, size=n),
        (rng.exponential(30, size=n) * US_PER_HOUR).astype(np.int64),
    )
    detected = fin + delay
    resolved = detected + (rng.exponential(6, size=n) * US_PER_HOUR).astype(np.int64) + 1
    resolved_arr = _ts(resolved)
    open_mask = rng.random(n) < 0.05
    resolved_arr = pa.array(
        [None if o else v for o, v in zip(open_mask, resolved_arr.to_pylist(), strict=True)],
        type=pa.timestamp("us", tz="UTC"),
    )
    ids = deps.column("deployment_id").to_numpy(zero_copy_only=False)[pick].astype(object)
    u = rng.random(n)
    cause = np.where(u < 0.25, ids, None)
    cause[(u >= 0.25) & (u < 0.26)] = "no-such-deployment"
    ienv = rng.choice(["production", None, "staging"], size=n, p=[0.8, 0.15, 0.05])
    ents = deps.column("entity").to_numpy(zero_copy_only=False)[pick]
    return pa.table(
        {
            "source": pa.array(np.full(n, "pager", dtype=object)),
            "incident_id": pa.array([f"i{i:07d}" for i in range(n)]),
            "entity": pa.array(ents.astype(object)),
            "environment": pa.array(ienv, type=pa.string()),
            "severity": pa.array(np.full(n, "sev2", dtype=object)),
            "detected_at": _ts(detected),
            "resolved_at": resolved_arr,
            "cause_deployment_id": pa.array(cause, type=pa.string()),
        }
    )


def cached_warehouse(args) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlreport"
    name = (
        f"bench_dora_v{CACHE_VERSION}_{args.commits}c_{args.deployments}d_"
        f"{args.entities}e_{args.repos}r_s{args.seed}.duckdb"
    )
    path = base / name
    if args.rebuild or not path.exists():
        t = time.perf_counter()
        print(f"generating {path} ...", file=sys.stderr)
        generate(path, args.commits, args.deployments, args.entities, args.repos, args.seed)
        print(f"  generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


# -- the straightforward pandas version --------------------------------------------------------

STATS = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))


def _dims(env: str | None, stat: str | None = None) -> str:
    d = {}
    if env is not None:
        d["environment"] = env
    if stat is not None:
        d["stat"] = stat
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def first_reached(commits: dict, head: str, shipped: set[str]) -> list[str]:
    """Commits reachable from ``head`` that are not in ``shipped`` (what production already
    had), by a plain stack walk that stops at shipped commits; adds them to ``shipped``."""
    out = []
    todo = [head]
    while todo:
        c = todo.pop()
        if c in shipped or c not in commits:
            continue
        shipped.add(c)
        out.append(c)
        todo.extend(commits[c][1])
    return out


def pandas_metrics(path: Path, window: Window, production=("production", "prod"), days=7.0):
    """{(metric, entity, dimensions): (value, n)} for one window, in pandas and Python."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    deps = con.sql("SELECT * FROM deployments").df()
    inc = con.sql("SELECT * FROM incidents").df()
    mapping = con.sql("SELECT repo, entity FROM repo_entities").df()
    rows = con.sql("SELECT repo, sha, generation, parents, authored_at FROM commits").fetchall()
    con.close()
    repos: dict[str, dict[str, tuple]] = {}
    for repo, sha, gen, parents, authored in rows:
        repos.setdefault(repo, {})[sha] = (gen, parents, authored)
    del rows
    deps = deps[deps["environment"].isin(production)]
    deps = deps.sort_values(["entity", "environment", "finished_at", "source", "deployment_id"])
    deps = deps.reset_index(drop=True)
    ok = deps["status"] == "success"
    # previous successful deployment (index) and next success time, per group
    idx = pd.Series(deps.index.where(ok, -1), index=deps.index).replace(-1, np.nan)
    deps["prev"] = idx.groupby([deps["entity"], deps["environment"]]).transform(
        lambda s: s.shift(1).ffill()
    )
    fin_ok = deps["finished_at"].where(ok)
    deps["next_success"] = fin_ok.groupby([deps["entity"], deps["environment"]]).transform(
        lambda s: s.shift(-1).bfill()
    )
    inside = (deps["finished_at"] >= window.start) & (deps["finished_at"] < window.end)
    # links and changes: each commit once, at its entity's first production deployment that
    # reaches it (per repository); the first deployment of a repository ships nothing
    mapped = mapping.groupby("entity")["repo"].apply(set).to_dict()
    all_repos = sorted(repos)
    lead: dict[int, list[float]] = {}
    linked = {}
    shipped: dict[tuple[str, str], set[str]] = {}
    reach_order = deps[ok].sort_values(
        ["entity", "finished_at", "environment", "source", "deployment_id"]
    )
    for i in reach_order.index:
        entity, sha = deps.at[i, "entity"], deps.at[i, "commit_sha"]
        repo = None
        if sha is not None:
            for r in sorted(mapped.get(entity, all_repos)):
                if sha in repos.get(r, {}):
                    repo = r
                    break
        linked[i] = repo is not None
        if repo is None:
            continue
        graph = repos[repo]
        first = (entity, repo) not in shipped
        new = first_reached(graph, sha, shipped.setdefault((entity, repo), set()))
        if first or not inside[i]:
            continue
        fin = deps.at[i, "finished_at"]
        lead[i] = [
            (fin - graph[c][2]).total_seconds() / 3600 for c in new if graph[c][2] is not None
        ]
    deps["linked"] = pd.Series(linked)
    # attribution
    inc["cause"] = inc["cause_deployment_id"].str.strip().replace("", None)
    inc["att"] = np.nan
    expl = inc[inc["cause"].notna()].reset_index()
    cand = deps.reset_index().rename(columns={"index": "di"})
    m = expl.merge(
        cand[["di", "entity", "deployment_id", "finished_at"]],
        left_on=["entity", "cause"],
        right_on=["entity", "deployment_id"],
    ).sort_values(["index", "finished_at", "di"])
    m = m.drop_duplicates("index", keep="last")
    inc.loc[m["index"].to_numpy(), "att"] = m["di"].to_numpy()
    counted = cand[cand["status"].isin(["success", "rolled_back"])]
    window_td = pd.Timedelta(days=days)
    for by, env_null in ((["entity", "environment"], False), (["entity"], True)):
        left = inc[inc["cause"].isna() & (inc["environment"].isna() == env_null)].reset_index()
        right = counted.sort_values(["finished_at", "di"]).drop_duplicates(
            by + ["finished_at"], keep="last"
        )
        if left.empty:
            continue
        hit = pd.merge_asof(
            left.sort_values("detected_at"),
            right[by + ["finished_at", "di"]].sort_values("finished_at"),
            left_on="detected_at",
            right_on="finished_at",
            by=by,
            direction="backward",
        )
        hit = hit[hit["finished_at"] >= hit["detected_at"] - window_td]
        inc.loc[hit["index"].to_numpy(), "att"] = hit["di"].to_numpy()
    # failures
    att = inc[inc["att"].notna()]
    per = att.groupby("att").agg(
        n=("incident_id", "size"),
        open=("resolved_at", lambda s: s.isna().sum()),
        last=("resolved_at", "max"),
    )
    deps["counted"] = deps["status"].isin(["success", "rolled_back"])
    deps = deps.join(per, how="left")
    has_inc = deps["n"].fillna(0) > 0
    deps["failed"] = deps["counted"] & ((deps["status"] == "rolled_back") | has_inc)
    by_incident = deps["failed"] & has_inc & (deps["open"] == 0)
    roll = deps["failed"] & ~has_inc
    deps["recovered"] = deps["last"].where(by_incident, deps["next_success"].where(roll))
    # rework: merged incident intervals per entity, then an as-of join
    iv = inc[inc["resolved_at"].isna() | (inc["resolved_at"] >= inc["detected_at"])].copy()
    never = pd.Timestamp("2262-01-01", tz="UTC").as_unit("us")
    iv["end"] = iv["resolved_at"].fillna(never)
    iv = iv.sort_values(["entity", "detected_at", "end"])
    prev_end = iv.groupby("entity")["end"].transform(lambda s: s.cummax().shift(1))
    iv["grp"] = (prev_end.isna() | (iv["detected_at"] > prev_end)).astype(int).cumsum()
    merged = iv.groupby("grp").agg(
        entity=("entity", "first"), s=("detected_at", "min"), e=("end", "max")
    )
    hit = pd.merge_asof(
        deps.reset_index().sort_values("finished_at"),
        merged.sort_values("s"),
        left_on="finished_at",
        right_on="s",
        by="entity",
        direction="backward",
    )
    during = hit.loc[hit["finished_at"] <= hit["e"], "index"]
    deps["rework"] = ok & (deps["kind"].isin(["hotfix", "rollback"]) | deps.index.isin(during))
    # rows
    out = {}
    d_in = deps[inside]
    for (entity, env), grp in d_in.groupby(["entity", "environment"]):
        succ = grp[grp["status"] == "success"]
        out[("dora.deployment_frequency", entity, _dims(env))] = (
            len(succ) / window.days * 7,
            len(succ),
        )
        vals = [x for i in succ.index for x in lead.get(i, [])]
        _put_stats(out, "dora.lead_time", entity, env, vals)
        cnt = grp[grp["counted"]]
        out[("dora.change_failure_rate", entity, _dims(env))] = (
            cnt["failed"].mean() if len(cnt) else None,
            len(cnt),
        )
        fl = cnt[cnt["failed"] & cnt["recovered"].notna()]
        hours = ((fl["recovered"] - fl["finished_at"]).dt.total_seconds() / 3600).tolist()
        _put_stats(out, "dora.recovery_time", entity, env, hours)
        still = int((cnt["failed"] & cnt["recovered"].isna()).sum())
        out[("dora.open_failures", entity, _dims(env))] = (
            float(still) if len(cnt) else None,
            len(cnt),
        )
        unl = int((~succ["linked"].astype(bool)).sum())
        out[("dora.unlinked_deployments", entity, _dims(env))] = (
            float(unl) if len(succ) else None,
            len(succ),
        )
        out[("dora.rework_rate", entity, _dims(env))] = (
            succ["rework"].mean() if len(succ) else None,
            len(succ),
        )
        out[("ops.automation_rate", entity, _dims(env))] = (
            (grp["trigger"] == "automated").mean(),
            len(grp),
        )
    i_in = inc[(inc["detected_at"] >= window.start) & (inc["detected_at"] < window.end)]
    restore = i_in[
        (i_in["environment"].isna() | i_in["environment"].isin(production))
        & i_in["resolved_at"].notna()
    ]
    for entity, grp in restore.groupby("entity"):
        hours = ((grp["resolved_at"] - grp["detected_at"]).dt.total_seconds() / 3600).tolist()
        _put_stats(out, "ops.time_to_restore", entity, None, hours)
    dep_cols = deps[["entity", "environment", "finished_at"]].add_suffix("_dep")
    det = i_in[i_in["att"].notna()].join(dep_cols, on="att")
    for (entity, env), grp in det.groupby(["entity_dep", "environment_dep"]):
        hours = ((grp["detected_at"] - grp["finished_at_dep"]).dt.total_seconds() / 3600).tolist()
        _put_stats(out, "ops.time_to_detect", entity, env, hours)
    return out


def _put_stats(out: dict, metric: str, entity: str, env: str | None, values: list[float]):
    if not values:
        return
    qs = np.quantile(values, [q for _, q in STATS])
    for (s, _), v in zip(STATS, qs, strict=True):
        out[(metric, entity, _dims(env, s))] = (float(v), len(values))


# -- comparing and timing ---------------------------------------------------------------------


def compare(fast: pl.DataFrame, slow: dict) -> list[str]:
    """Every non-empty fast row must equal the pandas row (rtol 1e-9), and vice versa."""
    problems = []
    got = {}
    for r in fast.iter_rows(named=True):
        if r["n"] or (r["value"] not in (None, 0.0)):
            got[(r["metric"], r["entity"], r["dimensions"])] = (r["value"], r["n"])
    for key in sorted(set(got) | set(slow)):
        a, b = got.get(key), slow.get(key)
        if a is None or b is None:
            problems.append(f"{key}: fast {a} pandas {b}")
            continue
        (va, na), (vb, nb) = a, b
        same = na == nb and (
            (va is None and vb is None)
            or (va is not None and vb is not None and math.isclose(va, vb, rel_tol=1e-9))
        )
        if not same:
            problems.append(f"{key}: fast {a} pandas {b}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", type=int, default=5_000_000)
    ap.add_argument("--deployments", type=int, default=1_000_000)
    ap.add_argument("--entities", type=int, default=200)
    ap.add_argument("--repos", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rebuild", action="store_true", help="regenerate the cached data set")
    ap.add_argument("--skip-pandas", action="store_true")
    args = ap.parse_args(argv)
    path = cached_warehouse(args)
    work = path.with_name(path.stem + ".work.duckdb")  # metric_values are written here
    import shutil

    shutil.copyfile(path, work)
    os.sync()  # flush the copy now, so disk write-back does not run during the timing
    window = Window(T0 - timedelta(days=2), T0 + timedelta(days=SPAN_DAYS + 10))
    config = parse_config("", None, Path("."))
    get_plugins().metrics()  # import the plugins before timing, as a long-running job has
    with Warehouse(work) as wh:
        sizes = {
            t: wh.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("commits", "deployments", "incidents")
        }
        t0, c0 = time.perf_counter(), time.process_time()
        fast = compute_metrics(wh, config, [window], "*")
        fast_s, fast_cpu = time.perf_counter() - t0, time.process_time() - c0
    work.unlink(missing_ok=True)
    print(
        f"data: {sizes['commits']:,} commits, {sizes['deployments']:,} deployments, "
        f"{sizes['incidents']:,} incidents, {args.entities} entities, {args.repos} repos"
    )
    print(f"mlreport dora+ops: {fast_s:.2f} s wall ({fast_cpu:.2f} s CPU), {fast.height} rows")
    if args.skip_pandas:
        return 0
    t0, c0 = time.perf_counter(), time.process_time()
    slow = pandas_metrics(path, window)
    slow_s, slow_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"pandas reference:  {slow_s:.2f} s wall ({slow_cpu:.2f} s CPU)")
    print(f"ratio: {slow_s / fast_s:.1f}x faster (wall), {slow_cpu / fast_cpu:.1f}x (CPU)")
    problems = compare(fast, slow)
    if problems:
        print(f"MISMATCH in {len(problems)} rows, e.g.:")
        for p in problems[:10]:
            print("  " + p)
        return 1
    print(f"results equal: {len(slow)} non-empty rows compared (rtol 1e-9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
