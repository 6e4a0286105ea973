"""Understanding a reported message: where it came from, who sent it, whether it authenticated, what it links to
and carries. Pure and offline. Every stage is bounded; a stage that fails on hostile input is recorded as a defect
and the others still run, so a message always yields a result.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from signalement.mail import attachments, authresults, fingerprint, html, phones, sender, trust, urls
from signalement.mail.facts import decode
from signalement.mail.message import ParsedMessage, PartRef, parse
from signalement.mail.stages import UNFORESEEN, UNTIMED, Budget, Stages

log = logging.getLogger(__name__)
_LOCKED = {"password-protected", "encrypted-archive"}

MAX_TEXT = 200_000  # characters of visible text given to the text stages (phones, fingerprint)
DEFAULT_BUDGET = 5.0  # seconds of wall clock per message before later stages are skipped


@dataclass
class Content:
    """What the body says, for the verdict's rules; only the short fields are emitted as JSON."""

    text: str = ""
    title: str | None = None
    image_alts: list[str] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)
    has_password_input: bool = False
    html_parts: int = 0
    text_parts: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "image_alts": self.image_alts[:50],
            "forms": self.forms[:20],
            "has_password_input": self.has_password_input,
            "html_parts": self.html_parts,
            "text_parts": self.text_parts,
            "text_length": len(self.text),
        }


@dataclass
class Understanding:
    sha256: str
    size: int
    subject: str | None = None
    date: str | None = None
    message_id: str | None = None
    content_type: str | None = None
    origin: trust.Origin | None = None
    sender: sender.Sender | None = None
    authentication: authresults.Authentication | None = None
    urls: list[urls.FoundURL] = field(default_factory=list)
    phones: list[phones.Phone] = field(default_factory=list)
    attachments: list[attachments.Attachment] = field(default_factory=list)
    fingerprint: fingerprint.Fingerprint | None = None
    content: Content = field(default_factory=Content)
    defects: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "subject": self.subject,
            "date": self.date,
            "message_id": self.message_id,
            "content_type": self.content_type,
            "origin": self.origin.as_json() if self.origin else None,
            "sender": self.sender.as_json() if self.sender else None,
            "authentication": self.authentication.as_json() if self.authentication else None,
            "urls": [u.as_json() for u in self.urls],
            "phones": [p.as_json() for p in self.phones],
            "attachments": [a.as_json() for a in self.attachments],
            "fingerprint": self.fingerprint.as_json() if self.fingerprint else None,
            "content": self.content.as_json(),
            "defects": sorted(set(self.defects)),
        }


@dataclass
class _Work:
    """What the stages share while one message is analysed."""

    parsed: ParsedMessage
    result: Understanding
    context: trust.TrustContext
    regions: tuple[str, ...]
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (URL as found, where) for the urls stage


def _headers(work: _Work) -> None:
    msg, result = work.parsed.message, work.result
    subject, date = msg["subject"], msg["date"]  # each read scans every header: once each
    result.subject = decode(subject) if subject is not None else None
    result.date = str(date)[:200] if date is not None else None
    result.message_id = decode(msg["message-id"]).strip()[:500] or None
    result.content_type = msg.get_content_type()


def _origin(work: _Work) -> None:
    work.result.origin = trust.origin(work.parsed.message, work.context)


def _sender(work: _Work) -> None:
    work.result.sender = sender.sender(work.parsed.message)


def _authentication(work: _Work) -> None:
    result = work.result
    from_domain = result.sender.from_domain if result.sender else None
    result.authentication = authresults.authentication(
        work.parsed.message, from_domain, work.context, known_origin=result.origin
    )


def _urls(work: _Work) -> None:
    result = work.result
    work.candidates.extend(urls.urls_in_text(result.content.text))
    if result.subject:
        work.candidates.extend((u, "subject") for u, _ in urls.urls_in_text(result.subject))
    result.urls = urls.collect(work.candidates)


def _phones(work: _Work) -> None:
    work.result.phones = phones.phones_in_text(_subject_and_text(work.result), work.regions)


def _fingerprint(work: _Work) -> None:
    result = work.result
    result.fingerprint = fingerprint.fingerprint(result.content.text, urls.domains(result.urls), result.subject or "")


def _subject_and_text(result: Understanding) -> str:
    return f"{result.subject or ''}\n{result.content.text}"


def _read_bodies(work: _Work) -> None:
    parsed, content, candidates = work.parsed, work.result.content, work.candidates
    texts: list[str] = []
    html_texts: list[str] = []
    for ref in parsed.parts:
        if ref.is_attachment:
            continue
        if ref.content_type == "text/html":
            content.html_parts += 1
            facts = html.read_html(parsed.text(ref))
            html_texts.append(facts.text)
            candidates.extend(facts.urls)
            content.title = content.title or facts.title
            content.image_alts.extend(facts.image_alts)
            content.forms.extend(f.as_json() for f in facts.forms)
            content.has_password_input |= facts.has_password_input
        elif ref.content_type.startswith("text/"):
            content.text_parts += 1
            texts.append(parsed.text(ref))
    # The plain alternative when there is one (what a text reader sees), else the HTML's visible text; URLs are
    # taken from both, since the HTML links are what a person clicks.
    content.text = "\n".join(texts or html_texts)[:MAX_TEXT]
    if texts and html_texts:
        for text in html_texts:
            candidates.extend(urls.urls_in_text(text))


def _read_attachments(work: _Work) -> None:
    parsed, result, candidates = work.parsed, work.result, work.candidates
    for ref in parsed.parts:
        if not ref.is_attachment:
            continue
        data = parsed.payload(ref)
        described = attachments.describe(ref.filename, ref.content_type, data)
        if _LOCKED.intersection(described.flags):  # phishing locks the file and gives the password in the body
            passwords = attachments.passwords_in_text(_subject_and_text(result))
            if passwords:
                described = attachments.describe(ref.filename, ref.content_type, data, passwords)
        result.attachments.append(described)
        candidates.extend(described.urls)
        if _is_html(ref, described):
            facts = html.read_html(parsed.text(ref))
            candidates.extend((url, f"attachment:{where}") for url, where in facts.urls)
            candidates.extend((url, "attachment:text") for url, _ in urls.urls_in_text(facts.text))


def _is_html(ref: PartRef, described: attachments.Attachment) -> bool:
    return "html" in ref.content_type or "html" in (described.sniffed_type or "")


# The chain, as data: each stage reads what the ones before it found.
STAGES: tuple[tuple[str, Callable[[_Work], None]], ...] = (
    ("headers", _headers),
    ("origin", _origin),
    ("sender", _sender),
    ("authentication", _authentication),
    ("bodies", _read_bodies),
    ("attachments", _read_attachments),
    ("urls", _urls),
    ("phones", _phones),
    ("fingerprint", _fingerprint),
)


def understand(
    raw: bytes,
    context: trust.TrustContext | None = None,
    *,
    regions: tuple[str, ...] = ("FR",),
    stages: Stages | None = None,
    budget_seconds: float = DEFAULT_BUDGET,
) -> Understanding:
    stages = stages if stages is not None else UNTIMED
    budget = Budget(budget_seconds)
    result = Understanding(sha256=hashlib.sha256(raw).hexdigest(), size=len(raw))
    start = stages.start()
    parsed = parse(raw)  # never raises: hostile structure becomes defects
    stages.stop("parse", start)
    work = _Work(parsed, result, context or trust.TrustContext(), regions)
    for name, step in STAGES:
        if budget.exceeded():
            result.defects.append(f"TimeBudgetExceeded:{name}")
            continue
        start = stages.start()
        try:
            step(work)
        except UNFORESEEN as e:
            # A bug or an input no stage foresaw: keep the rest of the analysis, and say what failed.
            log.warning("analysis stage %s failed: %s", name, type(e).__name__)
            result.defects.append(f"StageError:{name}:{type(e).__name__}")
        stages.stop(name, start)
    result.defects[:0] = parsed.defects  # the parser's and the decoders' findings, then the stages'
    return result
