"""What a configured mailbox means for the intake: who reports (its route) and the reports one message becomes.

- kind `reports`: a shared "Report spam" mailbox; every report is credited to the user whose e-mail is `reporter`
  (a missing user is an error at start, not a silent anonymous report). Forwarded attachments are cut out as the
  report addresses do. Nobody is answered: the owner would get one acknowledgement per message.
- kind `feedback`: a mailbox provider's complaint mailbox, read as its feedback loop's address is read (ARF,
  X-ARF); the source's name is the feed's name.
- kind `trap`: the mailbox of a spam trap's addresses: each message is itself the hit (as at a trap domain, even one
  that carries a message), flagged `trap`, never answered.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import replace

from sqlalchemy import Engine, select

from signalement.domain.reports import Channel
from signalement.ingest.intake import Submission, Submitter
from signalement.settings import ImapSource
from signalement.smtp.mailin import RefusedMailError, Route, submissions
from signalement.store.db import read
from signalement.store.tables import users

log = logging.getLogger(__name__)

CLIENT = "imap"


class ImapConfigError(ValueError):
    """A configured mailbox the poller cannot run: said at start, before any thread."""


def check(source: ImapSource) -> None:
    if source.security == "none" and not is_loopback(source.host):
        raise ImapConfigError(f"imap source {source.name}: security = none is allowed only on a loopback host")
    if source.after == "move" and source.move_to in source.folders:
        raise ImapConfigError(f"imap source {source.name}: move_to is one of its watched folders")
    if source.kind == "reports" and not source.reporter:
        raise ImapConfigError(f"imap source {source.name}: kind = reports needs `reporter` (the owner's e-mail)")
    if not source.folders:
        raise ImapConfigError(f"imap source {source.name}: no folder to watch")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def route_for(engine: Engine, source: ImapSource) -> Route:
    check(source)
    if source.kind == "feedback":
        return Route(Submitter(f"feed:{source.name}"), feed=source.name)
    if source.kind == "trap":  # the mailbox of trap addresses: each message is itself the hit, as at a trap domain
        return Route(Submitter(f"trap:{source.name}"), trap=source.name, direct=True)
    with read(engine) as conn:
        user_id = conn.execute(
            select(users.c.id).where(users.c.email == source.reporter.strip().lower(), users.c.disabled.is_(False))
        ).scalar_one_or_none()
    if user_id is None:  # the e-mail itself stays out of the message: it goes to logs
        raise ImapConfigError(
            f"imap source {source.name}: no active user has the e-mail given as `reporter` "
            "(create it with `signalement user create`)"
        )
    return Route(Submitter.user(int(user_id)))


def reports_in(raw: bytes, source: ImapSource, route: Route) -> list[Submission]:
    """The reports one message becomes. An invalid X-ARF document raises RefusedMailError (the caller refuses the
    message); any other defect in reading it keeps the message whole as one report, as the SMTP server does."""
    try:
        found = submissions(raw, route, null_sender=False)
    except RefusedMailError:
        raise
    except Exception as error:  # the class only: a parser's message may quote the mail
        log.warning(
            "imap %s: could not read a message's reports (%s); stored as it is", source.name, type(error).__name__
        )
        found = [Submission(raw=raw, trap=route.trap is not None)]
    return [replace(s, channel=Channel.IMAP, client=CLIENT, source=source.name, acknowledge=False) for s in found]
