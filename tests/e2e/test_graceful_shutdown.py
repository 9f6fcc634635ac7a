"""SIGTERM to a real worker process: running jobs finish within the grace, the rest re-queue."""

from pathlib import Path

import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient, create_redis
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from scripts.embedded_redis import EmbeddedRedis
from settings import Settings
from tests.support.jobs.probe_jobs import cancelled_key, runs_key
from tests.support.processes import Processes, WorkerProcess, exit_code, sigterm
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
MAX = {"wait_for_gate": 3, "ping": 25, "sleep_in_thread": 3}


async def _view(redis: RedisClient, settings: Settings, job_id: str) -> JobRecord:
    view = await load_job(redis, job_id, MAX)
    assert view is not None
    return view


async def _running_on(
    redis: RedisClient, settings: Settings, job_id: str, worker: WorkerProcess
) -> None:
    async def running() -> bool:
        view = await _view(redis, settings, job_id)
        return view.status is JobStatus.in_progress and view.progress is not None

    await eventually(running)
    assert (await _view(redis, settings, job_id)).worker == worker.worker_id


async def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    worker = await processes.worker(SHUTDOWN_GRACE_S="20")
    gate = {"gate": "test:gate:finish"}
    running = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    await _running_on(redis, settings, running.job_id, worker)
    sigterm(worker.process)

    async def stopping() -> bool:
        return (await processes.heartbeat(worker)).get("stopping") is True

    await eventually(stopping)
    later = await enqueue(redis, "ping", {}, settings=settings)
    await redis.set("test:gate:finish", "1")
    assert await exit_code(worker.process, timeout_s=15) == 0
    finished = await _view(redis, settings, running.job_id)
    assert finished.status is JobStatus.complete and finished.tries == 1
    assert finished.result["worker"] == worker.worker_id
    assert await redis.get(cancelled_key(running.job_id)) is None
    untouched = await _view(redis, settings, later.job_id)
    assert untouched.status is JobStatus.queued and untouched.tries == 0


async def test_job_longer_than_the_grace_is_requeued_without_using_a_try(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    first = await processes.worker(SHUTDOWN_GRACE_S="1")
    gate = {"gate": "test:gate:requeue"}
    enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    await _running_on(redis, settings, enqueued.job_id, first)
    sigterm(first.process)
    assert await exit_code(first.process) == 0
    requeued = await _view(redis, settings, enqueued.job_id)
    assert requeued.status is JobStatus.queued and requeued.tries == 0
    assert requeued.error is None
    assert await redis.get(cancelled_key(enqueued.job_id)) == b"1"
    assert await redis.exists(keys.of_job(enqueued.job_id).lease(enqueued.job_id)) == 0

    await redis.set("test:gate:requeue", "1")
    second = await processes.worker()

    async def complete() -> bool:
        return (await _view(redis, settings, enqueued.job_id)).status is JobStatus.complete

    await eventually(complete)
    done = await _view(redis, settings, enqueued.job_id)
    assert done.tries == 1 and done.result == {"tries": 1, "worker": second.worker_id}
    assert await redis.get(runs_key(enqueued.job_id)) == b"2"


async def test_sigterm_with_redis_gone_still_ends_the_worker(tmp_path: Path) -> None:
    """The outcome of the interrupted try cannot be stored: the worker gives up after a short
    bound instead of retrying forever; the job's lease hands it to another worker later."""
    with EmbeddedRedis() as server:
        client = create_redis(Settings(redis_url=server.url))
        own = Processes(server.url, client, tmp_path)
        try:
            worker = await own.worker(SHUTDOWN_GRACE_S="1")
            gate = {"gate": "test:gate:never"}
            enqueued = await enqueue(
                client, "wait_for_gate", gate, settings=Settings(redis_url=server.url)
            )

            async def started() -> bool:
                return bool(await client.get(runs_key(enqueued.job_id)) == b"1")

            await eventually(started)
            server.stop()
            sigterm(worker.process)
            # Grace (1 s) + the settle bound (3 s) + connection timeouts, well inside 20 s.
            assert await exit_code(worker.process, timeout_s=20) == 0
        finally:
            own.kill_all()
            await client.aclose()
    assert "not stored" in own.log_text("worker")


async def test_a_second_sigterm_skips_the_grace(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    worker = await processes.worker(SHUTDOWN_GRACE_S="60")
    gate = {"gate": "test:gate:hurry"}
    enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    await _running_on(redis, settings, enqueued.job_id, worker)
    sigterm(worker.process)

    async def stopping() -> bool:
        return (await processes.heartbeat(worker)).get("stopping") is True

    await eventually(stopping)
    sigterm(worker.process)
    assert await exit_code(worker.process, timeout_s=10) == 0  # not after the 60 s grace
    view = await _view(redis, settings, enqueued.job_id)
    assert view.status is JobStatus.queued and view.tries == 0  # re-queued, try not counted


async def test_sigterm_ends_the_process_while_a_job_thread_still_runs(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """Cancelling `await asyncio.to_thread(...)` does not stop the thread: the worker re-queues
    the job and ends anyway (the thread dies with the process), not when the thread ends."""
    worker = await processes.worker(SHUTDOWN_GRACE_S="1")
    enqueued = await enqueue(redis, "sleep_in_thread", {"seconds": 60}, settings=settings)
    await _running_on(redis, settings, enqueued.job_id, worker)
    sigterm(worker.process)
    # A bound on the wait only: the thread alone would keep the process for 60 s.
    assert await exit_code(worker.process, timeout_s=20) == 0
    view = await _view(redis, settings, enqueued.job_id)
    assert view.status is JobStatus.queued and view.tries == 0  # re-queued, try not counted
    assert await redis.get(runs_key(enqueued.job_id)) == b"1"
    log = processes.log_of(worker).read_text()
    assert "re-queued at shutdown" in log
    assert "stopped" in log  # the goodbye line is written before the process ends
