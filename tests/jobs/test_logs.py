"""The per-job lines (`jobs.logs.line`) read as the records they stand for, and go through
`logging` as records whenever anything else listens (here pytest's `caplog`)."""

import json
import logging
import queue

import pytest

from jobs.logs import JsonFormatter, Line, TextFormatter, _Handoff, line

logger = logging.getLogger("tests.lines")
FIELDS = {"job_id": "abc", "job": "ping", "try": 2}


def test_a_line_reads_as_its_record_would() -> None:
    root, written = logging.getLogger(), queue.SimpleQueue[logging.LogRecord | Line]()
    saved, logger.level = root.handlers[:], logging.INFO
    root.handlers[:] = [_Handoff(written)]  # as `setup_logging` leaves it: nothing else
    try:
        line(logger, logging.INFO, "job started", FIELDS)
        logger.info("job started", extra=FIELDS)
        line(logger, logging.DEBUG, "below the level", FIELDS)
    finally:
        root.handlers[:], logger.level = saved, logging.NOTSET
    direct, record = written.get_nowait(), written.get_nowait()
    assert written.empty()
    assert isinstance(direct, Line) and isinstance(record, logging.LogRecord)
    text = TextFormatter()
    # Equal but for the time (the first 23 characters).
    assert text.format_line(direct)[23:] == text.format(record)[23:]
    assert text.format(record)[23:] == " INFO tests.lines: job started job_id=abc job=ping try=2"
    as_json = JsonFormatter()
    objects = [json.loads(as_json.format_line(direct)), json.loads(as_json.format(record))]
    for obj in objects:
        del obj["ts"]
    assert (
        objects[0]
        == objects[1]
        == {"level": "info", "logger": "tests.lines", "msg": "job started", **FIELDS}
    )


def test_with_another_handler_a_line_is_a_record(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tests.lines"):
        line(logger, logging.INFO, "job complete", FIELDS)
    (record,) = [r for r in caplog.records if r.name == "tests.lines"]
    assert record.getMessage() == "job complete"
    assert {k: vars(record)[k] for k in FIELDS} == FIELDS
