"""The audit log's hash chain: each entry commits to its content and to the entry before it.

Changing, removing or reordering any stored entry breaks every hash after it, which `verify_chain` finds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str  # ISO 8601, UTC, as stored
    actor: str
    action: str
    target: str
    client: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def entry_hash(
    prev_hash: str, *, seq: int, at: str, actor: str, action: str, target: str, client: str, detail: Mapping[str, Any]
) -> str:
    body = json.dumps(
        [prev_hash, seq, at, actor, action, target, client, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def verify_chain(entries: Iterable[AuditEntry]) -> int | None:
    """The seq of the first entry that does not follow from its predecessor, or None if all do."""
    prev = GENESIS
    expected_seq = 1
    for e in entries:
        computed = entry_hash(
            prev,
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            client=e.client,
            detail=e.detail,
        )
        if e.seq != expected_seq or e.prev_hash != prev or e.hash != computed:
            return e.seq
        prev = e.hash
        expected_seq += 1
    return None
