"""A real SMTP server for the tests (aiosmtpd), collecting what it receives."""

from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from scripts.embedded_redis import free_port


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message.as_bytes())  # type: ignore[attr-defined]


@contextmanager
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on a free loopback port: (its inbox, its port)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
