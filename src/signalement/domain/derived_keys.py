"""Keys derived from the server's secret, one per purpose and subject (`purpose:part:...`, HMAC-SHA256): nothing
derived is stored, and no two purposes can share a key."""

from __future__ import annotations

import hashlib
import hmac


def derive(server_secret: bytes, purpose: str, *parts: object) -> bytes:
    return hmac.new(server_secret, ":".join((purpose, *map(str, parts))).encode(), hashlib.sha256).digest()
