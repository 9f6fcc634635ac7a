"""Logging set-up: human lines locally, one JSON object per line when `LOG_FORMAT=json`."""

import atexit
import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from logging.handlers import QueueHandler
from typing import Any

import orjson

from settings import Settings

# Attributes every LogRecord has; anything else came in through `extra=` and is data.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class _Stamps:
    """The time of a record down to the second, formatted once per second, not per line (a
    worker writes two lines per job: `strftime` was a third of a line's cost)."""

    def __init__(self, fmt: str, convert: Callable[[float], time.struct_time]) -> None:
        self._fmt = fmt
        self._convert = convert
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self._last
        if last[0] != second:
            last = self._last = (second, time.strftime(self._fmt, self._convert(second)))
        return last[1]


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps("%Y-%m-%dT%H:%M:%S", time.gmtime)  # "Z": UTC

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": f"{self._stamp(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`2026-01-31 12:00:00,123 INFO jobs.worker: job started job_id=... try=1` (local time,
    as `logging`'s default `asctime`), then the traceback if any. Built directly rather than
    through a `%`-style format string: this runs for every line the service writes."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps("%Y-%m-%d %H:%M:%S", time.localtime)

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"{self._stamp(record.created)},{int(record.msecs):03d} {record.levelname} "
            f"{record.name}: {record.getMessage()}"
        ]
        parts += [f" {k}={v}" for k, v in _extras(record).items()]
        if record.exc_info:
            parts.append("\n" + self.formatException(record.exc_info))
        if record.stack_info:
            parts.append("\n" + self.formatStack(record.stack_info))
        return "".join(parts)


class _Handoff(QueueHandler):
    """Puts records on the writer's queue as they are, unless something in them could change
    before the writer thread formats them (`%` arguments, a non-str message, an exception):
    those are frozen into text first, as the stdlib `QueueHandler` does with every record
    (a copy and a format per line: most of a line's cost on the event loop)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.args or record.exc_info or type(record.msg) is not str:
            frozen: logging.LogRecord = super().prepare(record)
            return frozen
        return record

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the queue is thread-safe, and `emit` touches nothing else.
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True


BATCH_S = 0.01
"""Once a line is queued, the writer waits this long for company, then writes them all."""


class BatchWriter:
    """Formats and writes queued log records on a thread of its own, a batch per wake-up.

    A thread woken for every line (stdlib `QueueListener`) costs a wake-up and a write per
    line; when the event loop waits on Redis between lines (a worker's job, a web request),
    those wake-ups cost more than the lines themselves. Here a burst of lines costs one of
    each, and a lone line is out within `BATCH_S`."""

    def __init__(
        self,
        records: "queue.SimpleQueue[logging.LogRecord | None]",
        handler: logging.StreamHandler[Any],
    ) -> None:
        self.records = records
        self.handler = handler
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._thread.is_alive():
            self.records.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self.records.get()]
            time.sleep(BATCH_S)
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self.records.get_nowait())
            records = [r for r in batch if r is not None]
            lines = []
            for record in records:
                try:
                    lines.append(self.handler.format(record) + self.handler.terminator)
                except Exception:
                    self.handler.handleError(record)
            if lines:
                try:
                    self.handler.stream.write("".join(lines))
                    self.handler.stream.flush()
                except Exception:  # e.g. stderr closed: report it as logging.Handler would
                    self.handler.handleError(records[-1])
            if len(records) < len(batch):  # stop() queued None
                return


_writer: BatchWriter | None = None


def setup_logging(settings: Settings) -> None:
    """Formatting and writing happen on a background thread (`BatchWriter`), so a log line
    costs the event loop a queue put, not a write to stderr, between two jobs."""
    global _writer
    # What the formatters above never print is not collected per record (the logging HOWTO's
    # "Optimization"): the caller's file and line (a walk up the stack), the process and
    # thread names.
    logging._srcfile = None
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    if _writer is not None:
        _writer.stop()
    log_queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
    _writer = BatchWriter(log_queue, handler)
    _writer.start()
    atexit.register(_writer.stop)  # flush what is queued when the process exits
    root = logging.getLogger()
    root.handlers[:] = [_Handoff(log_queue)]
    root.setLevel(settings.log_level.upper())
