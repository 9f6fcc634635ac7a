"""Listing jobs across queues (`jobs.reading.listing`): the cursor is the last entry returned,
so a page starts strictly after it, whatever was enqueued since the page before."""

import pytest

from jobs.enqueue.submit import enqueue_many
from jobs.layout.connection import RedisClient
from jobs.reading.listing import list_jobs, parse_cursor
from settings import Settings
from tests.support.workers import new_queue


@pytest.mark.parametrize(
    ("cursor", "entry"),
    [
        (None, None),
        ("", None),
        ("1893456000000042:abc", (1893456000000042.0, "abc")),
        # An id may hold colons and name its queue: only the first colon ends the score.
        ("17:order:42@emails", (17.0, "order:42@emails")),
    ],
)
def test_a_cursor_reads_back_as_the_entry_it_names(
    cursor: str | None, entry: tuple[float, str] | None
) -> None:
    assert parse_cursor(cursor) == entry


async def test_pages_never_repeat_or_skip_a_job_while_new_ones_arrive(
    redis: RedisClient, settings: Settings
) -> None:
    a, b = new_queue("list-a"), new_queue("list-b")
    old = [
        e.job_id
        for q in (a, b)
        for e in await enqueue_many(redis, "ping", [{}] * 7, queue=q, settings=settings)
    ]
    first = await list_jobs(redis, [a, b], {}, limit=5)
    assert first.next_cursor is not None
    listed = [r.id for r in first.jobs]
    newer = await enqueue_many(redis, "ping", [{}] * 4, queue=a, settings=settings)
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = await list_jobs(redis, [a, b], {}, limit=5, cursor=cursor)
        assert len(page.jobs) <= 5
        listed += [r.id for r in page.jobs]
        cursor = page.next_cursor
    # Every job that was there when the first page was read, once; none enqueued since (they
    # are newer than the first page: a listing from the top shows them).
    assert sorted(listed) == sorted(old) and len(listed) == len(set(listed))
    for q in (a, b):
        assert [i for i in listed if i.endswith(f"@{q}")] == [
            i for i in old if i.endswith(f"@{q}")
        ][::-1]
    top = await list_jobs(redis, [a, b], {}, limit=4)
    assert [r.id for r in top.jobs] == [e.job_id for e in newer][::-1]
