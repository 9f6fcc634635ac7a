"""Cycles in a workflow's graph (`jobs.graph.workflow_validation.find_cycle`): found wherever
they are, named as a path that closes on itself; a graph without one passes whatever its shape."""

import itertools

import pytest

from jobs.graph.workflow_validation import find_cycle


@pytest.mark.parametrize(
    "edges",
    [
        {"a": []},
        {"a": [], "b": ["a"], "c": ["b"]},  # a chain
        {"top": [], "left": ["top"], "right": ["top"], "join": ["left", "right"]},  # a diamond
        {"x": [], "y": [], "join": ["x", "y", "x"]},  # a parent named twice is no cycle
    ],
)
def test_an_acyclic_graph_has_no_cycle(edges: dict[str, list[str]]) -> None:
    assert find_cycle(edges) is None


def _is_cycle_of(found: list[str] | None, edges: dict[str, list[str]]) -> bool:
    """`found` is [n0, n1, ..., n0] and each node waits for the next."""
    return (
        found is not None
        and len(found) >= 2
        and found[0] == found[-1]
        and all(b in edges[a] for a, b in itertools.pairwise(found))
    )


@pytest.mark.parametrize(
    ("edges", "members"),
    [
        ({"a": ["a"]}, {"a"}),
        ({"a": ["b"], "b": ["a"]}, {"a", "b"}),
        ({"a": ["c"], "b": ["a"], "c": ["b"]}, {"a", "b", "c"}),
        # Behind an acyclic part, and in a second component.
        ({"ok": [], "also": ["ok"], "p": ["q"], "q": ["r"], "r": ["p", "ok"]}, {"p", "q", "r"}),
        ({"entry": ["loop1"], "loop1": ["loop2"], "loop2": ["loop1"]}, {"loop1", "loop2"}),
    ],
)
def test_a_cycle_is_found_and_named_as_a_closed_path(
    edges: dict[str, list[str]], members: set[str]
) -> None:
    found = find_cycle(edges)
    assert _is_cycle_of(found, edges), found
    assert found is not None and set(found) == members
