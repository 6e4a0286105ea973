"""One IMAP connection (imapclient, which is blocking and untyped), as the few typed operations the poller uses.

Connection and protocol failures surface as `imaplib.IMAP4.error` (and its `abort`), `OSError` or `ssl.SSLError`:
the poller treats them all as a lost connection.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any

from imapclient import IMAPClient  # type: ignore[import-untyped]

from signalement.imap.sources import check
from signalement.settings import ImapSource

# imapclient logs the whole protocol at DEBUG (message bodies, the account's name): none of it goes to the logs,
# whatever the level, as the SMTP server silences aiosmtpd's envelopes.
logging.getLogger("imapclient").setLevel(logging.WARNING)

TIMEOUT_SECONDS = 30.0  # connect, and any one reply
IDLE_CHECK_SECONDS = 1.0  # how often a wait in IDLE looks at `stop`
SEEN = "\\Seen"
DELETED = "\\Deleted"

ConnectionLost = (imaplib.IMAP4.error, OSError)  # ssl.SSLError and socket timeouts are OSErrors


def connect(source: ImapSource, timeout: float = TIMEOUT_SECONDS) -> Mailbox:
    """Signed in over TLS, STARTTLS (never falling back to plain text when it is not offered), or plain text on
    loopback only."""
    check(source)
    context = ssl.create_default_context(cafile=str(source.ca_file) if source.ca_file else None)
    client = IMAPClient(source.host, source.port, ssl=source.security == "tls", ssl_context=context, timeout=timeout)
    try:
        if source.security == "starttls":
            client.starttls(context)  # CapabilityError (an IMAP4.error) when the server does not offer it
        client.login(source.username, source.secret())
    except BaseException:
        with contextlib.suppress(Exception):  # the socket may be gone already; the first error is the one to tell
            client.shutdown()
        raise
    return Mailbox(client)


class Mailbox:
    def __init__(self, client: Any) -> None:
        self.client = client

    def capable(self, name: str) -> bool:
        return bool(self.client.has_capability(name))

    def select(self, folder: str) -> int:
        """Select `folder` for reading and writing; its UIDVALIDITY."""
        return int(self.client.select_folder(folder)[b"UIDVALIDITY"])

    def uids_after(self, last_uid: int) -> list[int]:
        # `n:*` also matches the newest message when all UIDs are below n (RFC 3501 6.4.8): filtered here.
        return sorted(int(u) for u in self.client.search(["UID", f"{last_uid + 1}:*"]) if int(u) > last_uid)

    def uids_up_to(self, last_uid: int, without: Sequence[str]) -> list[int]:
        """Messages at or below `last_uid` that carry none of the keywords `without`."""
        if last_uid < 1:
            return []
        criteria: list[str] = ["UID", f"1:{last_uid}"]
        for keyword in without:
            criteria += ["NOT", "KEYWORD", keyword]
        return sorted(int(u) for u in self.client.search(criteria))

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each message still there (one expunged meanwhile is absent)."""
        fetched = self.client.fetch(list(uids), ["RFC822.SIZE"])
        return {int(uid): int(data[b"RFC822.SIZE"]) for uid, data in fetched.items() if b"RFC822.SIZE" in data}

    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The whole messages, read with BODY.PEEK[] so that none is marked \\Seen before it is stored."""
        fetched = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {int(uid): bytes(data[b"BODY[]"]) for uid, data in fetched.items() if data.get(b"BODY[]") is not None}

    def flag(self, uids: Sequence[int], flags: Sequence[str]) -> None:
        if uids:
            self.client.add_flags(list(uids), list(flags), silent=True)

    def ensure_folder(self, folder: str) -> None:
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
            self.client.subscribe_folder(folder)  # so that mail clients show it

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE (RFC 6851) when offered, else COPY, \\Deleted and an expunge of just these."""
        if not uids:
            return
        if self.capable("MOVE"):
            self.client.move(list(uids), folder)
            return
        self.client.copy(list(uids), folder)
        self.delete(uids)

    def delete(self, uids: Sequence[int]) -> None:
        """\\Deleted, then UID EXPUNGE (RFC 4315) of just these; without UIDPLUS, a plain EXPUNGE, which also
        removes any other message marked \\Deleted in the folder."""
        if not uids:
            return
        self.client.add_flags(list(uids), [DELETED], silent=True)
        if self.capable("UIDPLUS"):
            self.client.uid_expunge(list(uids))
        else:
            self.client.expunge()

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Until the selected folder changes (IDLE, RFC 2177), `seconds` pass or `stop` is set. The caller keeps
        `seconds` under 29 minutes, as RFC 2177 asks, so that the server does not end an idle session."""
        self.client.idle()
        try:
            deadline = time.monotonic() + seconds
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                slice_seconds = min(left, IDLE_CHECK_SECONDS)
                started = time.monotonic()
                responses = self.client.idle_check(timeout=slice_seconds)
                if any(not _keepalive(r) for r in responses):  # EXISTS, EXPUNGE, a flag change, BYE
                    return
                if not responses and time.monotonic() - started < slice_seconds / 2:
                    return  # readable but nothing in it: the server closed the connection; idle_done will say so
        finally:
            self.client.idle_done()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # already gone: just drop the socket
            with contextlib.suppress(Exception):
                self.client.shutdown()


def _keepalive(response: Any) -> bool:
    """Dovecot's `* OK Still here` every two minutes of IDLE."""
    return isinstance(response, tuple) and len(response) > 0 and response[0] == b"OK"
