"""How far a bulk import got in each file (table import_progress), so that an interrupted import resumes after its
last committed batch and a file already imported whole is not read again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from signalement.store.sql import utcnow
from signalement.store.tables import import_progress as table


@dataclass
class FileProgress:
    path: str  # absolute
    size: int  # the file's size and modification time when its import began: a change means read it again
    mtime_ns: int
    done_messages: int = 0  # messages committed (taken, duplicate or rejected)
    done_offset: int = 0  # bytes of the file behind them: where an mbox's import resumes
    finished: bool = False

    def same_file(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns


def load(conn: Connection, submitter: str, paths: Sequence[str]) -> dict[str, FileProgress]:
    if not paths:
        return {}
    rows = conn.execute(_SELECT, {"submitter": submitter, "paths": list(paths)})
    return {
        r.path: FileProgress(r.path, r.size, r.mtime_ns, r.done_messages, r.done_offset, r.finished_at is not None)
        for r in rows
    }


def save(conn: Connection, submitter: str, files: Sequence[FileProgress]) -> None:
    if not files:
        return
    now = utcnow()
    rows = [
        {
            "submitter": submitter,
            "path": f.path,
            "size": f.size,
            "mtime_ns": f.mtime_ns,
            "done_messages": f.done_messages,
            "done_offset": f.done_offset,
            "finished_at": now if f.finished else None,
            "updated_at": now,
        }
        for f in files
    ]
    conn.execute(_upsert(conn.dialect.name), rows)


_SELECT = select(table).where(
    table.c.submitter == bindparam("submitter"), table.c.path.in_(bindparam("paths", expanding=True))
)


@cache
def _upsert(dialect_name: str) -> Insert:
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    kept = ("size", "mtime_ns", "done_messages", "done_offset", "finished_at", "updated_at")
    statement: Insert = insert.on_conflict_do_update(
        index_elements=[table.c.submitter, table.c.path], set_={name: insert.excluded[name] for name in kept}
    )
    return statement
