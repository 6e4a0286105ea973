"""Statistics as CSV, for the API's export and `signalement stats`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

HEADER = ["bucket", "dimension", "value", "verified", "reports", "weight", "sent", "rate"]


class CsvRow(Protocol):
    @property
    def bucket(self) -> datetime | None: ...
    @property
    def value(self) -> str: ...
    @property
    def verified(self) -> bool: ...
    @property
    def reports(self) -> int: ...
    @property
    def weight(self) -> float: ...


def to_csv(dimension: str, rows: Iterable[CsvRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        sent, rate = getattr(r, "sent", None), getattr(r, "rate", None)
        writer.writerow([
            r.bucket.isoformat() if r.bucket else "", dimension, cell(r.value), r.verified, r.reports,
            round(r.weight, 6), "" if sent is None else sent, "" if rate is None else f"{rate:.6g}",
        ])  # fmt: skip
    return buffer.getvalue()


def cell(text: str) -> str:
    """A value a spreadsheet would run as a formula is quoted (CSV injection: values come from senders)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
