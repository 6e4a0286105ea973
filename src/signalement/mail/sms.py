"""Understanding a reported SMS: the links and phone numbers of its text, its sender id, a fingerprint that can
meet mail of the same campaign (the same URL domains weigh in both)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from signalement.mail import fingerprint, phones, urls

MAX_TEXT = 10_000


@dataclass(frozen=True)
class Sms:
    sha256: str
    size: int
    sender: str
    text: str
    urls: list[urls.FoundURL] = field(default_factory=list)
    phones: list[phones.Phone] = field(default_factory=list)
    fingerprint: fingerprint.Fingerprint | None = None
    defects: list[str] = field(default_factory=list)

    @property
    def sender_kind(self) -> str:
        return sender_kind(self.sender)

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "sms": {"sender": self.sender, "sender_kind": self.sender_kind, "text_length": len(self.text)},
            "urls": [u.as_json() for u in self.urls],
            "phones": [p.as_json() for p in self.phones],
            "fingerprint": self.fingerprint.as_json() if self.fingerprint else None,
            "defects": list(self.defects),
        }


def sms_document(sender: str, text: str, received_at: datetime, recipient_number: str | None = None) -> bytes:
    """The blob of an SMS: the same SMS always gives the same bytes (sorted keys, UTC time, no reporter's words)."""
    document = {
        "type": "sms",
        "sender": sender,
        "text": text,
        "received_at": received_at.astimezone(UTC).isoformat(),
        "recipient_number": recipient_number,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def read_sms(raw: bytes, regions: tuple[str, ...] = ("FR",)) -> Sms:
    """What an SMS blob (the canonical JSON that intake stores) says."""
    document = _document(raw)
    text = str(document.get("text") or "")[:MAX_TEXT]
    found = urls.collect(urls.urls_in_text(text))
    return Sms(
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        sender=str(document.get("sender") or "")[:100],
        text=text,
        urls=found,
        phones=phones.phones_in_text(text, regions),
        fingerprint=fingerprint.fingerprint(text, urls.domains(found)),
        defects=[] if document else ["InvalidSmsDocument"],
    )


def understand_sms(raw: bytes, regions: tuple[str, ...] = ("FR",)) -> dict[str, Any]:
    """The analysis document of an SMS blob."""
    return read_sms(raw, regions).as_json()


def sender_kind(sender: str) -> str:
    """An alphanumeric sender id (`LaPoste`), a short code (`38000`), or a phone number."""
    digits = sender.lstrip("+").replace(" ", "")
    if not digits.isdigit():
        return "alphanumeric" if sender else "none"
    return "short-code" if len(digits) <= 6 else "number"


def _document(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}
