"""Validate a workflow whole before anything is written (`jobs.graph.workflows`).

Every node: a key `[A-Za-z0-9_.:-]{1,64}`; a declared job, not internal, unique or debounced
(an equal job would stand in for the node, and the edges would point at another job); its
input valid against the job's model; its options as `enqueue` takes them (priority, queue,
pinned queues). Then: every `after` key names a node, no cycle (named), at most
`MAX_WORKFLOW_NODES` nodes and `MAX_EDGES_PER_REQUEST` edges (`jobs.graph.edge_limit`). The
result comes parents first, the order the writes need.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from jobs.declare.queues import UnknownQueue
from jobs.declare.registry import DECLARED, JobSpec, load_catalog
from jobs.enqueue.options import EnqueueOptions
from jobs.enqueue.plan import InvalidDependency, InvalidPriority, QueuePinned, UnknownJobName, plan
from jobs.graph.dependencies import OnParentFailure
from jobs.graph.edge_limit import check_edges
from jobs.graph.workflows import (
    InvalidWorkflow,
    JobRef,
    Node,
    NodeQueuePinned,
    NodeUnknownQueue,
    Workflow,
    WorkflowTooLarge,
)
from jobs.layout.ids import InvalidQueueName
from jobs.settings import Settings

NODE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True, slots=True)
class Planned:
    """A validated node: its job's checked options (`jobs.enqueue.submit.plan`) and input."""

    key: str
    name: str
    data: Any
    after: tuple[str, ...]
    queue: str
    priority: int
    on_parent_failure: OnParentFailure


def _name_of(job: JobRef) -> str:
    if isinstance(job, str):
        return job
    if isinstance(job, JobSpec):
        return job.name
    found = next((d.name for d in DECLARED.values() if d.function is job), None)
    if found is None:
        raise UnknownJobName(f"{getattr(job, '__name__', job)!r} is not a declared job")
    return found


def _plan_node(key: str, node: Node, catalog: Mapping[str, JobSpec], s: Settings) -> Planned:
    if not NODE_KEY.fullmatch(key):
        raise InvalidWorkflow("a node key is [A-Za-z0-9_.:-]{1,64}", key, "key")
    t = node.task
    try:
        name = _name_of(t.job)
    except UnknownJobName as exc:
        raise InvalidWorkflow(str(exc), key, "job") from None
    spec = catalog.get(name)
    if spec is None or spec.internal:
        raise InvalidWorkflow(f"no job named {name!r} is declared", key, "job")
    if spec.flow.debounce_s is not None or spec.flow.unique_for_s is not None:
        # An equal job would stand in for the node: its edges would point at another job.
        raise InvalidWorkflow(f"job {name!r} is unique or debounced: not in a workflow", key, "job")
    raw = t.input.model_dump(mode="json") if isinstance(t.input, BaseModel) else t.input
    try:
        data = spec.enqueue_model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise InvalidWorkflow("input is invalid", key, "input", errors) from None
    try:
        options = EnqueueOptions(
            queue=t.queue, priority=t.priority, on_parent_failure=t.on_parent_failure
        )
        o = plan(spec, options, s)
    except QueuePinned as exc:
        raise NodeQueuePinned(str(exc), key, "queue") from None
    except UnknownQueue as exc:
        raise NodeUnknownQueue(str(exc), key, "queue") from None
    except InvalidPriority as exc:
        raise InvalidWorkflow(str(exc), key, "priority") from None
    except InvalidQueueName as exc:
        raise InvalidWorkflow(str(exc), key, "queue") from None
    except InvalidDependency as exc:
        raise InvalidWorkflow(str(exc), key, "on_parent_failure") from None
    return Planned(
        key,
        name,
        data.model_dump(mode="json"),
        node.after,
        o.queue.name,
        o.priority,
        t.on_parent_failure,
    )


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of `edges` (node -> the nodes it waits for) as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(edges[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            node, pending = stack[-1]
            nxt = next(iter(pending), None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(edges[nxt])))
    return None


def validate(
    flow: Workflow,
    settings: Settings,
    *,
    catalog: Mapping[str, JobSpec] | None = None,
    limit: int | None = None,
    max_edges: int | None = None,
) -> list[Planned]:
    """Every node checked, in an order where parents come first; raises `InvalidWorkflow`
    (or `TooManyEdges` past `max_edges`, by default `MAX_EDGES_PER_REQUEST`)."""
    limit = settings.max_workflow_nodes if limit is None else limit
    if not flow.nodes:
        raise InvalidWorkflow("a workflow needs at least one node")
    if len(flow.nodes) > limit:
        raise WorkflowTooLarge(f"{len(flow.nodes)} nodes; at most {limit}")
    edges = sum(len(node.after) for node in flow.nodes.values())
    max_edges = settings.max_edges_per_request if max_edges is None else max_edges
    check_edges(edges, max_edges, f"a workflow of {len(flow.nodes)} nodes")
    catalog = catalog if catalog is not None else load_catalog(settings)
    planned = {key: _plan_node(key, node, catalog, settings) for key, node in flow.nodes.items()}
    for key, node in flow.nodes.items():
        unknown = [p for p in node.after if p not in flow.nodes]
        if unknown:
            raise InvalidWorkflow(f"after names no node: {', '.join(unknown)}", key, "after")
    cycle = find_cycle({k: n.after for k, n in flow.nodes.items()})
    if cycle:
        raise InvalidWorkflow(f"cycle: {' -> '.join(cycle)}", cycle[0], "after", cycle)
    return _parents_first(planned)


def _parents_first(planned: dict[str, Planned]) -> list[Planned]:
    order: list[Planned] = []
    placed: set[str] = set()
    pending = list(planned.values())
    while pending:  # no cycle: every round places at least one node
        later = []
        for p in pending:
            if all(a in placed for a in p.after):
                order.append(p)
                placed.add(p.key)
            else:
                later.append(p)
        pending = later
    return order
