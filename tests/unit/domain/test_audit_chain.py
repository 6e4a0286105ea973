"""The audit hash chain detects changed, removed and reordered entries."""

from __future__ import annotations

from dataclasses import replace

from signalement.domain.audit import GENESIS, AuditEntry, entry_hash, verify_chain


def _chain(n: int) -> list[AuditEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        fields = {
            "seq": seq,
            "at": f"2026-11-27T00:00:{seq:02d}",
            "actor": "admin@example.org",
            "action": "user.create",
            "target": f"user:{seq}",
            "client": "127.0.0.1",
            "detail": {"n": seq},
        }
        digest = entry_hash(prev, **fields)  # type: ignore[arg-type]
        entries.append(AuditEntry(prev_hash=prev, hash=digest, **fields))  # type: ignore[arg-type]
        prev = digest
    return entries


def test_intact_chain_verifies() -> None:
    assert verify_chain(_chain(10)) is None
    assert verify_chain([]) is None


def test_changed_entry_is_found() -> None:
    entries = _chain(10)
    entries[4] = replace(entries[4], detail={"n": 999})
    assert verify_chain(entries) == 5


def test_removed_entry_is_found() -> None:
    entries = _chain(10)
    del entries[6]
    assert verify_chain(entries) == 8


def test_reordered_entries_are_found() -> None:
    entries = _chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    assert verify_chain(entries) == 3


def test_rehashing_one_entry_still_breaks_the_next() -> None:
    entries = _chain(5)
    forged = replace(entries[1], actor="someone-else")
    fields = {k: getattr(forged, k) for k in ("seq", "at", "actor", "action", "target", "client", "detail")}
    entries[1] = replace(forged, hash=entry_hash(forged.prev_hash, **fields))
    assert verify_chain(entries) == 3
