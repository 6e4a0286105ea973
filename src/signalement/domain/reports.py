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
