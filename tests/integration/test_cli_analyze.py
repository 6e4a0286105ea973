"""`signalement analyze` and `signalement url` as a user runs them: real processes, files on disk, no database."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.mailgen import messages

from tests.integration.test_cli import run


def _mbox(*raws: bytes) -> bytes:
    return b"".join(b"From x@example.com Fri Nov 27 05:00:00 2026\n" + r.replace(b"\r\n", b"\n") + b"\n" for r in raws)


def test_analyze_reads_files_folders_and_mboxes_in_order(tmp_path: Path) -> None:
    raws = list(messages(5, seed=11))
    folder = tmp_path / "mail"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.eml").write_bytes(raws[0])
    (folder / "sub" / "b.eml").write_bytes(raws[1])
    box = tmp_path / "box.mbox"
    box.write_bytes(_mbox(*raws[2:]))

    result = run(tmp_path, "analyze", str(folder), str(box), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in lines] == [
        str(folder / "a.eml"),
        str(folder / "sub" / "b.eml"),
        f"{box}#0",
        f"{box}#1",
        f"{box}#2",
    ]
    for line in lines:
        assert {"origin", "sender", "authentication", "urls", "phones", "attachments", "fingerprint", "defects"} <= set(
            line
        )
        assert line["urls"], line["source"]
    assert not (tmp_path / "signalement.db").exists()  # no database was touched


def test_jobs_give_the_same_results_in_the_same_order(tmp_path: Path) -> None:
    for i, raw in enumerate(messages(40, seed=12)):
        (tmp_path / f"{i:03d}.eml").write_bytes(raw)
    one = run(tmp_path, "analyze", str(tmp_path), "--jobs", "1")
    two = run(tmp_path, "analyze", str(tmp_path), "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 40


def test_table_format_has_a_heading_and_a_row_per_message(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(next(messages(1, seed=13)))
    (tmp_path / "garbage.eml").write_bytes(b"\x00\x01 not a message at all")
    result = run(tmp_path, "analyze", str(tmp_path), "--format", "table")
    assert result.returncode == 0, result.stderr
    heading, *rows = result.stdout.splitlines()
    assert heading.split()[:3] == ["SOURCE", "CATEGORY", "SCORE"]
    assert len(rows) == 2
    assert all(row.split()[1] in {"phishing", "malware", "scam", "spam", "legitimate"} for row in rows)


def test_the_verdict_is_in_each_document(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(next(messages(1, seed=14)))
    result = run(tmp_path, "analyze", str(tmp_path / "m.eml"))
    document = json.loads(result.stdout)
    assert document["category"] in {"phishing", "malware", "scam", "spam", "legitimate"}
    assert 0 <= document["score"] <= 1
    assert isinstance(document["reasons"], list) and isinstance(document["brands"], list)


def test_rules_lists_every_rule_with_its_weights(tmp_path: Path) -> None:
    result = run(tmp_path, "rules")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("lookalike-domain") and "phishing" in line for line in result.stdout.splitlines())


def test_url_canonicalize_and_expressions(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "url",
        "canonicalize",
        "HTTP://www.GOOgle.com/",
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://",
        "http://3279880203/blah",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == [
        "http://www.google.com/",
        "http://168.188.99.26/.secure/www.ebay.com/",
        "",
        "http://195.127.0.11/blah",
        "",
    ]
    expressions = run(tmp_path, "url", "expressions", "http://a.b.c/1/2.html?param=1")
    assert expressions.stdout.splitlines() == [
        "a.b.c/1/2.html?param=1",
        "a.b.c/1/2.html",
        "a.b.c/",
        "a.b.c/1/",
        "b.c/1/2.html?param=1",
        "b.c/1/2.html",
        "b.c/",
        "b.c/1/",
    ]
