"""Logging set-up: human lines locally, one JSON object per line when `LOG_FORMAT=json`. While
tracing is on (`jobs.tracing`), a line written inside a span carries its `trace_id` and
`span_id`."""

import atexit
import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from logging.handlers import QueueHandler
from typing import Any, NamedTuple

import orjson

from jobs import tracing
from jobs.settings import Settings

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


class Line(NamedTuple):
    """A line queued for the writer without a `LogRecord` (see `line`): what the formatters
    print of a record."""

    created: float
    levelname: str
    name: str
    message: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, record: logging.LogRecord) -> "Line":
        message = record.getMessage()
        return cls(record.created, record.levelname, record.name, message, _extras(record))


def _msecs(created: float) -> int:
    return int((created - int(created)) * 1000)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps("%Y-%m-%dT%H:%M:%S", time.gmtime)  # "Z": UTC

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.format_line(Line.of(record), exc)

    def format_line(self, line: Line, exc: str | None = None) -> str:
        out: dict[str, Any] = {
            "ts": f"{self._stamp(line.created)}.{_msecs(line.created):03d}Z",
            "level": line.levelname.lower(),
            "logger": line.name,
            "msg": line.message,
        }
        out.update(line.fields)
        if exc:
            out["exc"] = exc
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """`2026-01-31 12:00:00,123 INFO jobs.worker.loop: job started job_id=... try=1` (local time,
    as `logging`'s default `asctime`), then the traceback if any. Built directly rather than
    through a `%`-style format string: this runs for every line the service writes."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamps("%Y-%m-%d %H:%M:%S", time.localtime)

    def format(self, record: logging.LogRecord) -> str:
        text = self.format_line(Line.of(record))
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def format_line(self, line: Line) -> str:
        head = (
            f"{self._stamp(line.created)},{_msecs(line.created):03d} {line.levelname} "
            f"{line.name}: {line.message}"
        )
        return head + "".join([f" {k}={v}" for k, v in line.fields.items()])


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
        ids = tracing.log_ids()  # here, on the caller's thread: its span is current
        if ids is not None:
            record.trace_id, record.span_id = ids
        self.emit(record)
        return True


def line(logger: logging.Logger, level: int, msg: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, msg, extra=fields)`, for the lines written per job. When logging is
    `setup_logging`'s alone on the way from `logger` to the root (no other handler, no
    filter), the line goes to the writer thread as a `Line` (time, level, text, fields)
    rather than a `LogRecord` through the handler chain: under 1 µs of the event loop instead
    of about 4. Anything else attached (a test's `caplog`, a handler of your own) gets the
    record as usual."""
    if not logger.isEnabledFor(level):
        return
    handoff = _only_handoff(logger, level)
    if handoff is None:
        logger.log(level, msg, extra=fields)
        return
    levelname = logging.getLevelName(level)
    ids = tracing.log_ids()
    if ids is not None:
        fields = {**fields, "trace_id": ids[0], "span_id": ids[1]}
    handoff.queue.put_nowait(Line(time.time(), levelname, logger.name, msg, fields))


def _only_handoff(logger: logging.Logger, level: int) -> "_Handoff | None":
    """The writer's handler if it is the only one a record of `logger` would meet."""
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters or node.disabled:
            return None
        if node.parent is None:  # the root
            handlers = node.handlers
            if len(handlers) != 1 or type(handlers[0]) is not _Handoff:
                return None
            handoff = handlers[0]
            return handoff if not handoff.filters and level >= handoff.level else None
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    return None


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
        records: "queue.SimpleQueue[logging.LogRecord | Line | None]",
        handler: logging.StreamHandler[Any],
        formatter: TextFormatter | JsonFormatter,
    ) -> None:
        self.records = records
        self.handler = handler
        self.formatter = formatter
        """The handler's: it also formats the `Line`s `line()` queues."""
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
            items = [r for r in batch if r is not None]
            lines = []
            for item in items:
                try:
                    if isinstance(item, Line):
                        text = self.formatter.format_line(item)
                    else:
                        text = self.handler.format(item)
                    lines.append(text + self.handler.terminator)
                except Exception:
                    self.handler.handleError(_record(item))
            if lines:
                try:
                    self.handler.stream.write("".join(lines))
                    self.handler.stream.flush()
                except Exception:  # e.g. stderr closed: report it as logging.Handler would
                    self.handler.handleError(_record(items[-1]))
            if len(items) < len(batch):  # stop() queued None
                return


def _record(item: logging.LogRecord | Line) -> logging.LogRecord:
    if isinstance(item, logging.LogRecord):
        return item
    return logging.makeLogRecord({"name": item.name, "msg": item.message, **item.fields})


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
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter()
    handler.setFormatter(formatter)
    if _writer is not None:
        _writer.stop()
    log_queue: queue.SimpleQueue[logging.LogRecord | Line | None] = queue.SimpleQueue()
    _writer = BatchWriter(log_queue, handler, formatter)
    _writer.start()
    atexit.register(_writer.stop)  # flush what is queued when the process exits
    root = logging.getLogger()
    root.handlers[:] = [_Handoff(log_queue)]
    root.setLevel(settings.log_level.upper())


def flush_logs() -> None:
    """Write every queued line now and end the writer thread: for a process about to end
    without running its `atexit` hooks (`jobs.worker.process_exit`)."""
    if _writer is not None:
        _writer.stop()
