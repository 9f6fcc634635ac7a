"""`GET /limits`: the flow-control gates that hold jobs now, for operators and the dashboard."""

from datetime import UTC, datetime

from fastapi import APIRouter

from jobs.declare.models import Model
from jobs.flow import gate_state
from jobs.layout.records import GateKind
from service.deps import CatalogDep, RedisDep
from service.schemas import AUTH_ERRORS, STORE_ERRORS

router = APIRouter(tags=["operations"], responses={**AUTH_ERRORS, **STORE_ERRORS})


class GateView(Model):
    """One gate: a job type's limit, or its limit for one key value."""

    queue: str
    gate: str
    """`c:{job}[:{key value}]` (concurrency) or `r:{job}[:{key value}]` (rate limit)."""
    kind: GateKind
    job: str
    key: str | None
    """The `concurrency_key`/`rate_key` field's value, for a per-key limit."""
    running: int | None
    """Concurrency: slots in use (running tries, and slots reserved for released jobs)."""
    limit: int | None
    """Concurrency: at most this many at once."""
    rate_limit: str | None
    """Rate: as declared, e.g. `20/s`."""
    held: int
    """Jobs held back here: status `queued`, `waiting_for` this kind."""
    next_admission: datetime | None
    """Rate: the earliest time the next job may start (now if it may)."""
    next_check: datetime | None
    """When the scripts look at the gate again: a rate admission, or a full gate's earliest
    lease end (a dead worker's slot frees then)."""


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@router.get("/limits")
async def list_limits(redis: RedisDep, catalog: CatalogDep) -> list[GateView]:
    """Every gate with jobs running or held, on the queues of the job types with a limit
    (up to 1000 gates per queue; with more, per-key limits are sampled)."""
    flows = {name: spec.flow for name, spec in catalog.items()}
    queues = sorted({spec.queue for spec in catalog.values() if spec.flow.gated})
    out = []
    for queue in await gate_state.read_gates(redis, queues, flows):
        for g in queue.gates:
            declared = flows.get(g.job)
            out.append(
                GateView(
                    queue=g.queue,
                    gate=g.gate,
                    kind=g.kind,
                    job=g.job,
                    key=g.key,
                    running=g.running,
                    limit=g.limit,
                    rate_limit=declared.rate.text if declared and declared.rate else None,
                    held=g.held,
                    next_admission=_dt(g.next_admission_ms),
                    next_check=_dt(g.next_timer_ms),
                )
            )
    return out
