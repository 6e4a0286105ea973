"""URL and indicator feeds as CSV and JSON, the URLs' with fields like URLhaus's and PhishTank's. Written row by row
(`iter_csv`, `iter_json`) so that a large feed streams; `to_csv` and `to_json` join the chunks."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from signalement.feeds.entry import IndicatorEntry, UrlEntry
from signalement.stats.export import cell

FIELDS = [
    "url", "listed", "level", "state", "first_seen", "last_seen", "brand", "reports", "reporters", "tags", "tlp",
    "withdrawn", "id", "seq", "changed_at", "campaigns",
]  # fmt: skip
INDICATOR_FIELDS = [
    "kind", "value", "state", "first_seen", "last_seen", "reports", "sources", "campaigns", "tlp", "withdrawn", "id",
    "seq", "changed_at",
]  # fmt: skip
Entry = UrlEntry | IndicatorEntry


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the second; a naive time is taken as UTC (SQLite gives them back naive)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def record(entry: Entry) -> dict[str, Any]:
    """One entry as plain JSON values, in FIELDS (or INDICATOR_FIELDS) order."""
    if isinstance(entry, IndicatorEntry):
        return _indicator(entry)
    return {
        "url": entry.url,
        "listed": entry.listed,
        "level": entry.level.value,
        "state": entry.state.value,
        "first_seen": iso(entry.first_seen),
        "last_seen": iso(entry.last_seen),
        "brand": entry.brand,
        "reports": entry.reports,
        "reporters": entry.reporters,
        "tags": list(entry.tags),
        "tlp": entry.tlp.value,
        "withdrawn": entry.withdrawn,
        "id": entry.id,
        "seq": entry.seq,
        "changed_at": iso(entry.changed_at),
        "campaigns": list(entry.campaigns),
    }


def _indicator(entry: IndicatorEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "value": entry.value,
        "state": entry.state,
        "first_seen": iso(entry.first_seen),
        "last_seen": iso(entry.last_seen),
        "reports": entry.reports,
        "sources": entry.sources,
        "campaigns": list(entry.campaigns),
        "tlp": entry.tlp.value,
        "withdrawn": entry.withdrawn,
        "id": entry.id,
        "seq": entry.seq,
        "changed_at": iso(entry.changed_at),
    }


def _csv_row(entry: Entry) -> list[str]:
    r = record(entry)
    text = {"url", "listed", "brand", "value"}  # what a sender can shape: never a formula in a spreadsheet
    row = []
    for name in r:
        value = r[name]
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)  # URLhaus's style: tags comma-separated in one cell
            value = cell(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif value is None:
            value = ""
        elif name in text:
            value = cell(value)
        row.append(str(value))
    return row


def iter_csv(entries: Iterable[Entry], fields: list[str] = FIELDS) -> Iterator[bytes]:
    """A header line then one CRLF line per entry (RFC 4180, UTF-8, no comment lines, no BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _rows(entries, fields):
        writer.writerow(row)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _rows(entries: Iterable[Entry], fields: list[str]) -> Iterator[list[str]]:
    yield fields
    for entry in entries:
        yield _csv_row(entry)


def to_csv(entries: Iterable[Entry], fields: list[str] = FIELDS) -> bytes:
    return b"".join(iter_csv(entries, fields))


def iter_json(entries: Iterable[Entry], *, cursor: int | None, now: datetime | None = None) -> Iterator[bytes]:
    """`{"generated_at", "entries": [...], "cursor"}`. The cursor is the last entry's seq, or the one asked from
    when nothing changed, so a consumer always keeps the value to ask from next time (null: a full feed that is
    empty). It comes last because it is only known once the entries are written. ASCII-only output: every
    non-ASCII character is escaped, so no U+2028 or invalid UTF-8 reaches a naive parser."""
    generated = iso(now or datetime.now(UTC))
    yield b'{"generated_at": ' + json.dumps(generated).encode() + b', "entries": ['
    last = cursor
    for n, entry in enumerate(entries):
        yield (b",\n" if n else b"\n") + json.dumps(record(entry)).encode()
        last = entry.seq if last is None else max(last, entry.seq)
    yield b'\n], "cursor": ' + json.dumps(last).encode() + b"}\n"


def to_json(entries: Iterable[Entry], *, cursor: int | None, now: datetime | None = None) -> bytes:
    return b"".join(iter_json(entries, cursor=cursor, now=now))
