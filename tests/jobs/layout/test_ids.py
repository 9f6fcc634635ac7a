"""Job ids and queue names (`jobs.layout.ids`): an id names its queue, so everything about a
job is found from its id alone; caller-chosen parts and queue names are checked."""

import pytest

from jobs.layout.ids import (
    DEFAULT_QUEUE,
    JOB_ID,
    InvalidJobId,
    InvalidQueueName,
    check_queue_name,
    job_id_for,
    queue_of,
)


def test_an_id_names_its_queue_and_the_default_queue_s_ids_are_bare() -> None:
    on_emails = job_id_for("emails")
    unique, at, queue = on_emails.partition("@")
    assert (at, queue) == ("@", "emails") and queue_of(on_emails) == "emails"
    bare = job_id_for(DEFAULT_QUEUE)
    assert "@" not in bare and queue_of(bare) == DEFAULT_QUEUE
    # 128 random bits in 22 URL-safe characters, new every time.
    assert len(unique) == len(bare) == 22
    assert JOB_ID.match(on_emails) and JOB_ID.match(bare)
    assert len({job_id_for("emails") for _ in range(1000)}) == 1000


def test_a_callers_own_id_is_kept_and_its_queue_added() -> None:
    assert job_id_for("emails", "order-42:v1.2") == "order-42:v1.2@emails"
    assert job_id_for(DEFAULT_QUEUE, "order-42") == "order-42"
    assert queue_of("order-42:v1.2@emails") == "emails"


@pytest.mark.parametrize("unique", ["", "a@b", "has space", "ü", "x" * 201])
def test_a_callers_id_outside_the_grammar_is_refused(unique: str) -> None:
    with pytest.raises(InvalidJobId):
        job_id_for("emails", unique)


@pytest.mark.parametrize("name", ["emails", "arq:queue", "a.b-c_d", "q" * 64])
def test_queue_names_in_the_grammar_pass(name: str) -> None:
    assert check_queue_name(name) == name


@pytest.mark.parametrize("name", ["", "q" * 65, "a b", "a/b", "a@b", "{tag}", "ü"])
def test_queue_names_outside_the_grammar_are_refused(name: str) -> None:
    with pytest.raises(InvalidQueueName):
        check_queue_name(name)
