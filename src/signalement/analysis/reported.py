"""The message a report is about: what the analysis reads, the platform's DKIM check verifies and a complaint
carries. A feedback report (ARF) is about the original it carries, an X-ARF report about the message it gives as
evidence; any other report is the message itself."""

from __future__ import annotations

from signalement.domain.reports import ReportKind
from signalement.mail.arf import Feedback, read_feedback
from signalement.mail.xarf import XarfReport, parse_xarf


def feedback_original(raw: bytes) -> tuple[bytes, list[Feedback]]:
    """A feedback report's original message (the report's own wrapper when it carries none), and its reports."""
    feedback = read_feedback(raw)
    return next((f.original for f in feedback if f.original), None) or raw, feedback


def xarf_evidence(raw: bytes) -> tuple[bytes | None, XarfReport]:
    """An X-ARF report's evidence message, if it gives one; XarfError when it is no longer valid."""
    report = parse_xarf(raw)
    message = next((e.payload for e in report.evidence if e.content_type.lower() == "message/rfc822"), None)
    return message, report


def reported_message(kind: str, raw: bytes) -> bytes | None:
    """None only for an X-ARF report without a message."""
    if kind == ReportKind.ARF:
        return feedback_original(raw)[0]
    if kind == ReportKind.XARF:
        return xarf_evidence(raw)[0]
    return raw
