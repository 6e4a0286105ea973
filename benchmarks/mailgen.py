"""Realistic synthetic mail for tests and benchmarks: the shape of real spam and phishing (Received chain,
DKIM signature, multipart/alternative with HTML, sometimes an attachment), ~18 KB on average like the reports
a national platform receives, every message distinct. Deterministic for a given seed. No real URL is used:
links point to example domains (RFC 2606)."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

SUBJECTS = [
    "Votre colis est en attente de livraison",
    "Action requise : vérifiez votre compte",
    "Your account has been suspended",
    "Remboursement d'impôt disponible",
    "Unusual sign-in activity",
    "Dernier rappel : facture impayée",
    "Congratulations, you have won!",
    "Mise à jour de vos informations bancaires",
]
BRANDS = ["La Poste", "Ameli", "Impots.gouv", "Microsoft", "PayPal", "Netflix", "Orange", "Crédit Agricole"]
WORDS = (
    "compte client sécurité vérification paiement colis livraison suspendu confirmer cliquez ici "
    "account security verify payment parcel delivery suspended confirm click here urgent immediately "
    "offre gratuite remboursement facture identifiant mot de passe accès bloqué"
).split()


def _paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _html(rng: random.Random, brand: str, target_size: int, token: str) -> str:
    parts = [f"<html><head><title>{brand}</title></head><body><table width='600'>"]
    while sum(map(len, parts)) < target_size:
        parts.append(
            f"<tr><td style='font-family:Arial;font-size:14px;color:#333'>{_paragraph(rng, 40)}"
            f" <a href='https://{brand.lower().replace(' ', '-')}.secure-{token[:6]}.example/login?id={token}'>"
            "Confirmer</a></td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)


def _wrap(text: str, width: int = 76) -> str:
    return "\r\n".join(text[i : i + width] for i in range(0, len(text), width))


def message(rng: random.Random, index: int, when: datetime | None = None) -> bytes:
    """One message. About 18 KB on average (log-normal), from 3 KB to ~150 KB."""
    token = f"{rng.getrandbits(64):016x}{index:08x}"
    brand = rng.choice(BRANDS)
    when = when or datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(30 * 86400))
    size = int(min(150_000, max(3_000, rng.lognormvariate(9.55, 0.6))))
    html = _html(rng, brand, int(size * 0.45), token)
    text = "\r\n\r\n".join(_paragraph(rng, 30) for _ in range(max(1, size // 900)))
    ip = f"203.0.113.{rng.randrange(1, 255)}"
    boundary = f"=_b{token}"
    alt = f"=_a{token}"
    headers = [
        f"Received: from mx.example.net (mx.example.net [198.51.100.7]) by mail.example.org with ESMTPS id {token[:10]}"
        f"; {format_datetime(when)}",
        f"Received: from sender.example.com (unknown [{ip}]) by mx.example.net with ESMTP; {format_datetime(when)}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=secure-{token[:6]}.example; s=s1;"
        f" h=from:to:subject:date; bh={base64.b64encode(rng.randbytes(32)).decode()};"
        f" b={base64.b64encode(rng.randbytes(128)).decode()}",
        f'From: "{brand}" <service@secure-{token[:6]}.example>',
        f"To: victim{index}@example.org",
        f"Subject: {rng.choice(SUBJECTS)} [{token[:8]}]",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{token}@secure-{token[:6]}.example>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    body = [
        f"--{boundary}",
        f'Content-Type: multipart/alternative; boundary="{alt}"',
        "",
        f"--{alt}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        text,
        f"--{alt}",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        _wrap(base64.b64encode(html.encode()).decode()),
        f"--{alt}--",
    ]
    if rng.random() < 0.2:
        body += [
            f"--{boundary}",
            'Content-Type: application/pdf; name="facture.pdf"',
            'Content-Disposition: attachment; filename="facture.pdf"',
            "Content-Transfer-Encoding: base64",
            "",
            _wrap(base64.b64encode(rng.randbytes(size // 4)).decode()),
        ]
    body.append(f"--{boundary}--")
    return ("\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode()


def messages(count: int, seed: int = 0) -> Iterator[bytes]:
    rng = random.Random(seed)
    for index in range(count):
        yield message(rng, index)


def corpus_messages(folder: Path, count: int, seed: int = 0) -> Iterator[bytes]:
    """Real messages from a corpus folder, each made distinct by a header so none de-duplicates."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in {".eml", ""} and p.name != "labels.csv")
    rng = random.Random(seed)
    for index in range(count):
        raw = rng.choice(files).read_bytes()
        yield f"X-Benchmark-Id: {seed}-{index}\r\n".encode() + raw
