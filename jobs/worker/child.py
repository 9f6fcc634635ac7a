"""`python -m jobs.worker.child`: a child process that runs `run_in="process"` jobs.

The worker (`jobs.worker.processes`) starts it, sends one try at a time and reads back progress
and the outcome. Everything crosses as length-prefixed JSON frames on the child's stdin and on
a copy of its original stdout (what the job prints goes to stderr, the worker's log): the
job's input and output as their JSON, never pickled. The child loads the same catalog as the
worker (`JOB_MODULES`), validates the input, runs the function, validates the output.

It ignores SIGINT and SIGTERM (the worker decides: it kills a child whose try was cut off, and
every child at exit) and ends when its stdin closes (the worker is gone).
"""

import os
import signal
import struct
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from jobs.declare.context import SyncJobContext
from jobs.declare.registry import JobSpec, load_catalog
from jobs.settings import get_settings

HEADER = struct.Struct(">I")


def encode(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    return HEADER.pack(len(body)) + body


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    message: dict[str, Any] = orjson.loads(body)
    return message


def run(catalog: dict[str, JobSpec], request: dict[str, Any], out: IO[bytes]) -> dict[str, Any]:
    """One try: `{"output": ...}` or `{"error": {"type", "message", "retryable"}}`."""
    spec = catalog.get(request["job"])
    if spec is None:
        message = f"no job named {request['job']!r} in this child's catalog (JOB_MODULES)"
        return {"error": {"type": "UnknownJob", "message": message, "retryable": False}}
    c = request["context"]

    def report(fraction: float, message: str) -> bool:
        out.write(encode({"progress": [fraction, message]}))
        return True  # recorded by the worker, fenced by the try's lease

    enqueued = c.get("enqueued_ms")
    context = SyncJobContext(
        c["job_id"],
        spec.name,
        c["try"],
        spec.max_tries,
        datetime.fromtimestamp(enqueued / 1000, tz=UTC) if enqueued else None,
        c["worker_id"],
        {},
        c.get("lease_token", ""),
        c.get("parent_results") or {},
        c.get("parent_failures") or {},
        c.get("parent_statuses") or {},
        c.get("batch"),
        report=report,
    )
    try:
        payload = spec.input_model.model_validate(request["input"])
        return {"output": spec.call_blocking(context, payload)}
    except BaseException as exc:  # a job's SystemExit must not end the child
        traceback.print_exc()
        retryable = isinstance(exc, Exception) and spec.is_retryable(exc)
        message = str(exc) or type(exc).__name__
        return {"error": {"type": type(exc).__name__, "message": message, "retryable": retryable}}


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # what jobs print goes to the log, not into the frames
    sys.stdout = sys.stderr
    catalog = load_catalog(get_settings())
    out.write(encode({"ready": os.getpid()}))
    while (request := read_frame(sys.stdin.buffer)) is not None:
        reply = run(catalog, request, out)
        try:
            frame = encode(reply)
        except orjson.JSONEncodeError as exc:  # e.g. an integer past 64 bits
            error = {"type": "InvalidOutput", "message": str(exc), "retryable": False}
            frame = encode({"error": error})
        out.write(frame)


if __name__ == "__main__":
    main()
