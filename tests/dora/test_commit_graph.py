"""The vectorised rev-list against a depth-first search, and the graph's building blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlreport.plugins.dora.commit_graph import CommitGraph, CommitGraphError
from mlreport.plugins.dora.graph_loading import build_csr, compute_generations, load_commit_graph
from mlreport.plugins.dora.rev_list import rev_list
from mlreport.warehouse import Warehouse

from .builder import Data
from .reference import reach


def graph_of(parents: list[list[int]], generation: np.ndarray | None = None) -> CommitGraph:
    n = len(parents)
    child = np.array([c for c in range(n) for _ in parents[c]], dtype=np.int64)
    parent = np.array([p for c in range(n) for p in parents[c]], dtype=np.int64)
    ptr, flat = build_csr(n, child, parent)
    gen = compute_generations(n, ptr, flat) if generation is None else generation
    zeros = np.zeros(n, dtype=np.int64)
    return CommitGraph(("r",), np.arange(n), zeros.astype(np.int32), gen, zeros, ptr, flat)


@st.composite
def dags(draw) -> tuple[list[list[int]], list[tuple[int, int]]]:
    n = draw(st.integers(1, 80))
    parents: list[list[int]] = []
    for i in range(n):
        shape = draw(st.sampled_from(["line"] * 5 + ["jump", "merge", "root"]))
        ps: set[int] = set()
        if i and shape in ("line", "merge"):
            ps.add(i - 1)
        if i and shape in ("jump", "merge"):
            ps.add(draw(st.integers(0, i - 1)))
        parents.append(sorted(ps))
    # node numbers: in history order, in git-log order (children first), or shuffled
    order = draw(st.sampled_from(["history", "log", "shuffled"]))
    if order == "history":
        perm = list(range(n))
    elif order == "log":
        perm = list(range(n - 1, -1, -1))
    else:
        perm = draw(st.permutations(range(n)))
    shuffled: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        shuffled[perm[i]] = [perm[p] for p in parents[i]]
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(-1, n - 1)), min_size=1, max_size=40)
    )
    return shuffled, pairs


@settings(max_examples=300, deadline=None)
@given(dags())
def test_rev_list_equals_reachability_difference(case):
    parents, pairs = case
    g = graph_of(parents)
    heads = np.array([h for h, _ in pairs])
    bases = np.array([b for _, b in pairs])
    k, nodes = rev_list(g, heads, bases)
    as_dict = {i: ps for i, ps in enumerate(parents)}
    for i, (h, b) in enumerate(pairs):
        got = nodes[k == i].tolist()
        assert len(got) == len(set(got))
        want = reach(as_dict, h) - (reach(as_dict, b) if b >= 0 else set())
        assert set(got) == want, (i, h, b)


@settings(max_examples=100, deadline=None)
@given(dags())
def test_generations_follow_the_definition(case):
    parents, _ = case
    gen = graph_of(parents).generation
    for i, ps in enumerate(parents):
        assert gen[i] == 1 + max((gen[p] for p in ps), default=0)


def test_a_parent_listed_twice_is_one_edge():
    ptr, flat = build_csr(3, np.array([2, 2, 2, 1]), np.array([0, 1, 0, 0]))
    assert ptr.tolist() == [0, 0, 1, 3]
    assert sorted(flat[1:3].tolist()) == [0, 1]


def test_a_cycle_is_an_error_naming_the_commit(tmp_path):
    d = Data()
    d.commit("a", ("b",), generation=None)
    d.commit("b", ("a",), generation=None)
    with Warehouse(tmp_path / "w.duckdb") as wh, pytest.raises(CommitGraphError) as err:
        load_commit_graph(d.write(wh).con, ["repo"])
    assert "repo" in str(err.value) and "cycle" in str(err.value)


def test_missing_parents_are_ignored_and_generations_recomputed(tmp_path):
    d = Data()
    d.commit("a", ("gone",), generation=None)  # shallow history: parent not stored
    d.commit("b", ("a",), generation=None)
    d.commit("x", (), generation=7, repo="other")  # stored generations are kept
    with Warehouse(tmp_path / "w.duckdb") as wh:
        g, _, _ = load_commit_graph(d.write(wh).con, ["repo", "other"])
    assert sorted(g.generation.tolist()) == [1, 2, 7]
    assert g.computed == ("repo",)
