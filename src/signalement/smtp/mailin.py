"""What one mail received by the SMTP server becomes: the reports it carries, for the intake.

- At a report address: each message it forwards as an attachment is a report; failing that, a message forwarded
  inline is recovered from the quoted text (and marked `inline`); failing that, the mail itself is the report (a
  filter's redirect, a client's "report junk" that resends the original).
- At a feedback loop's address: each feedback report (ARF) it is or carries, or each X-ARF document; the source is
  the reporter. Anything else a loop sends (a subscription notice) is kept as a plain message.
- At a spam-trap feed's address: each message it forwards as an attachment, or the mail itself (a redirect); at a
  trap domain: the mail itself, always (a spam that carries a message is still one hit). Hits are never answered.
- An ARF report at a report address is a report by whoever sent it, never credited to a feedback loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from signalement.domain.reports import Channel, ReportedCategory, ReportKind
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.arf import read_feedback
from signalement.mail.facts import is_feedback_report
from signalement.mail.forwarded import forwarded_messages
from signalement.mail.xarf import XarfError, parse_xarf, xarf_in_message
from signalement.smtp.outgoing import is_auto_submitted

CLIENT = "smtp"


@dataclass(frozen=True)
class Route:
    """Who reports, as the envelope and the session say."""

    submitter: Submitter
    category: ReportedCategory | None = None  # what the address says the reporter thinks it is
    feed: str | None = None  # the feedback loop's name, when the mail came to its address
    trap: str | None = None  # the spam-trap feed's name, when the mail came to its address or its domains
    direct: bool = False  # a trap domain's mail: the mail itself is the hit, nothing is cut out of it

    @property
    def known(self) -> bool:
        """A reporter who signed in or wrote to their secret address: the only ones ever answered."""
        return self.submitter.user_id is not None


class RefusedMailError(ValueError):
    """A mail the server refuses after DATA (`554 5.6.0`), with why."""


def submissions(raw: bytes, route: Route, *, null_sender: bool) -> list[Submission]:
    if route.feed is not None:
        return [replace(s, source=route.feed) for s in _feedback_loop(raw)]
    if route.trap is not None:
        hits = [] if route.direct else [f.raw for f in forwarded_messages(raw) if f.how == "attached"]
        return [_trap_hit(r, route.trap) for r in hits or [raw]]
    acknowledge = route.known and not null_sender and not is_auto_submitted(raw)
    found = [] if is_feedback_report(raw) else forwarded_messages(raw)  # a report's original is its evidence
    if not found:
        return [_report(raw, route, None, acknowledge)]
    return [_report(f.raw, route, f.how, acknowledge and i == 0) for i, f in enumerate(found)]


def _report(raw: bytes, route: Route, forwarded: str | None, acknowledge: bool) -> Submission:
    feedback = read_feedback(raw) if is_feedback_report(raw) else []
    return Submission(
        raw=raw,
        kind=ReportKind.ARF if feedback else ReportKind.MESSAGE,
        channel=Channel.SMTP,
        reported_category=route.category,
        client=CLIENT,
        forwarded=forwarded,
        feedback=feedback[0].kind if feedback else None,
        acknowledge=acknowledge,
    )


def _trap_hit(raw: bytes, trap: str) -> Submission:
    return Submission(raw=raw, channel=Channel.SMTP, client=CLIENT, source=trap, trap=True)


def _feedback_loop(raw: bytes) -> list[Submission]:
    """One report per feedback report: the mail itself, or each message it carries (a digest of reports)."""
    if is_feedback_report(raw):
        return [_arf(raw)]
    carried = [f.raw for f in forwarded_messages(raw) if f.how == "attached" and is_feedback_report(f.raw)]
    if carried:
        return [_arf(r) for r in carried]
    documents = xarf_in_message(raw)
    if documents:
        return [_xarf(d) for d in documents]
    return [Submission(raw=raw, channel=Channel.SMTP, client=CLIENT)]


def _arf(raw: bytes) -> Submission:
    feedback = read_feedback(raw)
    kind = feedback[0].kind if feedback else None
    return Submission(raw=raw, kind=ReportKind.ARF, channel=Channel.SMTP, client=CLIENT, feedback=kind)


def _xarf(document: bytes) -> Submission:
    try:
        parse_xarf(document)
    except XarfError as error:
        raise RefusedMailError(f"invalid X-ARF: {'; '.join(error.errors[:3])}") from None
    return Submission(raw=document, kind=ReportKind.XARF, channel=Channel.SMTP, client=CLIENT)
