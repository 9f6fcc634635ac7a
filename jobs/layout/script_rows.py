"""The rows `enqueue.lua` reads and the answers it gives for them, typed.

A row is a NamedTuple: named and typed for Python, and still the flat tuple the script reads
from ARGV (`args += row` costs nothing more). The script's row width is this tuple's length,
written into the script when it is loaded (`@ENQUEUE_ROW_WIDTH@`), so the two cannot drift.
"""

from typing import Any, Literal, NamedTuple


class EnqueueRow(NamedTuple):
    """One job, in the order `enqueue.lua` reads it (see the script's header)."""

    job_id: str
    definition: bytes
    """The definition without `et` (`JobDefinition.dump_open`): the script closes it."""
    delay_ms: int
    due_ms: int | str
    """Absolute due time (server ms), or '' for `delay_ms` after the server's now."""
    priority: int
    gates: bytes
    """`records.encode_gates`, or b'' for a job without limits."""
    unique_lock: str
    """'' for none."""
    unique_ttl_ms: int
    lock_mode: Literal["", "unique", "debounce"]
    expires: str
    """'' none, '+{ms}' after the enqueue, or absolute ms."""
    after: str
    """The parents it waits for: ids separated by spaces, or ''."""
    on_parent_failure: Literal["fail", "ignore"]
    fair_key: str
    """Its fair key value ('' none): served in turn with other values (lua/includes/fair.lua)."""


ENQUEUE_ROW_WIDTH = len(EnqueueRow._fields)

DUPLICATE = -1
"""A row's answer when a job with its id exists already (nothing created)."""
ORPHANED = -2
"""A row's answer when it waits for a row of the same call that was not created."""


class HeldByEqual(NamedTuple):
    """A row's answer when an equal job not final yet holds its unique or debounce lock."""

    kind: Literal["unique", "debounced"]
    """`unique`: nothing was created; `debounced`: that waiting job took this row's input and
    waits again, until `due_ms`."""
    job_id: str
    due_ms: int | None = None


RowAnswer = int | HeldByEqual
"""Due ms (created), `DUPLICATE`, `ORPHANED`, or the equal job that holds the lock."""


def row_answer(raw: Any) -> RowAnswer:
    """One row's value of `enqueue.lua`'s reply: an integer, or `{kind, id[, due]}`."""
    if isinstance(raw, int):
        return raw
    kind, job_id, *due = raw
    if kind == b"debounced":
        return HeldByEqual("debounced", job_id.decode(), int(due[0]))
    return HeldByEqual("unique", job_id.decode())
