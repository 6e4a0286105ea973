"""DKIM keys for the tests: an RSA key made by the openssl command, its DNS record, and signing with dkimpy."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dkim


@dataclass(frozen=True)
class DkimKey:
    private: bytes  # PEM
    record: str  # the TXT record of <selector>._domainkey.<domain>

    def sign(self, raw: bytes, domain: str, *, selector: str = "test", headers: list[bytes] | None = None) -> bytes:
        """The message with a DKIM-Signature of `domain` on top (by default over From, To, Subject, Date)."""
        covered = headers or [b"from", b"to", b"subject", b"date"]
        signature: bytes = dkim.sign(raw, selector.encode(), domain.encode(), self.private, include_headers=covered)
        return signature + raw


def make_key(folder: Path) -> DkimKey:
    subprocess.run(["openssl", "genrsa", "-out", str(folder / "key.pem"), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(folder / "key.pem"), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return DkimKey((folder / "key.pem").read_bytes(), f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}")
