"""CSV and JSON URL feeds, read back with the csv and json modules."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from signalement.feeds.entry import UrlEntry
from signalement.feeds.tabular import FIELDS, iter_csv, iter_json, to_csv, to_json
from tests.unit.feeds.factory import HOSTILE_URL, LONG_URL, NOW, entry, levels


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def test_csv_has_a_header_and_one_row_per_entry() -> None:
    data = to_csv(levels())
    assert data.startswith(",".join(FIELDS).encode() + b"\r\n")
    rows = read_csv(data)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[1]["listed"] == "http://site.example/wp/kit/"
    assert rows[1]["level"] == "prefix"
    assert rows[1]["tlp"] == "amber"
    assert rows[3]["tlp"] == "amber+strict"
    assert rows[0]["first_seen"] == "2024-05-01T08:30:00Z"
    assert rows[0]["last_seen"] == "2024-05-02T09:00:00Z"
    assert rows[0]["tags"] == "phishing,credential-form"
    assert rows[0]["withdrawn"] == "false"
    assert rows[0]["reports"] == "5"
    assert rows[0]["campaigns"] == "cmp-00000000000a"
    assert not any(line.startswith(b"#") for line in data.splitlines())


def test_csv_withdrawal_is_marked() -> None:
    rows = read_csv(to_csv([entry(1, withdrawn=True)]))
    assert rows[0]["withdrawn"] == "true"


@pytest.mark.parametrize("url", [HOSTILE_URL, LONG_URL, "http://a.example/line\r\nbreak", "http://δ.example/ü"])
def test_csv_hostile_values_round_trip(url: str) -> None:
    rows = read_csv(to_csv([entry(1, url=url, brand='Bank "quoted", \\ and\nnewline'), entry(2)]))
    assert len(rows) == 2
    assert rows[0]["url"] == url
    assert rows[0]["brand"] == 'Bank "quoted", \\ and\nnewline'
    assert rows[1]["id"] == "2"


def test_csv_formulas_are_quoted() -> None:
    rows = read_csv(to_csv([entry(1, brand='=HYPERLINK("http://x")', listed="@SUM(1)", tags=("-1+1",))]))
    assert rows[0]["brand"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["listed"] == "'@SUM(1)"
    assert rows[0]["tags"] == "'-1+1"


def test_csv_is_written_row_by_row() -> None:
    def entries() -> Iterator[UrlEntry]:
        yield entry(1)
        raise RuntimeError("the writer asked for a second entry before giving the first row")

    chunks = iter_csv(entries())
    assert next(chunks).startswith(b"url,")
    assert next(chunks).startswith(b"http://phish1.example/login,")


def test_json_round_trip_with_cursor() -> None:
    doc = json.loads(to_json(levels(), cursor=50, now=NOW))
    assert doc["generated_at"] == "2024-06-01T00:00:00Z"
    assert doc["cursor"] == 104
    assert [e["id"] for e in doc["entries"]] == [1, 2, 3, 4]
    first = doc["entries"][0]
    assert list(first) == FIELDS
    assert first["tags"] == ["phishing", "credential-form"]
    assert first["withdrawn"] is False
    assert first["brand"] == "Bank"
    assert first["campaigns"] == ["cmp-00000000000a"]


def test_json_empty_increment_keeps_the_cursor() -> None:
    assert json.loads(to_json([], cursor=42, now=NOW))["cursor"] == 42
    full = json.loads(to_json([], cursor=None, now=NOW))
    assert full["cursor"] is None
    assert full["entries"] == []


def test_json_withdrawal_and_no_brand() -> None:
    doc = json.loads(to_json([entry(1, withdrawn=True, brand=None)], cursor=None, now=NOW))
    assert doc["entries"][0]["withdrawn"] is True
    assert doc["entries"][0]["brand"] is None


@pytest.mark.parametrize("url", [HOSTILE_URL, LONG_URL, "http://a.example/\u2028x\n", "http://δ.example/ü"])
def test_json_hostile_values_round_trip_in_ascii(url: str) -> None:
    data = to_json([entry(1, url=url, brand="\"'\\\x00")], cursor=None, now=NOW)
    assert data.isascii()
    doc = json.loads(data)
    assert doc["entries"][0]["url"] == url
    assert doc["entries"][0]["brand"] == "\"'\\\x00"


def test_times_are_utc_whatever_they_came_in() -> None:
    paris = timezone(timedelta(hours=2))
    naive = datetime(2024, 5, 1, 8, 30)  # SQLite gives naive UTC back
    doc = json.loads(to_json([entry(1, first_seen=naive, last_seen=datetime(2024, 5, 2, 11, tzinfo=paris))],
                             cursor=None, now=NOW))  # fmt: skip
    assert doc["entries"][0]["first_seen"] == "2024-05-01T08:30:00Z"
    assert doc["entries"][0]["last_seen"] == "2024-05-02T09:00:00Z"


def test_json_is_written_row_by_row() -> None:
    chunks = list(iter_json([entry(1), entry(2)], cursor=None, now=NOW))
    assert len(chunks) == 4  # head, two entries, tail
