"""Logging set-up: human lines locally, one JSON object per line when `LOG_FORMAT=json`."""

import atexit
import contextlib
import logging
import queue
import sys
import threading
import time
from logging.handlers import QueueHandler
from typing import Any

import orjson

from settings import Settings

# Attributes every LogRecord has; anything else came in through `extra=` and is data.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return base + "".join(f" {k}={v}" for k, v in extra.items())


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
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if _writer is not None:
        _writer.stop()
    log_queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
    _writer = BatchWriter(log_queue, handler)
    _writer.start()
    atexit.register(_writer.stop)  # flush what is queued when the process exits
    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(log_queue)]
    root.setLevel(settings.log_level.upper())
