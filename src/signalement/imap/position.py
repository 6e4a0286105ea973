"""How far each watched folder was taken (table `imap_folders`): its UIDVALIDITY and the last UID taken.

The position moves only after the reports up to it are committed, so a crash between the two takes those messages
again, and the intake's de-duplication (one report per submitter and bytes) makes that harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from signalement.store.db import read
from signalement.store.sql import insert_ignore, utcnow
from signalement.store.tables import imap_folders


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    last_uid: int = 0


def load(engine: Engine, source: str, folder: str) -> Position | None:
    with read(engine) as conn:
        row = conn.execute(
            select(imap_folders.c.uidvalidity, imap_folders.c.last_uid).where(
                imap_folders.c.source == source, imap_folders.c.folder == folder
            )
        ).first()
    return Position(int(row.uidvalidity), int(row.last_uid)) if row is not None else None


def save(engine: Engine, source: str, folder: str, position: Position) -> None:
    values = {"uidvalidity": position.uidvalidity, "last_uid": position.last_uid, "updated_at": utcnow()}
    with engine.begin() as conn:
        if not insert_ignore(conn, imap_folders, {"source": source, "folder": folder, **values}):
            conn.execute(
                update(imap_folders)
                .where(imap_folders.c.source == source, imap_folders.c.folder == folder)
                .values(**values)
            )
