"""Changes of a listed thing (a URL, an indicator) that feeds follow: each sets some columns, gets the next number of
its counter (allocated under the counter's row lock, so numbers follow the commit order and a feed's cursor never
skips one), and is recorded as an event with who made it and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, update

from signalement.store import versions


@dataclass
class Change:
    reason: str | None
    values: dict[str, Any] = field(default_factory=dict)  # the columns it sets
    detail: dict[str, Any] = field(default_factory=dict)  # what its event says: [before, after] per column

    def move(self, column: str, before: StrEnum, after: StrEnum | None) -> bool:
        """Set an enumerated column if `after` differs from `before`; whether it did."""
        if after is None or after is before:
            return False
        self.values[column] = after
        self.detail[column] = [before.value, after.value]
        return True


def commit(conn: Connection, change: Change, *, counter: str, table: Table, events: Table, ref: str, row_id: int,
           actor: str, action: str, now: datetime) -> int:  # fmt: skip
    """Apply the change to the row and record its event; the change's number."""
    seq = versions.bump_and_read(conn, counter)
    conn.execute(update(table).where(table.c.id == row_id).values(changed_at=now, seq=seq, **change.values))
    detail = {"reason": change.reason, **change.detail}
    conn.execute(events.insert().values({ref: row_id, "seq": seq, "at": now, "actor": actor[:320], "action": action,
                                         "detail": detail}))  # fmt: skip
    return seq
