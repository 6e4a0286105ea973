"""One watched folder: take each new message in as reports, then move, flag or delete it; wait; again.

A pass: SELECT the folder; a UIDVALIDITY other than the stored one starts the folder over from its current
messages (UIDs of the old validity mean nothing any more; the intake's de-duplication keeps a message taken before
from becoming a second report); finish the after-action of messages already taken (a crash can fall between the
commit and the move); then the messages with UID > last_uid, in batches: fetch (BODY.PEEK[]), commit their reports,
record the new last_uid, and only then move, flag or delete them. A message too big or unreadable is flagged
$SignalementRefused, left in place, and passed over, so that one bad message never blocks the folder.

Between passes: IDLE (renewed every 25 minutes, under RFC 2177's 29) when the server offers it, else a poll every
`poll_seconds`. A lost connection is logged (never with an address or a subject) and made again after a backoff
that doubles up to a cap; nothing escapes the thread.
"""

from __future__ import annotations

import imaplib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from signalement.imap import position
from signalement.imap.mailbox import SEEN, ConnectionLost, Mailbox, connect
from signalement.imap.position import Position
from signalement.imap.sources import reports_in
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.settings import ImapSource
from signalement.smtp.mailin import RefusedMailError, Route

log = logging.getLogger(__name__)

REPORTED = "$Reported"
REFUSED = "$SignalementRefused"
IDLE_SECONDS = 25 * 60.0
SIZES_CHUNK = 500  # UIDs per FETCH RFC822.SIZE
BATCH_MESSAGES = 100  # messages per commit
BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class Tally:
    messages: int = 0  # taken in (their reports stored)
    reports: int = 0  # new reports
    duplicates: int = 0  # reports already stored (taken again after a crash, or the same bytes twice)
    refused: int = 0  # left in place, flagged $SignalementRefused

    def __iadd__(self, other: Tally) -> Tally:
        self.messages += other.messages
        self.reports += other.reports
        self.duplicates += other.duplicates
        self.refused += other.refused
        return self


class FolderPoller:
    def __init__(
        self,
        platform: Platform,
        source: ImapSource,
        folder: str,
        route: Route,
        *,
        connector: Callable[[ImapSource], Mailbox] = connect,
        backoff_seconds: float = 1.0,
        backoff_cap_seconds: float = 60.0,
    ) -> None:
        self.platform = platform
        self.source = source
        self.folder = folder
        self.route = route
        self.connector = connector
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.max_bytes = platform.settings.smtp_max_message_bytes
        self.name = f"{source.name}/{folder}"
        self.tally = Tally()
        self.connections = 0  # sessions opened, and passes completed: what tests wait for
        self.passes = 0

    def once(self) -> Tally:
        """Take what is in the folder now, then disconnect."""
        mailbox = self.connector(self.source)
        try:
            return self.take(mailbox)
        finally:
            mailbox.close()

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: sessions, and a backoff between them when the last one failed early."""
        delay = self.backoff_seconds
        while not stop.is_set():
            if self._session(stop):
                delay = self.backoff_seconds
            if stop.wait(delay):
                return
            delay = min(delay * 2, self.backoff_cap_seconds)

    def _session(self, stop: threading.Event) -> bool:
        """Connect, then pass and wait until `stop`; False when no pass completed."""
        completed = 0
        try:
            mailbox = self.connector(self.source)
        except Exception as error:
            log.warning("imap %s: cannot connect (%s)", self.name, describe(error))
            return False
        self.connections += 1
        try:
            idle = self.source.idle and mailbox.capable("IDLE")
            log.info("imap %s: connected, %s", self.name, "waiting in IDLE" if idle else "polling")
            while not stop.is_set():
                self.take(mailbox)
                completed += 1
                if idle:
                    mailbox.wait(IDLE_SECONDS, stop)
                else:
                    stop.wait(self.source.poll_seconds)
        except Exception as error:
            log.warning("imap %s: connection lost or failed (%s)", self.name, describe(error))
            log.debug("imap %s: details", self.name, exc_info=True)
        finally:
            mailbox.close()
        return completed > 0

    def take(self, mailbox: Mailbox) -> Tally:
        """One pass over the folder."""
        tally = Tally()
        if self.source.after == "move":
            mailbox.ensure_folder(self.source.move_to)
        at = self._position(mailbox.select(self.folder))
        self._finish(mailbox, at.last_uid)
        for chunk in _chunks(mailbox.uids_after(at.last_uid), SIZES_CHUNK):
            sizes = mailbox.sizes(chunk)
            for batch in _batches(chunk, sizes, self.max_bytes):
                at = self._take_batch(mailbox, batch, sizes, at, tally)
        if tally.messages or tally.refused:
            log.info(
                "imap %s: took %d message(s): %d new report(s), %d already stored; %d refused",
                self.name,
                tally.messages,
                tally.reports,
                tally.duplicates,
                tally.refused,
            )
        self.tally += tally
        self.passes += 1
        return tally

    def _position(self, uidvalidity: int) -> Position:
        known = position.load(self.platform.engine, self.source.name, self.folder)
        if known is not None and known.uidvalidity == uidvalidity:
            return known
        if known is not None:
            log.warning(
                "imap %s: UIDVALIDITY changed (%d, was %d): the folder is taken again from its first message",
                self.name,
                uidvalidity,
                known.uidvalidity,
            )
        start = Position(uidvalidity, 0)
        position.save(self.platform.engine, self.source.name, self.folder, start)
        return start

    def _finish(self, mailbox: Mailbox, last_uid: int) -> None:
        """The after-action of messages taken before (at or below last_uid) but still there, unflagged."""
        without = [REFUSED, REPORTED] if self.source.after == "flag" else [REFUSED]
        for chunk in _chunks(mailbox.uids_up_to(last_uid, without), BATCH_MESSAGES):
            self._after(mailbox, chunk)

    def _take_batch(
        self, mailbox: Mailbox, batch: list[int], sizes: dict[int, int], at: Position, tally: Tally
    ) -> Position:
        wanted = [u for u in batch if 0 < sizes.get(u, 0) <= self.max_bytes]
        refused = [u for u in batch if u in sizes and u not in wanted]  # too big, or empty
        bodies = self._bodies(mailbox, wanted)
        items: list[tuple[Submitter, Submission]] = []
        taken: list[int] = []
        for uid in wanted:
            raw = bodies.get(uid)
            try:
                found = reports_in(raw, self.source, self.route) if raw else None
            except RefusedMailError:
                found = None
            if found is None:
                refused.append(uid)
                continue
            items += [(self.route.submitter, s) for s in found]
            taken.append(uid)
        accepted = self.platform.intake.accept_all(items) if items else []
        at = Position(at.uidvalidity, max(batch))  # only now: the reports are committed
        position.save(self.platform.engine, self.source.name, self.folder, at)
        self._after(mailbox, taken)
        if refused:
            mailbox.flag(refused, [REFUSED])
            log.warning("imap %s: refused (too big or unreadable), left in place: UIDs %s", self.name, sorted(refused))
        created = sum(a.created for a in accepted)
        tally += Tally(len(taken), created, len(accepted) - created, len(refused))
        return at

    def _bodies(self, mailbox: Mailbox, uids: list[int]) -> dict[int, bytes]:
        """The messages; when the server answers NO for a batch, one by one, so that only the unreadable one is
        missing."""
        if not uids:
            return {}
        try:
            return mailbox.bodies(uids)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            if len(uids) == 1:
                return {}
            found: dict[int, bytes] = {}
            for uid in uids:
                found |= self._bodies(mailbox, [uid])
            return found

    def _after(self, mailbox: Mailbox, uids: Sequence[int]) -> None:
        if not uids:
            return
        if self.source.after == "delete":
            mailbox.delete(uids)
            return
        mailbox.flag(uids, [SEEN, REPORTED])
        if self.source.after == "move":
            mailbox.move(uids, self.source.move_to)


def _chunks(uids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


def _batches(uids: list[int], sizes: dict[int, int], max_bytes: int) -> Iterator[list[int]]:
    """Runs of at most BATCH_MESSAGES messages and BATCH_BYTES bytes (a message not fetched counts for nothing)."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0) if sizes.get(uid, 0) <= max_bytes else 0
        if batch and (len(batch) == BATCH_MESSAGES or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def describe(error: BaseException) -> str:
    """The error's class, with its text only for connection and protocol errors (a server's words, no mail)."""
    if isinstance(error, ConnectionLost):
        return f"{type(error).__name__}: {str(error)[:200]}"
    return type(error).__name__
