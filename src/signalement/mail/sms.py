"""Understanding a reported SMS: the links and phone numbers of its text, its sender id, a fingerprint that can
meet mail of the same campaign (the same URL domains weigh in both)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from signalement.mail import fingerprint, phones, urls

MAX_TEXT = 10_000


def understand_sms(raw: bytes, regions: tuple[str, ...] = ("FR",)) -> dict[str, Any]:
    """The analysis document of an SMS blob (the canonical JSON that intake stores)."""
    document = _document(raw)
    text = str(document.get("text") or "")[:MAX_TEXT]
    sender = str(document.get("sender") or "")[:100]
    found = urls.collect(urls.urls_in_text(text))
    numbers = phones.phones_in_text(text, regions)
    return {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "sms": {"sender": sender, "sender_kind": sender_kind(sender), "text_length": len(text)},
        "urls": [u.as_json() for u in found],
        "phones": [p.as_json() for p in numbers],
        "fingerprint": fingerprint.fingerprint(text, urls.domains(found)).as_json(),
        "defects": [] if document else ["InvalidSmsDocument"],
    }


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
