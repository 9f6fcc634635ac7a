"""The edges one request may create: `MAX_EDGES_PER_REQUEST` (a setting).

An edge is one job waiting for one parent; each costs a member in the child's `deps` set and
one in the parent's `children` set (about 200 bytes together, measured). Without a cap, one
bulk of 1,000 items `after` 200 parents wrote 200,000 of them (35 MiB) from a 10 KB request.
Counted before anything is written: a single enqueue's `after`; a bulk's items x `after`; a
workflow's `after` lists. A batch's edges are its shape (each member waits for nothing and is
waited for by at most its two callbacks), bounded by `MAX_BATCH_JOBS`.
"""


class TooManyEdges(ValueError):
    """A request would create more dependency edges than `MAX_EDGES_PER_REQUEST`; nothing was
    written."""

    def __init__(self, edges: int, limit: int, what: str) -> None:
        super().__init__(
            f"{what} makes {edges} dependency edges; at most {limit} per request "
            "(MAX_EDGES_PER_REQUEST)"
        )
        self.edges = edges
        self.limit = limit


def check_edges(edges: int, limit: int, what: str) -> None:
    """Raise `TooManyEdges` when `edges` is past `limit`."""
    if edges > limit:
        raise TooManyEdges(edges, limit, what)
