"""Mail on disk: files, folders, Maildir and mbox, one message at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalement.ingest.mailfiles import sources

ONE = b"From: a@example.com\nSubject: one\n\nFrom the start of a line\n"
TWO = b"From: b@example.com\nSubject: two\n\nbody\n"


def _mbox(*messages: bytes) -> bytes:
    out = b""
    for message in messages:
        quoted = message.replace(b"\nFrom ", b"\n>From ")
        out += b"From sender@example.com Fri Nov 27 05:00:00 2026\n" + quoted + b"\n"
    return out


def test_mbox_messages_are_numbered_from_zero_and_unquoted(tmp_path: Path) -> None:
    box = tmp_path / "inbox.mbox"
    box.write_bytes(_mbox(ONE, TWO))
    found = list(sources([box]))
    assert [s.name for s in found] == [f"{box}#0", f"{box}#1"]
    assert found[0].read().rstrip(b"\n") == ONE.rstrip(b"\n")
    assert found[1].read().rstrip(b"\n") == TWO.rstrip(b"\n")


def test_an_mbox_is_recognized_by_content_without_a_suffix(tmp_path: Path) -> None:
    box = tmp_path / "Inbox"
    box.write_bytes(_mbox(ONE))
    assert [s.name for s in sources([box])] == [f"{box}#0"]


def test_folders_are_walked_recursively_in_order_with_maildir(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.eml").write_bytes(ONE)
    (tmp_path / "a.eml").write_bytes(TWO)
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / ".hidden.eml").write_bytes(ONE)
    maildir = tmp_path / "Maildir" / "cur"
    maildir.mkdir(parents=True)
    (maildir / "1700000000.M1P1.host:2,S").write_bytes(ONE)
    names = [Path(s.name).relative_to(tmp_path).as_posix() for s in sources([tmp_path])]
    assert names == ["a.eml", "Maildir/cur/1700000000.M1P1.host:2,S", "b/x.eml"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(sources([tmp_path / "nope.eml"]))
