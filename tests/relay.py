"""The mail relay the platform's own mail goes to in the tests: a real SMTP server on loopback (aiosmtpd) that keeps
every mail it is given, and finds the links in them."""

from __future__ import annotations

import re
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.pg import free_port


class Relay:
    def __init__(self) -> None:
        self.mails: list[bytes] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def address(self) -> str:
        """What SIGNALEMENT_MAIL_RELAY takes."""
        return f"127.0.0.1:{self.controller.port}"

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.mails.append(envelope.original_content or b"")
        return "250 OK"

    def parsed(self, index: int = -1) -> EmailMessage:
        message: EmailMessage = message_from_bytes(self.mails[index], policy=default)
        return message

    def link_for(self, address: str, path: str, timeout: float = 60.0) -> str:
        """The `path?token=...` of the link in the newest mail to `address` (without the site's address, which the
        platform takes from its settings), waited for: a worker sends it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(len(self.mails) - 1, -1, -1):
                message = self.parsed(index)
                body = message.get_body(("plain",)) if message["To"] == address else None
                found = re.search(
                    rf"https?://[^/\s]+({re.escape(path)}\?token=\S+)", body.get_content() if body else ""
                )
                if found:
                    return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no mail with a {path} link reached {address}")

    def start(self) -> Relay:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class FlakyRelay(Relay):
    """A real SMTP relay that refuses the first `failures` messages with a temporary error."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.refused = 0

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        if self.refused < self.failures:
            self.refused += 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


class CountingRelay(Relay):
    """A real SMTP relay that counts its sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(
        self, server: object, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname  # the hook's duty (aiosmtpd)
        return responses
