"""Key names (`jobs.layout.keys`): every key of a queue and of the jobs on it lives in the
queue's cluster slot (each Lua script touches one slot), and a job's keys are found from its
id alone."""

import inspect

import pytest
from redis.crc import key_slot

from jobs.layout import keys

NOT_IN_THE_SLOT = {"health_check"}
"""ARQ's own name, `{queue}:health-check`, for `arq --check`; written by a plain SET in the
heartbeat's pipeline, never by a script."""


def every_key(q: keys.QueueKeys) -> dict[str, str]:
    """Each key `q` names, by member, with sample arguments (a new member must be named here)."""
    args: dict[str, tuple[object, ...]] = {
        "ready": (5,),
        "fair_keys": (5,),
        "lane": (5, "tenant-{x}"),
        "running": ("c:job",),
        "held": ("c:job",),
        "rate_tat": ("r:job",),
        "unique": ("lock",),
        "deps": ("job-1",),
        "children": ("job-1",),
        "workflow": ("wf-1",),
        "job": ("job-1",),
        "result": ("job-1",),
        "lease": ("job-1",),
        "state": ("job-1",),
        "claim": ("claim-1",),
        "idempotency": ("ping", "key-1"),
        "deliveries": ("job-1",),
        "cron_tick": ("nightly", 1_893_456_000_000),
    }
    found = {}
    for name, member in inspect.getmembers(keys.QueueKeys):
        if name.startswith("_") or name == "name":
            continue
        if isinstance(member, property):
            found[name] = getattr(q, name)
        else:
            assert name in args, f"QueueKeys.{name}: give it sample arguments here"
            found[name] = getattr(q, name)(*args[name])
    return found


@pytest.mark.parametrize("name", ["emails", keys.DEFAULT_QUEUE, "a.b:c-d_1"])
def test_every_key_of_a_queue_and_its_jobs_is_in_the_queue_s_slot(name: str) -> None:
    q = keys.queue(name)
    slot = key_slot(f"{{{name}}}".encode())
    found = every_key(q)
    assert len(found) > 20
    outside = {
        member: key
        for member, key in found.items()
        if member not in NOT_IN_THE_SLOT and key_slot(key.encode()) != slot
    }
    assert outside == {}


def test_the_default_queue_keeps_arqs_sorted_set_in_the_same_slot() -> None:
    q = keys.queue(keys.DEFAULT_QUEUE)
    assert q.due == "arq:queue"
    assert key_slot(b"arq:queue") == key_slot(q.prefix.encode())


def test_a_jobs_keys_are_found_from_its_id() -> None:
    on_emails = keys.job_id_for("emails")
    assert keys.of_job(on_emails) == keys.queue("emails")
    assert keys.of_job(on_emails).job(on_emails).startswith("jobsvc:{emails}:")
    assert keys.of_job(keys.job_id_for(keys.DEFAULT_QUEUE)) == keys.queue(keys.DEFAULT_QUEUE)


def test_a_queue_name_outside_the_grammar_has_no_keys() -> None:
    with pytest.raises(keys.InvalidQueueName):
        keys.queue("a}b")
