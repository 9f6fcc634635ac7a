"""Plain functions as jobs, end to end: a real worker process, real HTTP, real child processes.

`def` jobs run in the worker's thread pool, `run_in="process"` ones in child processes; their
input and output models come from their signatures. Whatever such a job does (block past its
timeout, spin, kill its own process, return the wrong thing), the worker lives on and the
loop keeps serving.
"""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes, WorkerProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PLAIN = {"JOB_MODULES": "tests.support.jobs.plain_jobs"}


async def _stack(processes: Processes, **env: str) -> tuple[str, WorkerProcess]:
    url = await processes.web(**PLAIN)
    worker = await processes.worker(**PLAIN, **env)
    return url, worker


async def _final(
    api: JobsApi, job_id: str, worker: WorkerProcess, timeout_s: float = 30
) -> dict[str, Any]:
    async def done() -> bool:
        assert worker.process.poll() is None, "the worker died"
        return (await api.view(job_id))["status"] in ("complete", "failed", "aborted")

    await eventually(done, timeout_s=timeout_s, interval_s=0.05)
    return await api.view(job_id)


async def _post(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> str:
    response = await client.post(f"/jobs/{name}", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


async def test_a_def_runs_in_a_worker_thread_with_its_signature_as_input(
    processes: Processes, tmp_path: Path
) -> None:
    url, worker = await _stack(processes)
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "write_log", {"log": str(log), "message": "hello"})
        view = await _final(api, job_id, worker)
        assert view["status"] == "complete", view
        assert view["result"] is None
        assert view["tries"] == 1
        (line,) = log.read_text().splitlines()
        assert line.startswith("hello in job_"), line  # a pool thread, not the loop's

        # The signature is the input model: validated at enqueue, a clear 422 otherwise.
        bad = await api.client.post("/jobs/shout", json={"message": "", "times": "many"})
        assert bad.status_code == 422, bad.text
        fields = {tuple(e["loc"][-1:]) for e in bad.json()["error"]["details"]}
        assert fields == {("message",), ("times",)}, bad.json()
        job_id = await _post(api.client, "shout", {"message": "hey", "times": 2})
        view = await _final(api, job_id, worker)
        assert view["result"] == "HEY HEY", view
        job_id = await _post(api.client, "add", {"a": 2, "b": 3})
        assert (await _final(api, job_id, worker))["result"] == 5

        # OpenAPI shows the built models beside the declared ones.
        schemas = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
        assert schemas["ShoutInput"]["properties"]["message"]["maxLength"] == 20
        assert schemas["ShoutInput"]["required"] == ["message"]
        assert "SendEmail" in schemas


async def test_a_def_reports_progress_from_its_thread(processes: Processes, tmp_path: Path) -> None:
    url, worker = await _stack(processes)
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "count_steps", {"steps": 4, "log": str(log)})
        view = await _final(api, job_id, worker)
        assert view["status"] == "complete", view
        assert view["result"] == {"steps": 4, "recorded": 4}
        assert view["progress"]["fraction"] == 1.0


async def test_a_def_that_blocks_forever_times_out_and_the_loop_keeps_serving(
    processes: Processes, tmp_path: Path, redis: RedisClient
) -> None:
    url, worker = await _stack(processes, WORKER_THREADS="4")
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        stuck = await _post(api.client, "sleep_forever", {"log": str(log)})

        async def started() -> bool:
            return log.exists()

        await eventually(started)
        # While its thread sleeps, async jobs run and the lease of the stuck one is renewed.
        quick = await _post(api.client, "add", {"a": 1, "b": 1})
        assert (await _final(api, quick, worker))["result"] == 2
        view = await _final(api, stuck, worker)
        assert view["status"] == "failed", view
        assert view["error"]["type"] == "JobTimeout", view
        assert view["tries"] == 2  # max_tries: retried once, like an async job
        assert log.read_text().count("started") == 2
    assert "a def job's thread runs on after its try was cut off" in processes.log_text("worker")


async def test_a_process_job_computes_for_three_leases_while_its_lease_is_renewed(
    processes: Processes, tmp_path: Path, redis: RedisClient
) -> None:
    url, worker = await _stack(processes, LEASE_S="1")
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "crunch", {"seconds": 3.0})
        lease = keys.of_job(job_id).lease(job_id)
        renewals, last_ttl, progress = 0, None, set()

        async def done_watching_the_lease() -> bool:
            nonlocal renewals, last_ttl
            ttl = await redis.pttl(lease)
            if ttl > 0:
                if last_ttl is not None and ttl > last_ttl + 100:
                    renewals += 1
                last_ttl = ttl
            view = await api.view(job_id)
            if view["status"] == "in_progress" and view["progress"]:
                progress.add(view["progress"]["message"])
            return view["status"] in ("complete", "failed")

        # Meanwhile the loop is free: an async job enqueued now completes first.
        quick = await _post(api.client, "add", {"a": 40, "b": 2})
        assert (await _final(api, quick, worker))["result"] == 42
        assert (await api.view(job_id))["status"] == "in_progress"
        await eventually(done_watching_the_lease, timeout_s=30, interval_s=0.05)
        view = await api.view(job_id)
        assert view["status"] == "complete", view
        assert view["tries"] == 1  # never lost its lease
        assert view["result"]["pid"] != worker.pid  # ran in a child
        assert progress == {"spinning"}  # reported from the child while it ran
        print(f"lease renewals seen while a process job computed 3 x LEASE_S: {renewals}")
        assert renewals >= 2
    assert "lease lost" not in processes.log_text("worker")


@pytest.mark.parametrize(
    ("how", "said"),
    [("exit", "exit code 3"), ("segfault", "SIGSEGV"), ("kill", "SIGKILL")],
)
async def test_a_child_that_dies_fails_its_try_and_the_worker_lives_on(
    processes: Processes, tmp_path: Path, how: str, said: str
) -> None:
    url, worker = await _stack(processes)
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "die", {"how": how, "log": str(log)})
        view = await _final(api, job_id, worker)
        assert view["status"] == "failed", view
        assert view["error"]["type"] == "ChildProcessDied", view
        assert said in view["error"]["message"], view
        assert view["tries"] == 2  # retried like any failed try, up to max_tries
        assert len(log.read_text().splitlines()) == 2
        # A new child takes the next process job.
        after = await _post(api.client, "crunch", {"seconds": 0.01})
        assert (await _final(api, after, worker))["status"] == "complete"


async def test_a_process_job_returning_the_wrong_type_fails_typed(processes: Processes) -> None:
    url, worker = await _stack(processes)
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "wrong_output", {"value": "not a number"})
        view = await _final(api, job_id, worker)
        assert view["status"] == "failed", view
        assert view["error"]["type"] == "InvalidOutput", view
        assert view["error"]["retryable"] is False
        assert "WrongOutputOutput" in view["error"]["message"]
        assert view["tries"] == 1


async def test_a_spinning_process_job_is_killed_at_its_timeout(
    processes: Processes, tmp_path: Path
) -> None:
    url, worker = await _stack(processes)
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "spin_forever", {"log": str(log)})
        view = await _final(api, job_id, worker)
        assert view["status"] == "failed", view
        assert view["error"]["type"] == "JobTimeout", view
        assert view["tries"] == 2
        pids = [int(line.rsplit(" ", 1)[1]) for line in log.read_text().splitlines()]
        assert len(set(pids)) == 2  # each try got a new child: the spinning one was killed

        def gone(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        async def both_gone() -> bool:
            return all(gone(pid) for pid in pids)

        await eventually(both_gone)


async def test_sigterm_ends_the_child_processes_and_requeues_their_job(
    processes: Processes,
) -> None:
    import psutil

    from tests.support.processes import exit_code, sigterm

    url, worker = await _stack(processes, SHUTDOWN_GRACE_S="1")
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "crunch", {"seconds": 600})

        async def computing() -> bool:
            view = await api.view(job_id)
            return view["status"] == "in_progress" and bool(view["progress"])

        await eventually(computing, timeout_s=20)
        children = psutil.Process(worker.pid).children()
        assert children, "the process job runs in a child of the worker"
        sigterm(worker.process)
        assert await exit_code(worker.process, timeout_s=15) == 0
        assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
        view = await api.view(job_id)
        assert view["status"] == "queued", view  # re-queued: another worker takes it
        assert view["tries"] == 0  # the interrupted try does not count


async def test_sigterm_does_not_wait_for_a_def_jobs_thread_beyond_the_grace(
    processes: Processes, tmp_path: Path
) -> None:
    from tests.support.processes import exit_code, sigterm

    url, worker = await _stack(processes, SHUTDOWN_GRACE_S="1")
    log = tmp_path / "log.txt"
    async with JobsApi(url) as api:
        job_id = await _post(api.client, "sleep_long", {"log": str(log), "seconds": 3600})

        async def started() -> bool:
            return log.exists()

        await eventually(started)
        sigterm(worker.process)
        # The thread sleeps on; the process ends after the grace all the same.
        assert await exit_code(worker.process, timeout_s=15) == 0
        view = await api.view(job_id)
        assert view["status"] == "queued", view
        assert view["tries"] == 0
    assert "still running" in processes.log_text("worker").lower()
