"""The producers: HTTP clients enqueueing the chaos jobs for as long as the run lasts.

Each answer is recorded: an acknowledgement (`Ack`, with the JobView's server time) or a
refusal (`Refusal`, with its status and error code; status 0 when no answer came). Jobs of one
`concurrency=1` key are sent one after another, each only once the previous one is
acknowledged (an unanswered one is sent again under the same `Idempotency-Key`), so their
enqueue order is known. Rate-limited jobs come in bursts faster than their limit.
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.chaos.history import Ack, History, Refusal, ms_of

SERIAL_KEYS = ("s0", "s1", "s2")
RATED_KEYS = ("r0", "r1")


class Producers:
    def __init__(self, url: str, history: History, now_ms: Callable[[], Awaitable[int]]) -> None:
        self.client = httpx.AsyncClient(base_url=url, timeout=15)
        self.history = history
        self._now_ms = now_ms
        self._numbers = itertools.count(1)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        loops = [self._work(), self._workflows(), self._batches()]
        loops += [self._serial(key) for key in SERIAL_KEYS]
        loops += [self._rated(key) for key in RATED_KEYS]
        await asyncio.gather(*loops)

    def stop(self) -> None:
        self._stop.set()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _pause(self, seconds: float) -> bool:
        """Sleep between sends (the producers' pace); False once the run is over."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def _post(
        self, kind: str, path: str, body: dict[str, Any], n: int = 0, key: str | None = None
    ) -> dict[str, Any] | None:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            response = await self.client.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            at = await self._now_ms()
            self.history.refusals.append(Refusal(kind, at, 0, type(exc).__name__, n))
            return None
        if response.status_code in (200, 202):
            answer: dict[str, Any] = response.json()
            return answer
        at = await self._now_ms()
        try:
            code = str(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = "not JSON"
        self.history.refusals.append(
            Refusal(kind, at, response.status_code, code, n, response.text[:300])
        )
        return None

    def _ack(self, kind: str, view: dict[str, Any], **fields: Any) -> str:
        at = ms_of(view.get("enqueued_at")) or 0
        self.history.acks.append(Ack(view["id"], kind, at, **fields))
        return str(view["id"])

    async def _work(self) -> None:
        while await self._pause(0.05):
            n = next(self._numbers)
            body = {"n": n, "alloc_mb": 4} if n % 4 == 0 else {"n": n}  # see memory_pressure
            view = await self._post("work", "/jobs/chaos_work", body, n)
            if view:
                self._ack("work", view, n=n)

    async def _serial(self, key: str) -> None:
        for seq in itertools.count(1):
            if not await self._pause(0.15):
                return
            body = {"key": key, "seq": seq}
            idem = f"chaos-{key}-{seq}"
            view = None
            while view is None:
                view = await self._post("serial", "/jobs/chaos_serial", body, key=idem)
                if view is None and not await self._pause(0.2):
                    # The run is over; an unanswered one may yet exist: not counted either way.
                    return
            self._ack("serial", view, group=key, seq=seq)

    async def _rated(self, key: str) -> None:
        seq = 0
        while await self._pause(1.0):
            for _ in range(6):  # 6 at once against a limit of 10 a second: some are held
                seq += 1
                view = await self._post("rated", "/jobs/chaos_rated", {"key": key, "seq": seq})
                if view:
                    self._ack("rated", view, group=key, seq=seq)

    async def _workflows(self) -> None:
        while await self._pause(1.5):
            body = {
                "nodes": {
                    "a": {"job": "chaos_work", "input": {"n": next(self._numbers)}},
                    "b": {"job": "chaos_work", "input": {"n": next(self._numbers)}},
                    "c": {
                        "job": "chaos_work",
                        "input": {"n": next(self._numbers)},
                        "after": ["a", "b"],
                    },
                }
            }
            created = await self._post("workflow", "/workflows", body)
            if created:
                nodes = created["nodes"]
                for name in ("a", "b"):
                    self._ack("node", nodes[name]["job"])
                parents = [nodes["a"]["job_id"], nodes["b"]["job_id"]]
                self._ack("node", nodes["c"]["job"], parents=parents)

    async def _batches(self) -> None:
        while await self._pause(2.0):
            members = [{"job": "chaos_work", "input": {"n": next(self._numbers)}} for _ in range(4)]
            body = {"jobs": members, "on_complete": {"job": "chaos_callback", "input": {}}}
            created = await self._post("batch", "/batches", body)
            if created:
                for member in created["jobs"]:
                    at = ms_of(created["created_at"]) or 0
                    self.history.acks.append(Ack(member, "member", at))
                callback = created["on_complete"]
                self._ack("callback", callback, parents=list(created["jobs"]))
