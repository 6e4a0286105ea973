"""Reports as the platform sees them, independent of how they are stored or served."""

from __future__ import annotations

from enum import StrEnum


class ReportKind(StrEnum):
    MESSAGE = "message"  # an RFC 5322 message someone received
    ARF = "arf"  # an RFC 5965 feedback report (a mailbox provider's complaint)
    XARF = "xarf"  # an X-ARF v4 JSON report
    SMS = "sms"  # a text message, stored as a JSON document


class ReportStatus(StrEnum):
    RECEIVED = "received"
    ANALYZED = "analyzed"
    FAILED = "failed"


class ReportedCategory(StrEnum):
    """What the reporter said the message is; the platform's own verdict is kept apart."""

    SPAM = "spam"
    PHISHING = "phishing"
    SCAM = "scam"
    UNKNOWN = "unknown"


class VerdictCategory(StrEnum):
    """What the platform's analysis says the message is (signalement.verdict), apart from the reporter's word."""

    PHISHING = "phishing"
    MALWARE = "malware"
    SCAM = "scam"
    SPAM = "spam"
    LEGITIMATE = "legitimate"


class Channel(StrEnum):
    """How a report reached the platform."""

    API = "api"
    BATCH = "batch"
    SIGNAL_SPAM = "signal_spam"
    SMS_API = "sms_api"
    SMTP = "smtp"  # a report address or a feedback loop's address
    WEB = "web"  # the web application's forms
    IMAP = "imap"  # a watched mailbox (signalement.imap)
    IMPORT = "import"  # `signalement import` of mbox files and folders
    SMS_CONVERSATION = "sms_conversation"  # a reporter's SMS to the short number: the sender's number, then the text


TRAP_WEIGHT = 5.0
"""How much a spam-trap hit counts in statistics against one person's report: a trap has no person behind it who
might misjudge a newsletter, so its hits are certain (SpamCop weighs trap hits above reports in the same way)."""


def statistical_weight(trap: bool) -> float:
    return TRAP_WEIGHT if trap else 1.0
